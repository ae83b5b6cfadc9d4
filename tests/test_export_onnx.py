"""``ocseg-export`` / ``ocseg.export`` and ``ocseg.load("<file>.onnx")``: every zoo model exports
with ONNX Runtime's outputs within 1e-4 (relative) of torch's, the worked examples of the original
come out of the exported graphs, predictions through ONNX Runtime equal ``eval.py``'s label files,
and the metadata carries what a predictor needs (and nothing that could build other objects)."""

from __future__ import annotations

import json
import sys

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

import ocseg
from helpers.checkpoints import make_checkpoint
from helpers.config import GENERATOR, compose, eval_cfg
from helpers.models import MODELS, small
from helpers.openseg_reference import FIXTURES
from ocseg.errors import OcsegError

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

RELATIVE = 1e-4      # the bound: |onnx − torch| ≤ 1e-4 · max|torch|


@pytest.fixture(autouse=True)
def _one_thread(single_thread):
    """Every test here runs on one intra-op thread (see conftest.single_thread)."""


def _network_config(name: str, backbone: str):
    return compose("network", [f"model={name}", "dataset=synthetic_city", f"backbone={backbone}"])


def _onnx_outputs(path, x: torch.Tensor) -> dict[str, np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, {"image": x.numpy()})))


def _relative(got: np.ndarray, ref: torch.Tensor) -> float:
    ref = ref.detach().float().numpy()
    return float(np.abs(got - ref).max() / np.abs(ref).max())


