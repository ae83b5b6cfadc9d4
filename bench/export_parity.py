"""How close an exported network's outputs on ONNX Runtime come to torch's: every model, and the
original's worked examples (docs/export.md, "Parity").

    python bench/export_parity.py                         # every model, small backbones, both exporters
    python bench/export_parity.py --worked-examples       # + the three full-size worked examples (minutes)
    python bench/export_parity.py --exporters torchscript --models hrnet48_ocr,r101_isa

Every model is built with a small backbone of its family (ResNet-18 for the ResNet-101 models,
the 4-branch test HRNet for the HRNet ones; the heads unchanged) and random weights, exported with
``ocseg.export`` at 1×3×64×96 and run on ONNX Runtime; the figure is the largest |onnx − torch|
over each output, relative to torch's largest value, against the eager unfused network.
``--worked-examples`` loads the original-format checkpoints of ``tests/fixtures/openseg``
(seeded weights, the full networks) as a user loads a released file, exports them at the
examples' 1×3×128×256 and compares with torch and with the outputs the original computed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "openseg"
WORKED = {"hrnet48_ocr": ("hrnet_w48_ocr", {"out": "head1_cls_head_lowres"}),
          "r101_ocr": ("spatial_ocrnet", {"out": "head1_head_lowres"}),
          "segfix_hrnet2x20": ("segfix_hrnet2x20", {"mask": "out0_mask", "direction": "out1_direction"})}


def relative(got: np.ndarray, ref) -> float:
    ref = ref.detach().float().numpy() if isinstance(ref, torch.Tensor) else np.asarray(ref)
    return float(np.abs(got - ref).max() / np.abs(ref).max())


def run_onnx(path: Path, x: torch.Tensor) -> dict[str, np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, {"image": x.numpy()})))


def model_parity(name: str, exporter: str, folder: Path) -> dict:
    import ocseg
    from ocseg.config import compose
    from ocseg.models import build_model

    backbone = "r18" if name.startswith("r101") else "hrnet_tiny"
    torch.manual_seed(0)
    net = build_model(name, 19, backbone=backbone).eval()
    config = compose("network", [f"model={name}", "dataset=cityscapes", f"backbone={backbone}"])
    result = ocseg.export(net, folder / f"{name}-{exporter}.onnx", config=config, exporter=exporter,
                          height=64, width=96)
    x = torch.randn(1, 3, 64, 96, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = net(x)
    got = run_onnx(result.path, x)
    return {"model": name, "backbone": backbone, "exporter": exporter,
            "vs_torch": {key: relative(value, expected[key]) for key, value in got.items()}}


def worked_example(model: str, folder: Path) -> dict:
    import ocseg

    sys.path.insert(0, str(FIXTURES))
    import seeded_weights

    stem, outputs = WORKED[model]
    path = folder / f"{stem}_1_latest.pth"
    seeded_weights.save_checkpoint(str(path), seeded_weights.load_entries(str(FIXTURES / f"{stem}.keys.json.gz")))
    seg = ocseg.load(path, model=model, dataset="cityscapes")
    example = np.load(FIXTURES / f"{stem}.io.npz")
    x = torch.from_numpy(example["input"])
    result = ocseg.export(seg, folder / f"{model}.onnx", exporter="torchscript", height=x.shape[2], width=x.shape[3])
    got = run_onnx(result.path, x)
    with torch.no_grad():
        torch_outputs = seg.model(x)
    path.unlink()
    return {"model": model, "vs_torch": {k: relative(got[k], torch_outputs[k]) for k in outputs},
            "vs_original": {k: relative(got[k], example[ref]) for k, ref in outputs.items()}}


def main(argv: list[str] | None = None) -> dict:
    from ocseg.models.cards import CARDS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(CARDS))
    parser.add_argument("--exporters", default="torchscript,dynamo")
    parser.add_argument("--worked-examples", action="store_true")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rows, worked = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name in [m for m in args.models.split(",") if m]:
            for exporter in [e for e in args.exporters.split(",") if e]:
                rows.append(model_parity(name, exporter, Path(tmp)))
                diffs = ", ".join(f"{k} {v:.1e}" for k, v in rows[-1]["vs_torch"].items())
                print(f"{name:22s} {rows[-1]['backbone']:10s} {exporter:11s} {diffs}", flush=True)
        if args.worked_examples:
            for model in WORKED:
                worked.append(worked_example(model, Path(tmp)))
                print(f"{model:22s} worked example: vs torch " +
                      ", ".join(f"{k} {v:.1e}" for k, v in worked[-1]["vs_torch"].items()) + "; vs the original " +
                      ", ".join(f"{k} {v:.1e}" for k, v in worked[-1]["vs_original"].items()), flush=True)
    result = {"models": rows, "worked_examples": worked}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
