"""ocseg as users install it: the wheel carries the configuration, works outside the checkout and
brings the console scripts; every tool answers --help with its groups and examples; a checkpoint
evaluates without model= and ocseg.load(...).predict gives eval's label files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.checkpoints import make_checkpoint
from helpers.config import GENERATOR, REPO

TOOLS = ["ocseg-train", "ocseg-eval", "ocseg-predict-offsets", "ocseg-refine", "ocseg-prepare",
         "ocseg-segfix-gt", "ocseg-export"]
SHIMS = {"train.py": "ocseg-train", "eval.py": "ocseg-eval",
         "predict_offsets.py": "ocseg-predict-offsets", "refine.py": "ocseg-refine", "export.py": "ocseg-export"}


def _run(args: list[str], cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(pythonpath))
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


# runs a shim as `python <shim> <args>` would, then says which heavy libraries were imported
_HEAVY_AFTER = ("import runpy, sys\nsys.argv = [{script!r}, *{args!r}]\ntry:\n"
                "    runpy.run_path({script!r}, run_name='__main__')\nfinally:\n"
                "    print('heavy:', sorted(m for m in ('torch', 'lightning') if m in sys.modules), "
                "file=sys.stderr)\n")


@pytest.mark.parametrize("script,tool", sorted(SHIMS.items()))
def test_help_shows_the_groups_and_examples(script, tool, tmp_path):
    code = _HEAVY_AFTER.format(script=str(REPO / script), args=["--help"])
    proc = _run([sys.executable, "-c", code], tmp_path, REPO / "src")
    assert proc.returncode == 0, proc.stderr
    assert "heavy: []" in proc.stderr  # --help answers without importing torch or Lightning
    assert proc.stdout.startswith(tool)
    assert "dataset: " in proc.stdout and "synthetic_city" in proc.stdout  # its groups
    assert "Options (key=value" in proc.stdout                            # its own keys
    examples = proc.stdout.split("Examples:")[1].splitlines()
    assert sum(line.strip().startswith(tool) for line in examples) == 3
    assert not list(tmp_path.iterdir())  # --help writes no run folder


@pytest.mark.parametrize("script", ["eval.py", "train.py"])
def test_hydra_help_ignores_the_tools_keys_and_reads_no_checkpoint(script, tmp_path):
    """Hydra's --hydra-help composes only Hydra's own config (a tool's key would stop it with a
    traceback); eval completes model=/dataset= from ckpt_path= (torch.load) but not for it."""
    (tmp_path / "run.ckpt").write_bytes(b"not read")
    args = ["--hydra-help", f"ckpt_path={tmp_path / 'run.ckpt'}", "+extra=1", "hydra.job.chdir=false"]
    proc = _run([sys.executable, "-c", _HEAVY_AFTER.format(script=str(REPO / script), args=args)],
                tmp_path, REPO / "src")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Hydra (") and "Traceback" not in proc.stderr
    assert "heavy: []" in proc.stderr


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The wheel of this checkout installed into a folder of its own (no editable links)."""
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                            "-q", "-w", str(out / "dist"), str(REPO)], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-3000:]
    wheel = next((out / "dist").glob("ocseg-*.whl"))
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                              str(out / "site"), str(wheel)], capture_output=True, text=True)
    assert install.returncode == 0, install.stderr[-3000:]
    return out / "site"


@pytest.mark.slow
def test_wheel_works_outside_the_checkout(installed, tmp_path):
    code = ("import ocseg, pathlib; "
            "net = ocseg.build_model('hrnet48_ocr', 19); "
            "print(pathlib.Path(ocseg.__file__).parent); "
            "print(sum(p.numel() for p in net.parameters()))")
    proc = _run([sys.executable, "-c", code], tmp_path, installed)
    assert proc.returncode == 0, proc.stderr[-3000:]
    location, params = proc.stdout.split()
    assert Path(location) == installed / "ocseg"       # not the checkout's sources
    assert int(params) == 74_522_182                   # the original's HRNet-W48+OCR
    assert (installed / "ocseg" / "conf" / "experiment").is_dir()
    for tool in TOOLS:
        script = installed / "bin" / tool
        help_ = _run([sys.executable, str(script), "--help"], tmp_path, installed)
        assert help_.returncode == 0 and help_.stdout.startswith(tool), help_.stderr[-2000:]


@pytest.mark.slow
def test_wheel_loads_a_checkpoint_and_predicts_what_eval_writes(installed, tmp_path, synthetic_root):
    """ocseg-eval needs no model= for an ocseg checkpoint, and ocseg.load(...).predict(path)
    gives its label PNGs, both from the installed wheel."""
    ckpt = make_checkpoint(tmp_path / "tiny.ckpt")
    out = tmp_path / "eval"
    proc = _run([sys.executable, str(installed / "bin" / "ocseg-eval"), f"ckpt_path={ckpt}",
                 f"dataset.root={synthetic_root}", f"output_dir={out}", f"paths.log_dir={tmp_path}",
                 "data.num_workers=0", "trainer.enable_progress_bar=false", *GENERATOR], tmp_path, installed)
    assert proc.returncode == 0, proc.stderr[-3000:]
    code = ("import sys, pathlib, cv2, numpy as np, ocseg; seg = ocseg.load(sys.argv[1]); "
            "labels = sorted(pathlib.Path(sys.argv[2]).glob('label/*.png')); "
            "images = {p.name: p for p in pathlib.Path(sys.argv[3]).glob('leftImg8bit/val/*/*.png')}; "
            "print(len(labels), all(np.array_equal(seg.predict(images[p.name]), "
            "cv2.imread(str(p), cv2.IMREAD_UNCHANGED)) for p in labels))")
    proc = _run([sys.executable, "-c", code, str(ckpt), str(out), str(synthetic_root)], tmp_path, installed)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == ["4", "True"]


@pytest.mark.slow
def test_wheel_exports_and_predicts_on_onnx_runtime(installed, tmp_path, synthetic_root):
    """ocseg-export of an ocseg checkpoint, then ocseg.load("<file>.onnx").predict(image), both
    from the installed wheel."""
    pytest.importorskip("onnxruntime")
    ckpt = make_checkpoint(tmp_path / "tiny.ckpt")
    proc = _run([sys.executable, str(installed / "bin" / "ocseg-export"), f"ckpt_path={ckpt}",
                 f"output={tmp_path / 'tiny.onnx'}", "exporter=torchscript", f"paths.log_dir={tmp_path}",
                 *GENERATOR], tmp_path, installed)
    assert proc.returncode == 0, proc.stderr[-3000:]
    code = ("import sys, pathlib, ocseg; seg = ocseg.load(sys.argv[1]); "
            "image = next(pathlib.Path(sys.argv[2]).glob('leftImg8bit/val/*/*.png')); "
            "labels = seg.predict(image); print(type(seg.model).__name__, labels.shape, len(seg.class_names))")
    proc = _run([sys.executable, "-c", code, str(tmp_path / "tiny.onnx"), str(synthetic_root)], tmp_path, installed)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == ["OnnxNetwork", "(64,", "128)", "19"]
