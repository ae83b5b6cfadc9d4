"""SegFix ground truth: hand-checked geometry, identity with a plain re-statement of the original
generators (tests/helpers/segfix_original.py; on held-out maps up to the accumulation order at exact
truncation boundaries), the .mat layout and the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

from helpers.segfix_original import CITYSCAPES_IDS, original_kernel, reference_instance, reference_semantic
from ocseg.errors import OcsegError
from ocseg.segfix.encoding.directions import angle_to_bin
from ocseg.segfix.encoding.distance_direction import (
    direction_kernel,
    instance_ground_truth,
    semantic_ground_truth,
)
from ocseg.segfix.ground_truth.files import read_ground_truth, write_ground_truth
from ocseg.segfix.ground_truth.generate import generate_ground_truth, label_to_ground_truth

REPO = Path(__file__).resolve().parents[1]
def _square_scene() -> np.ndarray:
    """20×20: class 0 around a 10×10 square of class 1 (rows/cols 5..14) and a 3×3 blob of
    class 2 (9 px, under the 100-pixel threshold) at rows 16..18, cols 1..3."""
    label = np.zeros((20, 20), np.uint8)
    label[5:15, 5:15] = 1
    label[16:19, 1:4] = 2
    return label


def _bin(gt, y, x) -> int:
    return int(angle_to_bin(np.float32(gt.angle[y, x])))


def test_hand_checked_distances_and_directions():
    gt = semantic_ground_truth(_square_scene(), num_classes=3)
    d = gt.depth.astype(int)
    # inside the square: distance to the nearest outside pixel (rows/cols 4 and 15)
    assert d[5, 9] == 1 and d[7, 7] == 3 and d[9, 9] == 5 and d[10, 10] == 5
    # class 0: the image border is not a boundary; the nearest non-0 pixel of (0,0) is (5,5)
    assert d[0, 0] == int(np.sqrt(50)) == 7
    assert d[4, 9] == 1 and d[15, 2] == 1 and d[0, 19] == 7  # (5,14): √50
    # the 9-pixel class has no ground truth: depth 0, dir_deg 90 (angle 0)
    assert (d[16:19, 1:4] == 0).all() and (gt.dir_deg[16:19, 1:4] == 90).all()
    # directions point into the segment: (dh, dw) of the bins 0..7 = left, up-left, up, ...
    assert _bin(gt, 5, 9) == 6      # top edge of the square → down
    assert _bin(gt, 9, 14) == 0     # right edge → left
    assert _bin(gt, 5, 5) == 5      # top-left corner → down-right
    assert gt.dir_deg[5, 5] == 112  # angle 45° (± float noise) → (45 + 180) / 2 truncated
    assert _bin(gt, 4, 9) == 2      # class 0 just above the square → up, away from it
    assert _bin(gt, 15, 2) == 2     # class 0 just above the small blob → up
    # near the top image border zero padding pulls the direction down, into the image
    assert _bin(gt, 0, 9) == 6


def test_hand_checked_instances_have_no_size_threshold():
    ids = np.full((8, 8), 7, np.int32)      # road
    ids[2:4, 2:4] = 26001                     # a 4-pixel car instance
    ids[6:8, 0:4] = 5                         # ids < 256 outside the table → one 255 segment
    ids[6:8, 4:8] = 6
    gt = instance_ground_truth(ids, CITYSCAPES_IDS)
    assert (gt.depth[2:4, 2:4] == 1).all()
    # (2,2): same-segment neighbours (3,2), (3,3), (2,3) with depth 1 → y = x = 1.5 → 45°
    assert gt.dir_deg[2, 2] == 112
    # ids 5 and 6 merged into one segment: the pixel between them is 2 rows from the road
    assert gt.depth[7, 4] == 2 and gt.depth[7, 3] == 2
    assert gt.depth[0, 0] == 2  # road corner: nearest other segment (2,2) is √8 away


def _random_map(rng, height, width, classes, block):
    small = rng.randint(0, classes, size=(height // block + 1, width // block + 1))
    label = np.kron(small, np.ones((block, block), np.int64))[:height, :width]
    noise = rng.rand(height, width) < 0.03
    label[noise] = rng.randint(0, classes, size=noise.sum())
    return label


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_semantic_bit_identical_to_original(seed):
    rng = np.random.RandomState(seed)
    label = _random_map(rng, 61, 83, 5, 7).astype(np.uint8)
    label[label == 4] = 255  # an ignore class
    ours = semantic_ground_truth(label, num_classes=4)
    depth, dir_deg = reference_semantic(label, 4)
    np.testing.assert_array_equal(ours.depth, depth)
    np.testing.assert_array_equal(ours.dir_deg, dir_deg)


@pytest.mark.parametrize("seed", [0, 1])
def test_instance_bit_identical_to_original(seed):
    rng = np.random.RandomState(seed)
    pool = np.array([7, 8, 0, 4, 26, 26001, 26002, 24005, 300, 255])
    ids = pool[_random_map(rng, 47, 71, len(pool), 5)].astype(np.uint16)
    ours = instance_ground_truth(ids, CITYSCAPES_IDS)
    depth, dir_deg = reference_instance(ids, CITYSCAPES_IDS)
    np.testing.assert_array_equal(ours.depth, depth)
    np.testing.assert_array_equal(ours.dir_deg, dir_deg)


def test_bit_identical_on_a_street_scene():
    from ocseg.data.synthetic_city import render_scene

    _, label_ids, instance_ids = render_scene(96, 192, seed=5)
    gt = label_to_ground_truth(label_ids, "semantic", CITYSCAPES_IDS)
    lut = np.full(256, 255, np.uint8)
    lut[CITYSCAPES_IDS] = np.arange(19)
    depth, dir_deg = reference_semantic(lut[label_ids], 19)
    np.testing.assert_array_equal(gt.depth, depth)
    np.testing.assert_array_equal(gt.dir_deg, dir_deg)
    gt = label_to_ground_truth(instance_ids, "instance", CITYSCAPES_IDS)
    depth, dir_deg = reference_instance(instance_ids, CITYSCAPES_IDS)
    np.testing.assert_array_equal(gt.depth, depth)
    np.testing.assert_array_equal(gt.dir_deg, dir_deg)


def test_kernel_is_the_originals():
    np.testing.assert_array_equal(direction_kernel().numpy(), original_kernel().numpy())
    k = direction_kernel()[:, 0]
    assert k[0, 0, 2].item() == pytest.approx(-0.5) and k[1, 2, 4].item() == pytest.approx(0.5)


def test_mat_round_trip(tmp_path):
    gt = semantic_ground_truth(_square_scene(), num_classes=3)
    write_ground_truth(tmp_path / "a.mat", gt)
    raw = scipy.io.loadmat(tmp_path / "a.mat")
    assert raw["depth"].dtype == np.uint8 and raw["dir_deg"].dtype == np.uint8
    assert raw["deg_reduce"].ravel().tolist() == [2]
    back = read_ground_truth(tmp_path / "a.mat")
    np.testing.assert_array_equal(back.depth, gt.depth)
    np.testing.assert_array_equal(back.dir_deg, gt.dir_deg)
    np.testing.assert_array_equal(back.angle, gt.dir_deg.astype(np.float32) * 2 - 180)
    assert not list(tmp_path.glob(".*"))  # no temporary left behind
    scipy.io.savemat(tmp_path / "b.mat", {"mat": np.zeros((2, 2, 2))})
    with pytest.raises(OcsegError, match="not a SegFix ground-truth file"):
        read_ground_truth(tmp_path / "b.mat")


def test_generate_folder_semantic_and_instance(tmp_path):
    from ocseg.data.synthetic_city import render_scene

    src = tmp_path / "labels"
    (src / "city").mkdir(parents=True)
    expected = {}
    for k in range(2):
        _, label_ids, instance_ids = render_scene(48, 96, seed=k)
        Image.fromarray(label_ids).save(src / "city" / f"c_{k}_gtFine_labelIds.png")
        Image.fromarray(instance_ids).save(src / "city" / f"c_{k}_gtFine_instanceIds.png")
        expected[k] = (label_ids, instance_ids)
    out = tmp_path / "gt"
    summary = generate_ground_truth(src, out, "semantic", CITYSCAPES_IDS,
                                    glob="**/*_labelIds.png", workers=2, progress=False)
    assert summary["written"] == 2
    lut = np.full(256, 255, np.uint8)
    lut[CITYSCAPES_IDS] = np.arange(19)
    for k, (label_ids, _instance_ids) in expected.items():
        got = read_ground_truth(out / f"c_{k}_gtFine_labelIds.mat")
        depth, dir_deg = reference_semantic(lut[label_ids], 19)
        np.testing.assert_array_equal(got.dir_deg, dir_deg)
        np.testing.assert_array_equal(got.depth, depth)
    generate_ground_truth(src, out, "instance", CITYSCAPES_IDS, glob="**/*_instanceIds.png",
                          workers=1, progress=False)
    got = read_ground_truth(out / "c_1_gtFine_instanceIds.mat")
    np.testing.assert_array_equal(got.dir_deg, reference_instance(expected[1][1], CITYSCAPES_IDS)[1])
    again = generate_ground_truth(src, out, "instance", CITYSCAPES_IDS, glob="**/*_instanceIds.png",
                                  skip_existing=True, progress=False)
    assert again == {"written": 0, "skipped": 2, "output": str(out)}


def test_generate_errors_are_one_line(tmp_path):
    with pytest.raises(OcsegError, match="not a directory"):
        generate_ground_truth(tmp_path / "none", tmp_path / "o", "semantic", CITYSCAPES_IDS)
    (tmp_path / "in").mkdir()
    with pytest.raises(OcsegError, match="no PNG files"):
        generate_ground_truth(tmp_path / "in", tmp_path / "o", "semantic", CITYSCAPES_IDS)
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "in" / "x_color.png")
    with pytest.raises(OcsegError, match="colour image"):
        generate_ground_truth(tmp_path / "in", tmp_path / "o", "semantic", CITYSCAPES_IDS,
                              progress=False)
    with pytest.raises(OcsegError, match="unknown kind"):
        generate_ground_truth(tmp_path / "in", tmp_path / "o", "panoptic", CITYSCAPES_IDS)
    (tmp_path / "in" / "x_color.png").unlink()
    for sub in ("a", "b"):
        (tmp_path / "in" / sub).mkdir()
        Image.fromarray(np.full((4, 4), 7, np.uint8)).save(tmp_path / "in" / sub / "x.png")
    with pytest.raises(OcsegError, match=r"labels '.*a/x.png' and '.*b/x.png' share the stem 'x'.*glob="):
        generate_ground_truth(tmp_path / "in", tmp_path / "o2", "semantic", CITYSCAPES_IDS,
                              glob="**/*.png", progress=False)
    assert not (tmp_path / "o2").exists() or not any((tmp_path / "o2").iterdir())


def test_command_line(tmp_path):
    label = np.full((30, 40), 7, np.uint8)
    label[10:25, 5:30] = 26
    (tmp_path / "in").mkdir()
    Image.fromarray(label).save(tmp_path / "in" / "a_leftImg8bit.png")
    cmd = [sys.executable, "-c", "from ocseg.app.cli import segfix_ground_truth; segfix_ground_truth()",
           f"input={tmp_path / 'in'}", f"output={tmp_path / 'out'}", "dataset=cityscapes",
           f"paths.log_dir={tmp_path / 'logs'}"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    got = read_ground_truth(tmp_path / "out" / "a_leftImg8bit.mat")
    assert got.depth[17, 17] == 8 and got.depth[0, 0] == 11  # (10,5): √125


@pytest.mark.parametrize("dataset, extra, expected", [
    ("cityscapes", [], CITYSCAPES_IDS),
    ("ade20k", [], list(range(1, 151))),
    ("folder", ["dataset.num_classes=3", "dataset.class_names=[a,b,c]"], [0, 1, 2]),
    ("folder", ["classes.yaml"], [0, 1, 7]),
])
def test_label_table_comes_from_the_dataset(tmp_path, dataset, extra, expected):
    """``dataset=`` gives the ids the label files hold: a folder's classes.yaml id_map too."""
    from conftest import compose
    from ocseg.segfix.ground_truth.generate import dataset_label_ids

    if extra == ["classes.yaml"]:
        (tmp_path / "classes.yaml").write_text("names: [bg, cat, dog]\nid_map: {0: 0, 1: 1, 7: 2}\n")
        extra = []
    cfg = compose("segfix_ground_truth", [f"dataset={dataset}", f"dataset.root={tmp_path}",
                                          "input=x", "output=y", *extra])
    assert dataset_label_ids(cfg.dataset) == expected


