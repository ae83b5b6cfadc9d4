"""SegFix refinement: exact integer gather, instance warping, offset formats and archives,
file matching, errors, and the refine.py task with before/after scores."""

from __future__ import annotations

import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.io
from PIL import Image

from ocseg.errors import OcsegError
from ocseg.segfix.offsets.files import SparseOffsets, read_offsets, write_offsets
from ocseg.segfix.offsets.store import OffsetStore, match_key
from ocseg.segfix.refinement.folder import refine_folder
from ocseg.segfix.refinement.gather import refine_labels, refine_masks


def _random_offsets(rng, h, w, density=0.3):
    off = rng.randint(-1, 2, size=(h, w, 2)).astype(np.int64)
    off[rng.rand(h, w) > density] = 0
    return off


def _plain_gather(label, off, scale):
    h, w = label.shape[:2]
    out = np.empty_like(label)
    for y in range(h):
        for x in range(w):
            sy = min(max(y + scale * off[y, x, 0], 0), h - 1)
            sx = min(max(x + scale * off[y, x, 1], 0), w - 1)
            out[y, x] = label[sy, sx]
    return out


@pytest.mark.parametrize("scale", [1, 2, 3])
def test_semantic_equals_plain_gather_with_border_clamping(scale):
    rng = np.random.RandomState(scale)
    label = rng.randint(0, 40000, size=(13, 17)).astype(np.uint16)
    off = _random_offsets(rng, 13, 17, density=0.6)
    off[0, :, 0] = -1   # top row points up, past the border
    off[:, -1, 1] = 1   # last column points right, past the border
    got = refine_labels(label, SparseOffsets.from_dense(off), scale)
    np.testing.assert_array_equal(got, _plain_gather(label, off, scale))
    in_place = label.copy()  # every moved value is gathered before any is written
    assert refine_labels(in_place, SparseOffsets.from_dense(off), scale, in_place=True) is in_place
    np.testing.assert_array_equal(in_place, got)
    assert set(np.unique(got)) <= set(np.unique(label))  # moved, never blended or invented
    colour = np.stack([label % 256, label // 256, label % 7], axis=-1).astype(np.uint8)
    np.testing.assert_array_equal(refine_labels(colour, SparseOffsets.from_dense(off), scale),
                                  _plain_gather(colour, off, scale))


def test_instance_masks_warp_and_threshold():
    rng = np.random.RandomState(0)
    masks = (rng.rand(3, 9, 11) > 0.5).astype(np.uint8) * 255
    off = _random_offsets(rng, 9, 11)
    got = refine_masks(masks, SparseOffsets.from_dense(off), scale=1)
    assert got.dtype == np.uint8 and set(np.unique(got)) <= {0, 1}
    for mask, out in zip(masks, got):
        np.testing.assert_array_equal(out, _plain_gather((mask > 0).astype(np.uint8), off, 1))


def test_size_mismatch_is_a_clear_error():
    off = SparseOffsets.from_dense(np.zeros((4, 5, 2), np.int8))
    with pytest.raises(OcsegError, match=r"'a.png' is 6×4 but its offset map is 5×4"):
        refine_labels(np.zeros((4, 6), np.uint8), off, source="a.png")


def test_offset_formats_round_trip(tmp_path):
    rng = np.random.RandomState(1)
    off = _random_offsets(rng, 20, 30)
    for name in ("a.mat", "a.npz"):
        write_offsets(tmp_path / name, off)
        back = read_offsets(tmp_path / name)
        np.testing.assert_array_equal(back.dense(), off)
    mat = scipy.io.loadmat(tmp_path / "a.mat")["mat"]  # what the original script reads
    assert mat.shape == (20, 30, 2) and mat.dtype == np.int8
    # the original's own files: int64 (and float) 'mat' arrays
    scipy.io.savemat(tmp_path / "orig.mat", {"mat": off.astype(np.int64)})
    np.testing.assert_array_equal(read_offsets(tmp_path / "orig.mat").dense(), off)
    scipy.io.savemat(tmp_path / "float.mat", {"mat": off.astype(np.float32)})
    np.testing.assert_array_equal(read_offsets(tmp_path / "float.mat").dense(), off)


def test_offset_format_errors(tmp_path):
    scipy.io.savemat(tmp_path / "gt.mat", {"depth": np.zeros((2, 2), np.uint8)})
    with pytest.raises(OcsegError, match="no 'mat' entry"):
        read_offsets(tmp_path / "gt.mat")
    scipy.io.savemat(tmp_path / "frac.mat", {"mat": np.full((2, 2, 2), 0.5)})
    with pytest.raises(OcsegError, match="not integers"):
        read_offsets(tmp_path / "frac.mat")
    scipy.io.savemat(tmp_path / "shape.mat", {"mat": np.zeros((2, 2, 3), np.int8)})
    with pytest.raises(OcsegError, match=r"H×W×2"):
        read_offsets(tmp_path / "shape.mat")
    with pytest.raises(OcsegError, match="holds dh, dw"):
        write_offsets(tmp_path / "big.npz", np.full((2, 2, 2), 2, np.int8))
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(OcsegError, match="not an ocseg offset file"):  # no ocseg_offsets_v1
        read_offsets(tmp_path / "other.npz")


def test_match_keys_for_cityscapes_names():
    assert match_key("frankfurt_000000_000294_leftImg8bit") == "frankfurt_000000_000294"
    assert match_key("frankfurt_000000_000294_gtFine_labelIds") == "frankfurt_000000_000294"
    assert match_key("frankfurt_000000_000294_leftImg8bit_pred") == "frankfurt_000000_000294"
    assert match_key("my_image") == "my_image"


def _write_png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), array)


