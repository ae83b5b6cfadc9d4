"""The ocseg checkpoint format (save_network ↔ load_network), safe reading with its allow-list
for the original's numpy values, the checks against a run, and eval/predict_offsets taking
model= and dataset= from the checkpoint."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from helpers.config import REPO, TINY, compose
from ocseg.checkpoints import load_checkpoint, load_network, read_checkpoint, save_network
from ocseg.checkpoints.identity import complete_from_checkpoint
from ocseg.errors import OcsegError

GENERATOR = [o for o in TINY if o.startswith("dataset.generator.")]


class Payload:
    """A class only unpickling can rebuild (what a malicious file would carry)."""

    def __init__(self, value: int) -> None:
        self.value = value


@pytest.fixture(autouse=True)
def _one_thread(single_thread):
    """Every test here runs on one intra-op thread (see conftest.single_thread)."""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A random tiny_fcn (varied BatchNorm statistics) saved with its run config."""
    cfg = compose("train", [*TINY, "model=tiny_fcn"])
    torch.manual_seed(0)
    net = instantiate(cfg.net).eval()
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_var.uniform_(0.05, 0.5)
    path = save_network(net, cfg, tmp_path_factory.mktemp("ckpt") / "tiny.ckpt")
    return net, cfg, path


def test_save_network_round_trip_rebuilds_from_the_file_alone(tiny, tmp_path):
    net, cfg, path = tiny
    raw = torch.load(path, map_location="cpu", weights_only=True)
    assert raw["global_step"] == 0 and "pytorch-lightning_version" in raw
    assert raw["ocseg_config"]["model"]["name"] == "tiny_fcn"
    assert raw["ocseg_config"]["net"]["num_classes"] == 19            # stored resolved
    loaded = load_network(path, fuse=False)                           # no run config needed
    assert loaded.kind == "lightning" and not loaded.net.training
    assert loaded.config.normalize.div == 255.0 and loaded.config.task.name == "segmentation"
    x = torch.randn(1, 3, 32, 64)
    with torch.no_grad():
        assert torch.equal(loaded.net(x)["out"], net(x)["out"])
    # a recipe's ImageNet file is not needed (nor read) where the checkpoint is used
    config = OmegaConf.to_container(cfg, resolve=True)
    config["net"]["backbone"]["pretrained"] = str(tmp_path / "missing_imagenet.pth")
    with torch.no_grad():
        moved = load_network(save_network(net, config, tmp_path / "recipe.ckpt"), fuse=False).net
        assert torch.equal(moved(x)["out"], net(x)["out"])
        # by default the inference copy (BatchNorm folded): the same outputs up to rounding
        fused = load_network(path).net
        torch.testing.assert_close(fused(x)["out"], net(x)["out"], rtol=1e-4, atol=1e-4)


def test_checks_against_the_run(tiny, tmp_path):
    _, _, path = tiny
    with pytest.raises(OcsegError, match=r"model tiny_fcn with 19 classes .* model=hrnet48_ocr"):
        load_network(path, cfg=compose("eval", ["model=hrnet48_ocr"]))
    with pytest.raises(OcsegError, match="not a SegFix model"):
        load_network(path, "segfix")
    with pytest.raises(OcsegError, match="class 0 is 'road', but dataset=folder calls it 'sky'"):
        load_network(path, cfg=compose("eval", ["model=tiny_fcn", "dataset=folder",
                                                "dataset.num_classes=19", "dataset.palette=null",
                                                f"dataset.class_names=[sky,{','.join('x' * 18)}]"]))
    segfix_cfg = compose("train", [*TINY, "model=segfix_hrnet2x20", "backbone=hrnet_tiny"])
    segfix = save_network(instantiate(segfix_cfg.net), segfix_cfg, tmp_path / "segfix.ckpt")
    with pytest.raises(OcsegError, match="SegFix model segfix_hrnet2x20 .* predict offsets with it"):
        load_network(segfix)
    assert load_network(segfix, "segfix").config.model.name == "segfix_hrnet2x20"
    pth = tmp_path / "original.pth"
    torch.save({"state_dict": {"cls_head.weight": torch.zeros(1)}}, pth)
    with pytest.raises(OcsegError, match="does not say which network .* pass model="):
        load_network(pth)


# -- safe reading -------------------------------------------------------------------------------
def _as_numpy1_file(src: Path, dst: Path) -> Path:
    """``src`` as numpy 1.x pickled it: scalars under ``numpy.core.multiarray``."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename.endswith("data.pkl"):
                data = data.replace(b"cnumpy._core.multiarray\nscalar", b"cnumpy.core.multiarray\nscalar")
            zout.writestr(info, data)
    return dst


def test_original_files_with_numpy_values_load_without_trust(tmp_path):
    """The original's config_dict holds numpy floats (its 'performance'); any era of pickling."""
    content = {"config_dict": {"performance": np.float64(0.8), "iters": 5, "dtype": np.dtype("f4")},
               "state_dict": {"module.cls.weight": torch.ones(2)}}
    zipped, legacy = tmp_path / "new.pth", tmp_path / "legacy.pth"
    torch.save(content, zipped, pickle_protocol=2)
    torch.save(content, legacy, _use_new_zipfile_serialization=False)
    old = _as_numpy1_file(zipped, tmp_path / "numpy1.pth")
    assert b"numpy.core.multiarray" in zipfile.ZipFile(old).read("new/data.pkl")
    for path in (zipped, legacy, old):
        obj = read_checkpoint(path)
        assert obj["config_dict"]["performance"] == 0.8
        assert torch.equal(obj["state_dict"]["module.cls.weight"], torch.ones(2))