# --- exactness on held-out maps ------------------------------------------------------------
def assert_same_up_to_accumulation_order(ours, depth, dir_deg, vectors):
    """What docs/segfix.md promises: identical ``depth``; ``dir_deg`` equal except one truncation step
    (±1; 0 ↔ 180 at ±180°, the same direction) where the exact angle sits on a 2° truncation
    boundary, which a float32 sum in another order can land on either side of; identical
    8-direction training bins."""
    np.testing.assert_array_equal(ours.depth, depth)
    diff = ours.dir_deg.astype(int) - dir_deg.astype(int)
    ys, xs = np.nonzero(diff)
    if ys.size:
        exact = (np.degrees(np.arctan2(vectors[ys, xs, 0].astype(np.float64),
                                       vectors[ys, xs, 1].astype(np.float64))) + 180) / 2
        on_boundary = np.abs(exact - np.round(exact)) < 1e-4
        one_step = (np.abs(diff[ys, xs]) == 1) | (np.abs(diff[ys, xs]) == 180)
        bad = ~(on_boundary & one_step)
        assert not bad.any(), (f"{int(bad.sum())} dir_deg differences off the truncation "
                               f"boundaries, e.g. at {(ys[bad][0], xs[bad][0])}")
    reference_angle = dir_deg.astype(np.float32) * 2 - 180
    np.testing.assert_array_equal(angle_to_bin(ours.angle), angle_to_bin(reference_angle))