@pytest.mark.parametrize("name", MODELS)
def test_every_model_exports_within_1e4_of_torch(tmp_path, name):
    """Each model with a small backbone of its family, exported (TorchScript exporter: seconds per
    model) and run on ONNX Runtime against the eager, unfused network."""
    backbone = "r18" if name.startswith("r101") else "hrnet_tiny"
    torch.manual_seed(0)
    net = small(name, 19).eval()
    result = ocseg.export(net, tmp_path / f"{name}.onnx", config=_network_config(name, backbone),
                          exporter="torchscript", height=64, width=96)
    x = torch.randn(1, 3, 64, 96, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = net(x)
    got = _onnx_outputs(result.path, x)
    assert set(got) == set(result.outputs) == ({"mask", "direction"} if "segfix" in name else {"out"})
    for key, value in got.items():
        assert value.shape == tuple(expected[key].shape)
        assert _relative(value, expected[key]) <= RELATIVE, key


@pytest.mark.slow
@pytest.mark.parametrize("stem,model,outputs", [
    ("hrnet_w48_ocr", "hrnet48_ocr", {"out": "head1_cls_head_lowres"}),
    ("spatial_ocrnet", "r101_ocr", {"out": "head1_head_lowres"}),
    ("segfix_hrnet2x20", "segfix_hrnet2x20", {"mask": "out0_mask", "direction": "out1_direction"}),
])
def test_worked_examples_of_the_original_through_onnx(tmp_path, stem, model, outputs):
    """The full-size networks with the worked examples' seeded weights (an original-format
    checkpoint, loaded by ocseg.load as a user would) exported and run on ONNX Runtime: within
    1e-4 of torch, and within the fixtures' 5e-4 of the original's own outputs."""
    sys.path.insert(0, str(FIXTURES))
    import seeded_weights

    path = tmp_path / f"{stem}_1_latest.pth"
    seeded_weights.save_checkpoint(str(path), seeded_weights.load_entries(str(FIXTURES / f"{stem}.keys.json.gz")))
    seg = ocseg.load(path, model=model, dataset="cityscapes")
    example = np.load(FIXTURES / f"{stem}.io.npz")
    x = torch.from_numpy(example["input"])
    result = ocseg.export(seg, tmp_path / f"{model}.onnx", exporter="torchscript", height=x.shape[2],
                          width=x.shape[3])
    got = _onnx_outputs(result.path, x)
    with torch.no_grad():
        torch_outputs = seg.model(x)
    for key, ref_name in outputs.items():
        assert _relative(got[key], torch_outputs[key]) <= RELATIVE, key
        ref = example[ref_name]
        assert np.abs(got[key] - ref).max() <= 5e-4 * np.abs(ref).max(), key


@pytest.mark.slow
@pytest.mark.parametrize("name,dynamic", [("hrnet48_ocr", False), ("r101_base_oc", True)])
def test_the_dynamo_exporter_takes_ocr_and_self_attention(tmp_path, name, dynamic):
    """torch.export (the default exporter) on OCR's pixel→region attention and on OCNet's
    pixel→pixel attention with any input size (verified at two sizes by the export, checked at a
    third here). A dynamic HRNet takes minutes to export on two cores: OCR runs at a fixed size."""
    backbone = "r18" if name.startswith("r101") else "hrnet_tiny"
    torch.manual_seed(0)
    net = small(name, 19).eval()
    result = ocseg.export(net, tmp_path / f"{name}.onnx", config=_network_config(name, backbone),
                          dynamic=dynamic, height=64, width=64)
    assert result.exporter == "dynamo" and (result.size is None) == dynamic
    assert all(v <= RELATIVE for v in result.differences.values())
    x = torch.randn(1, 3, 72, 136) if dynamic else torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert _relative(_onnx_outputs(result.path, x)["out"], net(x)["out"]) <= RELATIVE


# -- the tiny checkpoint: export.py, then ocseg.load("<file>.onnx") ------------------------------
@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return make_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.ckpt")


def _export(ckpt, out, *overrides):
    from ocseg.tasks.export import export

    cfg = compose("export", [f"ckpt_path={ckpt}", f"output={out}", "model=tiny_fcn", "exporter=torchscript",
                             *GENERATOR, *overrides])
    return export(cfg)


def test_onnx_predictions_equal_the_label_files_of_eval(ckpt, synthetic_root, tmp_path):
    from ocseg.tasks.evaluate import evaluate

    out = tmp_path / "eval"
    evaluate(eval_cfg(synthetic_root, ckpt, out))
    summary = _export(ckpt, tmp_path / "tiny.onnx", "dynamic=true")
    assert summary["size"] is None and summary["differences"]["out"] <= RELATIVE
    seg = ocseg.load(tmp_path / "tiny.onnx")
    assert seg.task == "segmentation" and seg.class_names[:2] == ["road", "sidewalk"]
    images = sorted((synthetic_root / "leftImg8bit" / "val").glob("*/*.png"))
    same = total = 0
    for image in images:
        written = cv2.imread(str(out / "label" / image.name), cv2.IMREAD_UNCHANGED)
        labels = seg.predict(image)
        assert labels.dtype == written.dtype and labels.shape == written.shape
        same, total = same + int((labels == written).sum()), total + labels.size
        color = np.array(Image.open(out / "color" / image.name).convert("RGB"))
        assert np.array_equal(seg.colorize(written), color)
    assert same >= 0.999 * total
    with pytest.raises(OcsegError, match="not SegFix"):
        seg.predict_offsets(images[0])
    with pytest.raises(OcsegError, match="leave out model"):
        ocseg.load(tmp_path / "tiny.onnx", model="tiny_fcn")


def test_the_file_carries_what_a_predictor_needs(ckpt, tmp_path):
    _export(ckpt, tmp_path / "fixed.onnx", "height=64", "width=128")
    model = onnx.load(str(tmp_path / "fixed.onnx"))
    meta = json.loads({p.key: p.value for p in model.metadata_props}["ocseg"])
    assert meta["input"] == {"name": "image", "layout": "NCHW", "dtype": "float32", "normalized": True,
                             "height": 64, "width": 128}
    assert meta["outputs"] == {"names": ["out"], "stride": 4}
    assert (meta["task"], meta["model"], meta["ignore_index"]) == ("segmentation", "tiny_fcn", 255)
    assert meta["classes"][:3] == ["road", "sidewalk", "building"] and len(meta["palette"]) == 19
    assert meta["label_ids"][:3] == [7, 8, 11]                      # Cityscapes label ids
    assert meta["normalize"] == {"channel_order": "bgr", "div": 255.0, "mean": [0.485, 0.456, 0.406],
                                 "std": [0.229, 0.224, 0.225]}
    assert [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim] == [1, 3, 64, 128]
    # a fixed-size file takes other sizes in windows of its own size
    seg = ocseg.load(tmp_path / "fixed.onnx")
    image = (np.random.RandomState(0).rand(80, 200, 3) * 255).astype(np.uint8)
    assert seg.predict(image).shape == (80, 200)


def test_segfix_offsets_through_onnx(tmp_path, synthetic_root):
    ckpt = make_checkpoint(tmp_path / "segfix.ckpt", kind="segfix")
    from ocseg.tasks.export import export

    export(compose("export", [f"ckpt_path={ckpt}", f"output={tmp_path / 'segfix.onnx'}", "model=segfix_hrnet2x20",
                              "exporter=torchscript", "dynamic=true", *GENERATOR]))
    torch_seg, onnx_seg = ocseg.load(ckpt), ocseg.load(tmp_path / "segfix.onnx")
    image = next((synthetic_root / "leftImg8bit" / "val").glob("*/*.png"))
    expected, got = torch_seg.predict_offsets(image), onnx_seg.predict_offsets(image)
    assert got.dtype == expected.dtype and expected.any()
    assert (got == expected).all(axis=-1).mean() >= 0.999
    with pytest.raises(OcsegError, match="predict_offsets"):
        onnx_seg.predict(image)


def test_files_without_ocseg_metadata_or_with_other_classes_are_refused(ckpt, tmp_path):
    _export(ckpt, tmp_path / "good.onnx", "height=64", "width=64")
    model = onnx.load(str(tmp_path / "good.onnx"))
    meta = json.loads(model.metadata_props[0].value)
    del model.metadata_props[:]
    onnx.save(model, str(tmp_path / "bare.onnx"))
    with pytest.raises(OcsegError, match="has no ocseg metadata"):
        ocseg.load(tmp_path / "bare.onnx")
    meta["config"]["normalize"]["_target_"] = "os.system"
    entry = model.metadata_props.add()
    entry.key, entry.value = "ocseg", json.dumps(meta)
    onnx.save(model, str(tmp_path / "evil.onnx"))
    with pytest.raises(OcsegError, match="names os.system, which ocseg does not build"):
        ocseg.load(tmp_path / "evil.onnx")
    (tmp_path / "cut.onnx").write_bytes((tmp_path / "good.onnx").read_bytes()[:5000])
    with pytest.raises(OcsegError, match="cannot be opened by ONNX Runtime"):
        ocseg.load(tmp_path / "cut.onnx")


def test_bad_export_options_write_nothing(ckpt, tmp_path):
    with pytest.raises(OcsegError, match="must end in .onnx"):
        _export(ckpt, tmp_path / "model.txt")
    with pytest.raises(OcsegError, match="pass both height= and width="):
        _export(ckpt, tmp_path / "model.onnx", "height=64")
    with pytest.raises(OcsegError, match="exporter='tensorrt'"):
        _export(ckpt, tmp_path / "model.onnx", "exporter=tensorrt")
    assert list(tmp_path.iterdir()) == []