def test_a_file_that_needs_unpickling_is_refused_unless_trusted(tmp_path):
    path = tmp_path / "payload.pth"
    torch.save({"state_dict": {}, "config_dict": {"hook": Payload(3)}}, path)
    with pytest.raises(OcsegError, match=r"would import .*Payload.*trust_checkpoint=true") as error:
        read_checkpoint(path)
    assert "\n" not in str(error.value)
    assert read_checkpoint(path, trust=True)["config_dict"]["hook"].value == 3
    net = torch.nn.Linear(1, 1)
    with pytest.raises(OcsegError, match="trust_checkpoint=true"):
        load_checkpoint(net, path)


# -- eval / predict_offsets take model= and dataset= from the checkpoint -----------------------------
def test_command_line_is_completed_from_an_ocseg_checkpoint(tiny, tmp_path):
    _, _, path = tiny
    base = [f"ckpt_path={path}", "dataset.root=/data/x"]
    assert complete_from_checkpoint(base)[0] == base + ["model=tiny_fcn", "dataset=synthetic_city"]
    given = base + ["model=r101_ocr"]
    assert complete_from_checkpoint(given)[0] == given + ["dataset=synthetic_city"]
    for unchanged in (base + ["experiment=segfix_synthetic"],
                      [f"ckpt_path={path},{path}"], [f"ckpt_path={tmp_path / 'missing.ckpt'}"]):
        assert complete_from_checkpoint(unchanged)[0] == unchanged
    pth = tmp_path / "original.pth"
    torch.save({"state_dict": {"cls_head.weight": torch.zeros(1)}}, pth)
    assert complete_from_checkpoint([f"ckpt_path={pth}"])[0] == [f"ckpt_path={pth}"]


def _run(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    return subprocess.run([sys.executable, str(REPO / script), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_eval_needs_no_model_or_dataset_for_an_ocseg_checkpoint(tiny, tmp_path, synthetic_root):
    _, _, path = tiny
    out = tmp_path / "out"
    common = [f"ckpt_path={path}", f"dataset.root={synthetic_root}", f"paths.log_dir={tmp_path}",
              "data.num_workers=0", "trainer.enable_progress_bar=false", *GENERATOR]
    proc = _run("eval.py", *common, f"output_dir={out}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(list((out / "label").glob("*.png"))) == 4
    overrides = next(tmp_path.glob("eval/runs/*/.hydra/overrides.yaml")).read_text()
    assert "model=tiny_fcn" in overrides and "dataset=synthetic_city" in overrides
    wrong = _run("eval.py", *common, "model=hrnet48_ocr", f"output_dir={tmp_path / 'wrong'}", cwd=tmp_path)
    errors = [line for line in wrong.stderr.splitlines() if line.startswith("error:")]
    assert wrong.returncode == 2 and len(errors) == 1 and "model=hrnet48_ocr" in errors[0]
    assert "Traceback" not in wrong.stderr and not (tmp_path / "wrong" / "label").exists()


def _count_reads(monkeypatch) -> list[str]:
    reads: list[str] = []
    load = torch.load

    def counting(f, *args, **kwargs):
        reads.append(str(f))
        return load(f, *args, **kwargs)

    monkeypatch.setattr(torch, "load", counting)
    return reads


def test_eval_and_ocseg_load_read_the_checkpoint_once(tiny, tmp_path, synthetic_root, monkeypatch):
    """eval.py's command-line completion hands the file it read to the task (as ``hydra_app``
    does); ``ocseg.load`` reads once for the facts and the weights."""
    import ocseg
    from ocseg.tasks.evaluate import evaluate

    _, _, path = tiny
    reads = _count_reads(monkeypatch)
    args, extra = complete_from_checkpoint([
        f"ckpt_path={path}", f"dataset.root={synthetic_root}", f"output_dir={tmp_path / 'out'}",
        f"paths.output_dir={tmp_path}", "data.num_workers=0", "trainer.enable_progress_bar=false", *GENERATOR])
    assert reads == [str(path)] and extra["checkpoint"].content_for(path) is not None
    assert extra["checkpoint"].content_for(tmp_path / "other.ckpt") is None
    metrics = evaluate(compose("eval", args), **extra)
    assert metrics["num_images"] == 4 and reads == [str(path)]
    reads.clear()
    segmenter = ocseg.load(path)
    assert reads == [str(path)] and segmenter.task == "segmentation"
