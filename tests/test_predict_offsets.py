"""SegFix offset prediction: window placement and averaging against a hand computation, the
offset encoding, the ``.mat`` / ``.npz`` files, image folders without labels, resume and the
checkpoint checks of ``predict_offsets.py``."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.io
import torch
from hydra.utils import instantiate

from helpers.checkpoints import SEGFIX_TINY, make_checkpoint
from helpers.config import GENERATOR, compose
from ocseg.checkpoints import load_network
from ocseg.errors import OcsegError
from ocseg.models.cards import CARDS
from ocseg.segfix.offsets.files import read_offsets
from ocseg.segfix.offsets.prediction import OffsetPredictor, offsets_from_outputs, original_stride
from ocseg.tasks.predict_offsets import predict_offsets


@pytest.fixture(autouse=True)
def _one_thread(single_thread):
    """Every test here runs on one intra-op thread (see conftest.single_thread)."""


# ---- numerics ------------------------------------------------------------------------------
class WindowStub:
    """Full-resolution outputs that depend on the window's position, so averaging shows:
    mask logits (0, v + left/10), direction logits with bin ``k`` scoring ``v·k + top``,
    where ``v`` is the input's channel 0. Records the windows it saw."""

    def __init__(self) -> None:
        self.windows: list[tuple[int, int]] = []

    def __call__(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        top, left = int(x[0, 1, 0, 0]), int(x[0, 2, 0, 0])
        self.windows.append((top, left))
        v = x[:, :1]
        mask = torch.cat([torch.zeros_like(v), v + left / 10], dim=1)
        direction = torch.cat([v * k + top for k in range(8)], dim=1)
        return {"mask": mask, "direction": direction}


def _stub_image(height: int, width: int, values: np.ndarray) -> torch.Tensor:
    """Channel 0: the values; channels 1/2: each pixel's row/column (a window's top-left
    pixel then tells the stub where the window is)."""
    rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    return torch.from_numpy(np.stack([values, rows, cols]).astype(np.float32))[None]


def test_original_stride_and_window_rule():
    assert original_stride(512) == 170
    stub = WindowStub()
    rng = np.random.RandomState(0)
    values = rng.uniform(-2, 2, (7, 11))
    OffsetPredictor("sliding", crop_size=(4, 6), stride=(1, 2)).maps(stub, _stub_image(7, 11, values))
    # rows: 0,1,2,3 (3 + 4 = 7 reaches the border); columns 0,2,4 then one flush window at 5
    assert stub.windows == [(t, left) for t in (0, 1, 2, 3) for left in (0, 2, 4, 5)]


def test_sliding_average_equals_hand_computation():
    rng = np.random.RandomState(1)
    height, width, crop = 7, 11, (4, 6)
    values = rng.uniform(-2, 2, (height, width))
    maps = OffsetPredictor("sliding", crop_size=crop, stride=(1, 2)).maps(
        WindowStub(), _stub_image(height, width, values))
    prob_sum = np.zeros((height, width))
    dir_sum = np.zeros((8, height, width))
    count = np.zeros((height, width))
    for top in (0, 1, 2, 3):
        for left in (0, 2, 4, 5):
            sl = (slice(top, top + crop[0]), slice(left, left + crop[1]))
            logit = values[sl] + left / 10
            prob_sum[sl] += np.exp(logit) / (1 + np.exp(logit))  # softmax of (0, logit), channel 1
            for k in range(8):
                dir_sum[k][sl] += values[sl] * k + top  # raw logits, no softmax
            count[sl] += 1
    np.testing.assert_allclose(maps["mask"][0, 1].numpy(), prob_sum / count, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(maps["mask"][0].sum(0).numpy(), 1.0, rtol=1e-6)
    np.testing.assert_allclose(maps["direction"][0].numpy(), dir_sum / count, rtol=1e-5, atol=1e-4)


def test_mask_softmax_comes_before_the_upsampling():
    """A 2×2 output upsampled to a 3×3 window (align_corners): the centre is the mean of the
    four corners' probabilities, not the probability of their mean logit."""
    corners = torch.tensor([[-3.0, 0.5], [2.0, 4.0]])

    def net(x):
        return {"mask": torch.stack([torch.zeros(2, 2), corners])[None],
                "direction": torch.zeros(1, 8, 2, 2)}

    maps = OffsetPredictor("whole", pad_stride=None).maps(net, torch.zeros(1, 3, 3, 3))
    expected = float(torch.sigmoid(corners).mean())
    assert maps["mask"][0, 1, 1, 1].item() == pytest.approx(expected, rel=1e-6)
    assert maps["mask"][0, 1, 0, 0].item() == pytest.approx(float(torch.sigmoid(corners[0, 0])))
    # whole mode crops what it padded: a 5×7 image padded to 8×8, maps back at 5×7
    padded_sizes = []

    def sized(x):
        padded_sizes.append(tuple(x.shape[-2:]))
        return {"mask": torch.zeros(1, 2, *x.shape[-2:]), "direction": torch.zeros(1, 8, *x.shape[-2:])}

    out = OffsetPredictor("whole", pad_stride=8)(sized, torch.zeros(1, 3, 5, 7))
    assert padded_sizes == [(8, 8)] and out.shape == (1, 5, 7, 2)


def test_offsets_from_outputs_uses_the_original_bin_table():
    table = [(0, -1), (-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1)]
    direction = torch.zeros(1, 8, 2, 8)
    for k in range(8):
        direction[0, k, :, k] = 5.0  # column k: bin k wins
    prob = torch.zeros(1, 2, 2, 8)
    prob[0, 1, 0] = 0.75   # row 0 boundary
    prob[0, 1, 1] = 0.5    # row 1: p = 0.5 is not > 0.5
    prob[0, 0] = 1 - prob[0, 1]
    off = offsets_from_outputs(prob, direction)
    assert off.dtype == torch.int8 and off.shape == (1, 2, 8, 2)
    assert [tuple(v) for v in off[0, 0].tolist()] == table
    assert not off[0, 1].any()


# ---- the task ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def segfix_ckpt(tmp_path_factory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("segfix_ckpt") / "segfix.ckpt", kind="segfix")


def offsets_cfg(out: Path, ckpt, *overrides: str, root: Path | None = None):
    folder = any(o.startswith("dataset=") for o in overrides)
    return compose("predict_offsets", [
        *([] if folder else GENERATOR), *SEGFIX_TINY, f"ckpt_path={ckpt}", f"output_dir={out}",
        f"paths.output_dir={out}", "data.num_workers=0", "progress=false",
        *([f"dataset.root={root}"] if root else []), *overrides])


def test_mat_and_npz_files_hold_the_predicted_offsets(tmp_path, synthetic_root, segfix_ckpt):
    out = tmp_path / "offsets"
    summary = predict_offsets(offsets_cfg(out, segfix_ckpt, "format=both", "save_preview=true",
                                          root=synthetic_root))
    stems = sorted(p.name[: -len(".png")] for p in (synthetic_root / "leftImg8bit" / "val").glob("*/*.png"))
    assert sorted(p.stem for p in out.glob("*.mat")) == stems == sorted(p.stem for p in out.glob("*.npz"))
    assert summary["predicted"] == 4 and 0 < summary["moved_fraction"] < 1
    # what the original tester wrote: key 'mat', H×W×2 int32 (dh, dw) at the image's size
    raw = scipy.io.loadmat(str(out / f"{stems[0]}.mat"))["mat"]
    assert raw.dtype == np.int32 and raw.shape == (64, 128, 2) and set(np.unique(raw)) <= {-1, 0, 1}
    np.testing.assert_array_equal(read_offsets(out / f"{stems[0]}.npz").dense(np.int32), raw)
    # the same numbers as the predictor on the loaded network
    cfg = offsets_cfg(out, segfix_ckpt, root=synthetic_root)
    net = load_network(segfix_ckpt, "segfix", cfg).net
    image = next((synthetic_root / "leftImg8bit" / "val").glob(f"*/{stems[0]}.png"))
    x = instantiate(cfg.normalize)(cv2.imread(str(image)))[None]
    with torch.inference_mode():
        direct = instantiate(cfg.predictor)(net, x)[0].numpy()
    np.testing.assert_array_equal(raw, direct)
    preview = cv2.imread(str(out / "preview" / f"{stems[0]}.png"))
    assert preview.shape == (64, 128, 3) and ((preview.sum(2) > 0) == raw.any(2)).all()


def test_resume_skips_finished_images_and_overwrite_redoes_them(tmp_path, synthetic_root, segfix_ckpt):
    out = tmp_path / "offsets"
    predict_offsets(offsets_cfg(out, segfix_ckpt, "format=npz", "predictor.mode=whole",
                                root=synthetic_root))
    victim = sorted(out.glob("*.npz"))[0]
    victim.unlink()
    stamp = {p: p.stat().st_mtime_ns for p in out.glob("*.npz")}
    resumed = predict_offsets(offsets_cfg(out, segfix_ckpt, "format=npz", "predictor.mode=whole",
                                          root=synthetic_root))
    assert (resumed["predicted"], resumed["kept"]) == (1, 3) and victim.is_file()
    assert all(p.stat().st_mtime_ns == t for p, t in stamp.items())
    redone = predict_offsets(offsets_cfg(out, segfix_ckpt, "format=npz", "predictor.mode=whole",
                                         "overwrite=true", root=synthetic_root))
    assert redone["predicted"] == 4


def test_image_folders_without_labels(tmp_path, synthetic_root, segfix_ckpt):
    images = sorted((synthetic_root / "leftImg8bit" / "val").glob("*/*.png"))[:2]
    loose = tmp_path / "photos"
    (loose / "sub").mkdir(parents=True)
    cv2.imwrite(str(loose / "a.jpg"), cv2.imread(str(images[0])))
    cv2.imwrite(str(loose / "sub" / "b.png"), cv2.imread(str(images[1]))[:40, :90])
    (loose / "notes.txt").write_text("not an image")
    out = tmp_path / "out_dir"
    predict_offsets(offsets_cfg(out, segfix_ckpt, f"input_dir={loose}"))
    assert sorted(p.name for p in out.glob("*.mat")) == ["a.mat", "b.mat"]
    assert scipy.io.loadmat(str(out / "b.mat"))["mat"].shape == (40, 90, 2)
    # dataset=folder with an images-only split
    root = tmp_path / "mine"
    (root / "images" / "test").mkdir(parents=True)
    cv2.imwrite(str(root / "images" / "test" / "c.png"), cv2.imread(str(images[0])))
    out2 = tmp_path / "out_folder"
    predict_offsets(offsets_cfg(out2, segfix_ckpt, "dataset=folder", f"dataset.root={root}",
                                "dataset.num_classes=3", "dataset.class_names=[a,b,c]",
                                "dataset.palette=null", "dataset.test_split=test", "split=test"))
    assert [p.name for p in out2.glob("*.mat")] == ["c.mat"]


def test_checkpoint_checks(tmp_path, synthetic_root, segfix_ckpt):
    out = tmp_path / "out"
    with pytest.raises(OcsegError, match="not SegFix; use model="):
        predict_offsets(offsets_cfg(out, segfix_ckpt, "model=tiny_fcn", root=synthetic_root))
    seg = make_checkpoint(tmp_path / "seg.ckpt")
    with pytest.raises(OcsegError, match="trained for segmentation, not a SegFix model"):
        predict_offsets(offsets_cfg(out, seg, root=synthetic_root))
    with pytest.raises(OcsegError, match="pass model=segfix_hrnet2x20"):
        predict_offsets(offsets_cfg(out, segfix_ckpt, "model=segfix_hrnet48", "backbone=hrnet_tiny",
                                    root=synthetic_root))
    layout = CARDS["hrnet48_ocr"].layout
    pth = tmp_path / "ocr.pth"
    torch.save({"state_dict": {f"{name}.weight": torch.zeros(1) for name in layout.top_level}
                | {"backbone.conv1.weight": torch.zeros(1)}}, pth)
    with pytest.raises(OcsegError, match="'hrnet_w48_ocr' segmentation checkpoint, not SegFix"):
        predict_offsets(offsets_cfg(out, pth, root=synthetic_root))
    with pytest.raises(OcsegError, match="needs a SegFix checkpoint"):
        predict_offsets(offsets_cfg(out, "null", root=synthetic_root))
    with pytest.raises(OcsegError, match="unknown format"):
        predict_offsets(offsets_cfg(out, segfix_ckpt, "format=png", root=synthetic_root))
    assert not out.exists() or not any(out.glob("*.mat"))


# ---- under Lightning ------------------------------------------------------------------------
@pytest.mark.slow
def test_ddp_processes_share_the_images_without_duplicates(tmp_path, synthetic_root, segfix_ckpt):
    """trainer=ddp_cpu (2 spawned processes): each image is predicted by one process (the
    summary's count is summed over the processes), and the files equal a single-process run's."""
    single, multi = tmp_path / "single", tmp_path / "ddp"
    one = predict_offsets(offsets_cfg(single, segfix_ckpt, "format=npz", "predictor.mode=whole",
                                      root=synthetic_root))
    two = predict_offsets(offsets_cfg(multi, segfix_ckpt, "format=npz", "predictor.mode=whole",
                                      "trainer=ddp_cpu", root=synthetic_root))
    assert two["predicted"] == one["predicted"] == 4
    assert two["moved_fraction"] == pytest.approx(one["moved_fraction"], rel=1e-6)
    files = sorted(p.name for p in single.glob("*.npz"))
    assert sorted(p.name for p in multi.glob("*.npz")) == files
    for name in files:
        a, b = read_offsets(single / name), read_offsets(multi / name)
        np.testing.assert_array_equal(a.dense(), b.dense())


def test_trainer_precision_applies(tmp_path, synthetic_root, segfix_ckpt, monkeypatch):
    """trainer.precision reaches the network: bf16-mixed runs it under autocast."""
    from ocseg.segfix.offsets.module import OffsetPredictionModule

    seen = []
    original = OffsetPredictionModule.test_step

    def spy(self, item, batch_idx):
        seen.append(torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else None)
        return original(self, item, batch_idx)

    monkeypatch.setattr(OffsetPredictionModule, "test_step", spy)
    out = tmp_path / "bf16"
    summary = predict_offsets(offsets_cfg(out, segfix_ckpt, "format=npz", "predictor.mode=whole",
                                          "trainer.precision=bf16-mixed", root=synthetic_root))
    assert summary["predicted"] == 4 and seen == [torch.bfloat16] * 4
    assert len(list(out.glob("*.npz"))) == 4
