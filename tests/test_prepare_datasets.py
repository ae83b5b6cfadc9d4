"""``ocseg-prepare``: fake official downloads → the folders the
loaders read."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from helpers.data_fakes import CONTEXT_IDS_IN, CONTEXT_NAMES, Prepared, lip_raw
from ocseg.data.prepare import ade20k, lip
from ocseg.data.prepare.common import unpack
from ocseg.errors import OcsegError

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def prepared(tmp_path_factory) -> Prepared:
    return Prepared(tmp_path_factory.mktemp("fakes"))


def _png(path: Path) -> np.ndarray:
    out = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert out is not None, path
    return out


def test_cityscapes_keeps_official_layout_with_labels_and_instances(prepared):
    out = prepared.out["cityscapes"]
    for (split, stem), label in prepared.made["cityscapes"].items():
        city = stem.split("_")[0]
        assert (out / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png").is_file()
        gt = {"train": "gtFine", "val": "gtFine", "train_extra": "gtCoarse"}.get(split)
        if gt:
            np.testing.assert_array_equal(_png(out / gt / split / city / f"{stem}_{gt}_labelIds.png"), label)
            assert _png(out / gt / split / city / f"{stem}_{gt}_instanceIds.png").dtype == np.uint16
    assert not list(out.rglob("*_color.png"))  # only what the loader reads
    assert prepared.reports["cityscapes"].written == {"images": 5, "labels": 4, "instances": 4}


@pytest.mark.parametrize("name", ["ade20k", "lip", "coco_stuff", "mapillary"])
def test_labels_keep_their_original_ids(prepared, name):
    """ADE/LIP PNGs are placed unchanged, COCO .mat ``S`` and Mapillary palette indices become
    plain 8-bit id PNGs; in every case the prepared label equals the source ids."""
    out = prepared.out[name]
    for (split, stem), label in prepared.made[name].items():
        assert len(list((out / "images" / split).glob(f"{stem}.*"))) == 1
        saved = _png(out / "labels" / split / f"{stem}.png")
        assert saved.ndim == 2 and saved.dtype == np.uint8
        np.testing.assert_array_equal(saved, label)


def test_pascal_context_maps_459_ids_to_the_59_classes(prepared):
    out = prepared.out["pascal_context"]
    assert sorted(p.name for p in (out / "images" / "train").iterdir()) == \
        ["2008_000002.jpg", "2008_000003.jpg"]
    for (split, stem), ids in prepared.made["pascal_context"].items():
        expected = np.zeros_like(ids, dtype=np.uint8)  # not among the 59 → 0 (background)
        for full_id, label in CONTEXT_IDS_IN.items():
            expected[ids == full_id] = label
        np.testing.assert_array_equal(_png(out / "labels" / split / f"{stem}.png"), expected)
    import yaml

    names = yaml.safe_load((REPO / "conf" / "dataset" / "pascal_context.yaml").read_text())["class_names"]
    assert {i: names[label - 1] for i, label in CONTEXT_IDS_IN.items()} == CONTEXT_NAMES


def test_tests_and_unlabeled_splits_have_images_only(prepared):
    for name in ("lip", "mapillary"):
        assert len(list((prepared.out[name] / "images" / "test").iterdir())) == 1
        assert not (prepared.out[name] / "labels" / "test").exists()


def test_second_run_writes_nothing_and_resumes_a_missing_file(prepared, caplog):
    out = prepared.out["ade20k"]
    again = ade20k.prepare(prepared.raw["ade20k"], out)
    assert sum(again.written.values()) == 0 and sum(again.skipped.values()) == 10
    victim = out / "labels" / "val" / "ADE_val_00000002.png"
    victim.unlink()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="ocseg.data.prepare.common"):
        resumed = ade20k.prepare(prepared.raw["ade20k"], out)
    assert resumed.written == {"labels": 1}
    assert victim.is_file()
    summary = caplog.text
    assert "prepared ade20k" in summary and "1 written" in summary
    assert not list(out.rglob(".*"))  # no temporary files left behind


def test_unpack_skips_members_already_extracted(tmp_path):
    import zipfile

    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("top/x.txt", "hello")
        zf.writestr("top/sub/y.txt", "world!")
    assert unpack(archive, tmp_path / "dest") == 2
    assert (tmp_path / "dest" / "top" / "sub" / "y.txt").read_text() == "world!"
    assert unpack(archive, tmp_path / "dest") == 0


def test_unpack_refuses_a_traversing_member_before_writing_anything(tmp_path):
    """A member named ../evil.txt is one error naming the archive and the member; the members
    before it in the archive are not extracted either."""
    import zipfile

    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("top/x.txt", "hello")
        zf.writestr("../evil.txt", "nope")
    with pytest.raises(OcsegError, match=r"archive member '\.\./evil.txt' in '.*a.zip' leads outside"):
        unpack(archive, tmp_path / "dest")
    assert not (tmp_path / "evil.txt").exists()
    assert not (tmp_path / "dest").exists()


def test_missing_download_names_the_archive(tmp_path):
    with pytest.raises(OcsegError, match="ADEChallengeData2016.zip"):
        ade20k.prepare(tmp_path, tmp_path / "out")


def test_image_without_label_in_download_is_one_error(tmp_path):
    lip_raw(tmp_path / "raw")
    label = next((tmp_path / "raw").rglob("train_segmentations/*.png"))
    label.unlink()
    with pytest.raises(OcsegError, match=rf"has no label .*{label.name}"):
        lip.prepare(tmp_path / "raw", tmp_path / "out")


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.run([sys.executable, "-c", "from ocseg.app.cli import prepare; prepare()", *args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def test_command_line_prepares_into_paths_data_dir_and_reports_errors(tmp_path):
    lip_raw(tmp_path / "raw")
    ok = _cli("lip", f"raw_dir={tmp_path / 'raw'}", f"paths.data_dir={tmp_path / 'data'}", "link=copy")
    assert ok.returncode == 0, ok.stderr
    assert "prepared lip" in ok.stdout and "11 written" in ok.stdout
    assert (tmp_path / "data" / "lip" / "labels" / "val").is_dir()
    assert (tmp_path / "data" / "lip" / "ocseg_prepared.json").is_file()
    bad = _cli("nosuch", "raw_dir=x")
    assert bad.returncode == 2 and bad.stderr.startswith("error: dataset=nosuch is not an option")
    assert "use dataset= one of: ade20k, cityscapes" in bad.stderr and "Traceback" not in bad.stderr
    missing = _cli("lip", f"paths.data_dir={tmp_path / 'data'}")
    assert missing.returncode == 2 and "raw_dir=" in missing.stderr


def test_mapillary_short_side_stores_resized_images_and_nearest_labels(prepared, tmp_path):
    from helpers.data_fakes import mapillary_names
    from ocseg.data.prepare import mapillary

    report = mapillary.prepare(prepared.raw["mapillary"], tmp_path, short_side=15,
                               class_names=mapillary_names())
    assert report.written == {"images": 4, "labels": 3}
    for (split, stem), label in prepared.made["mapillary"].items():
        image = cv2.imread(str(tmp_path / "images" / split / f"{stem}.jpg"))
        assert image.shape == (15, 20, 3)  # 30×40 → short side 15
        expected = cv2.resize(label, (20, 15), interpolation=cv2.INTER_NEAREST)
        np.testing.assert_array_equal(_png(tmp_path / "labels" / split / f"{stem}.png"), expected)
    with pytest.raises(OcsegError, match="v1.2"):
        mapillary.prepare(prepared.raw["mapillary"], tmp_path, class_names=["Not", "Mapillary"])