def test_refine_folder_from_original_archive_layout(tmp_path):
    rng = np.random.RandomState(2)
    labels = {f"c_00000{k}_000019": rng.randint(0, 34, (12, 16)).astype(np.uint8) for k in range(3)}
    offs = {k: _random_offsets(rng, 12, 16) for k in labels}
    for k, label in labels.items():
        _write_png(tmp_path / "pred" / "city" / f"{k}_leftImg8bit.png", label)
    archive = tmp_path / "offset_semantic.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for k, off in offs.items():
            for mode in ("semantic", "instance"):  # both in one archive: the mode decides
                write_offsets(tmp_path / "o.mat", off if mode == "semantic" else np.zeros_like(off))
                z.write(tmp_path / "o.mat", f"val/offset_pred/{mode}/offset_hrnext/{k}_leftImg8bit.mat")
    summary = refine_folder(tmp_path / "pred", archive, tmp_path / "out", workers=2, progress=False)
    assert summary["refined"] == 3 and summary["copied"] == 0
    for k, label in labels.items():
        got = cv2.imread(str(tmp_path / "out" / "city" / f"{k}_leftImg8bit.png"), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(got, _plain_gather(label, offs[k], 2))
    with pytest.raises(OcsegError, match="several offset files match"):
        OffsetStore(archive).find("c_000000_000019_leftImg8bit")


def test_missing_offsets_error_or_copy_and_palette_kept(tmp_path):
    label = np.arange(48, dtype=np.uint8).reshape(6, 8) % 5
    image = Image.fromarray(label, mode="P")
    image.putpalette([v for i in range(256) for v in (i, 255 - i, 7)])
    (tmp_path / "pred").mkdir()
    image.save(tmp_path / "pred" / "a.png")
    image.save(tmp_path / "pred" / "b.png")
    (tmp_path / "off").mkdir()
    off = _random_offsets(np.random.RandomState(3), 6, 8, density=1.0)
    write_offsets(tmp_path / "off" / "a.npz", off)
    with pytest.raises(OcsegError, match=r"no offsets in .* for 1 of 2 inputs: b.png.*missing=copy"):
        refine_folder(tmp_path / "pred", tmp_path / "off", tmp_path / "out", progress=False)
    summary = refine_folder(tmp_path / "pred", tmp_path / "off", tmp_path / "out",
                            missing="copy", workers=1, progress=False)
    assert (summary["refined"], summary["copied"]) == (1, 1)
    with Image.open(tmp_path / "out" / "a.png") as out:
        assert out.mode == "P" and out.getpalette()[:6] == [0, 255, 7, 1, 254, 7]
        np.testing.assert_array_equal(np.array(out), _plain_gather(label, off, 2))
    assert (tmp_path / "out" / "b.png").read_bytes() == (tmp_path / "pred" / "b.png").read_bytes()
    write_offsets(tmp_path / "off" / "b.npz", np.zeros((3, 8, 2), np.int8))
    with pytest.raises(OcsegError, match=r"b.png' is 8×6 but its offset map '.*b.npz' is 8×3"):
        refine_folder(tmp_path / "pred", tmp_path / "off", tmp_path / "out2", progress=False)
    assert not list((tmp_path / "out2").iterdir())  # checked before a.png was written


def test_instance_submission(tmp_path):
    rng = np.random.RandomState(4)
    sub = tmp_path / "sub"
    masks = [(rng.rand(10, 14) > 0.6).astype(np.uint8) * 255 for _ in range(2)]
    for i, mask in enumerate(masks):
        _write_png(sub / "mask" / f"m{i}.png", mask)
    (sub / "x_000000_000019_leftImg8bit_pred.txt").write_text(
        "mask/m0.png 26 0.9\nmask/m1.png 24 0.5\n")
    (sub / "y_000000_000019_leftImg8bit_pred.txt").write_text("")  # no instances at all
    off = _random_offsets(rng, 10, 14)
    (tmp_path / "off").mkdir()
    write_offsets(tmp_path / "off" / "x_000000_000019_leftImg8bit.mat", off)
    write_offsets(tmp_path / "off" / "y_000000_000019_leftImg8bit.mat", off)
    summary = refine_folder(sub, tmp_path / "off", tmp_path / "out", mode="instance", progress=False)
    assert summary["refined"] == 2
    for i, mask in enumerate(masks):
        got = cv2.imread(str(tmp_path / "out" / "mask" / f"m{i}.png"), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(got, _plain_gather((mask > 0).astype(np.uint8), off, 1) * 255)
    assert (tmp_path / "out" / "x_000000_000019_leftImg8bit_pred.txt").read_text().startswith("mask/m0")
    assert (tmp_path / "out" / "y_000000_000019_leftImg8bit_pred.txt").exists()


def test_refine_task_scores_before_and_after(tmp_path, synthetic_root):
    from conftest import compose
    from ocseg.data.cityscapes import CITYSCAPES_TRAIN_IDS, cityscapes_samples
    from ocseg.segfix.encoding.directions import angle_to_bin, bin_to_offset
    from ocseg.segfix.ground_truth.generate import label_to_ground_truth
    from ocseg.tasks.refine import refine

    for sample in cityscapes_samples(synthetic_root, "val"):
        raw = cv2.imread(str(sample.label), cv2.IMREAD_UNCHANGED)
        pred = raw.copy()
        pred[:, 1:] = raw[:, :-1]  # a prediction one pixel off at vertical boundaries
        _write_png(tmp_path / "pred" / f"{sample.name}_leftImg8bit.png", pred)
        gt = label_to_ground_truth(raw, "semantic", CITYSCAPES_TRAIN_IDS)
        off = bin_to_offset(angle_to_bin(gt.angle))
        off[(gt.depth < 1) | (gt.depth > 1)] = 0  # ideal offsets on the 1-px inner boundary
        write_offsets(tmp_path / "off" / f"{sample.name}_leftImg8bit.npz", off)
    cfg = compose("refine", [
        f"input={tmp_path / 'pred'}", f"offsets={tmp_path / 'off'}", f"output={tmp_path / 'out'}",
        "split=val", f"dataset.root={synthetic_root}", "dataset.generator.num_train=8",
        "dataset.generator.num_val=4", "dataset.generator.height=64", "dataset.generator.width=128",
        f"paths.output_dir={tmp_path / 'run'}", "workers=1", "scale=1", "bound_th=1",
    ])
    metrics = refine(cfg)  # the refined labels' scores on top, the input's under segfix.unrefined
    before = metrics["segfix"]["unrefined"]
    assert metrics["num_images"] == 4 and metrics["refined"] == 4
    assert metrics["mIoU"] > before["mIoU"]
    assert metrics["pixel_accuracy"] > before["pixel_accuracy"]
    assert set(before["per_class_boundary_f"]) == set(cfg.dataset.class_names)
    assert (tmp_path / "run" / "metrics.json").is_file()


def test_refine_entry_point_reports_one_line_errors(tmp_path):
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    (tmp_path / "pred").mkdir()
    _write_png(tmp_path / "pred" / "a.png", np.zeros((4, 4), np.uint8))
    done = subprocess.run(
        [sys.executable, "refine.py", f"input={tmp_path / 'pred'}", f"offsets={tmp_path / 'none'}",
         f"output={tmp_path / 'out'}", f"paths.log_dir={tmp_path / 'logs'}"],
        capture_output=True, text=True, cwd=repo)
    assert done.returncode == 2
    assert done.stderr.strip() == (f"error: offsets not found: '{tmp_path / 'none'}' is neither a "
                                   "folder nor a .zip archive; set offsets=<folder or .zip of "
                                   "offset files>")


def test_refine_starts_without_lightning_torchmetrics_or_torch():
    """refine.py's imports (hydra, the CLI wrapper, the task) load no heavy library: its start-up
    costs less than ``import torch``. Scoring (split=) imports what it needs when it runs."""
    import subprocess
    import sys

    code = ("import sys, hydra, ocseg.app.cli, ocseg.tasks.refine; "
            "print(sorted(m for m in ('lightning', 'torchmetrics', 'torch', 'scipy.io', 'tqdm') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