def test_the_exactness_check_can_fail():
    label = _square_scene()
    ours = semantic_ground_truth(label, 3)
    depth, dir_deg, vectors = reference_semantic(label, 3, vectors=True)
    assert_same_up_to_accumulation_order(ours, depth, dir_deg, vectors)
    # (4, 9), just above the square, points straight up: x component exactly 0, −90°, dir_deg
    # (−90 + 180) / 2 = 45 exactly; an x of −1e-7 (another summation order) truncates to 44
    assert dir_deg[4, 9] == 45 and vectors[4, 9, 1] == 0
    flipped = dir_deg.copy()
    flipped[4, 9] = 44
    assert_same_up_to_accumulation_order(ours, depth, flipped, vectors)
    off_boundary = dir_deg.copy()
    off_boundary[5, 5] += 1  # 45°: not a truncation boundary
    with pytest.raises(AssertionError, match="off the truncation boundaries"):
        assert_same_up_to_accumulation_order(ours, depth, off_boundary, vectors)
    deeper = depth.copy()
    deeper[7, 7] += 1
    with pytest.raises(AssertionError):
        assert_same_up_to_accumulation_order(ours, deeper, dir_deg, vectors)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11, 12])
def test_held_out_maps_match_up_to_accumulation_order(seed):
    """Street scenes and random maps the generator was not tuned on, at 512×1024 (the
    original's whole-image conv2d and ocseg's per-component crops may sum in other orders)."""
    from ocseg.data.synthetic_city import render_scene

    _, label_ids, _ = render_scene(512, 1024, seed=seed)
    lut = np.full(256, 255, np.uint8)
    lut[CITYSCAPES_IDS] = np.arange(19)
    ours = label_to_ground_truth(label_ids, "semantic", CITYSCAPES_IDS)
    assert_same_up_to_accumulation_order(ours, *reference_semantic(lut[label_ids], 19, vectors=True))
    label = _random_map(np.random.RandomState(seed), 512, 1024, 19, 29).astype(np.uint8)
    ours = semantic_ground_truth(label, 19)
    assert_same_up_to_accumulation_order(ours, *reference_semantic(label, 19, vectors=True))
