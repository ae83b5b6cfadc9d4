"""report.html of every tool: the numbers behind it (per-image mIoU, SegFix's changed pixels, top
confusions), that rendering changes no other output, and each kind of page opened in a real
headless Chromium as a person would look at it (``tests/helpers/browser.py``)."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from helpers.config import GENERATOR, compose, eval_cfg
from helpers.segfix_fakes import write_random_offsets
from helpers.sweep_fakes import JOBS, fake_sweep
from ocseg.metrics.per_image import PerImage, change_counts
from ocseg.report.evaluation import top_confusions
from ocseg.report.page import number
from ocseg.tasks.evaluate import evaluate
from ocseg.tasks.refine import refine


@pytest.fixture(autouse=True)
def _one_thread(single_thread):
    """Every test here runs on one intra-op thread (see conftest.single_thread)."""


# ---- the numbers ----------------------------------------------------------------------------
def test_per_image_miou_counts_the_classes_present_in_each_image():
    # image 0: class 0 right on 3 of 4 pixels, class 1 predicted once wrongly; image 1: nothing scored
    counts = PerImage(index=np.array([5, 7]), tp=np.array([[3, 0, 0], [0, 0, 0]]),
                      gt=np.array([[4, 0, 0], [0, 0, 0]]), pred=np.array([[3, 1, 0], [0, 0, 0]]))
    miou = counts.miou()
    assert miou[0] == pytest.approx(100 * (3 / 4 + 0 / 1) / 2) and np.isnan(miou[1])


def test_change_counts_split_changed_pixels_into_fixed_broken_and_ignored():
    gt = np.array([0, 1, 1, 2, 255, 2])
    before = np.array([1, 1, 0, 0, 0, 2])
    after = np.array([0, 2, 1, 1, 1, 2])
    # changed: 0 (fixed), 1 (broken), 2 (fixed), 3 (still wrong), 4 (ignored)
    assert change_counts(before, after, gt) == [5, 2, 1, 1]
    stacked = PerImage.stack([{"index": 1, "tp": [1], "gt": [1], "pred": [1], "changes": [5, 2, 1, 1]},
                              {"index": 0, "tp": [0], "gt": [1], "pred": [0]}], num_classes=1)
    assert stacked.index.tolist() == [0, 1] and stacked.refined_images == 1
    assert stacked.change_totals() == {"changed": 5, "fixed": 2, "broken": 1, "ignored": 1}


def test_top_confusions_are_the_largest_off_diagonal_cells():
    cm = np.array([[90, 10, 0], [30, 60, 10], [0, 0, 0]])
    assert top_confusions(cm, ["a", "b", "c"], k=5) == [("b", "a", 30.0, 30), ("a", "b", 10.0, 10),
                                                         ("b", "c", 10.0, 10)]


# ---- tiny runs of every tool ----------------------------------------------------------------
@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    from helpers.checkpoints import make_checkpoint

    return make_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.ckpt")


@pytest.fixture(scope="module")
def runs(tmp_path_factory, synthetic_root, ckpt) -> dict[str, Path]:
    """report.html of each tool on the tiny synthetic dataset: eval (3 examples), an unlabelled
    split, eval with chained SegFix, refine.py with ground truth, a sweep folder."""
    base = tmp_path_factory.mktemp("reports")
    out = {"evaluation": base / "eval", "gallery": base / "gallery", "chained": base / "chained",
           "segfix": base / "refine", "sweep": base / "sweep"}
    evaluate(eval_cfg(synthetic_root, ckpt, out["evaluation"], "report_images=3"))
    city = base / "city"
    shutil.copytree(synthetic_root / "leftImg8bit" / "val", city / "leftImg8bit" / "test")
    evaluate(eval_cfg(city, ckpt, out["gallery"], "split=test", "dataset.test_split=test",
                      "dataset.prepare=null"))
    offsets = write_random_offsets(base / "offsets", sorted((synthetic_root / "leftImg8bit" / "val").glob("*/*.png")))
    evaluate(eval_cfg(synthetic_root, ckpt, out["chained"], f"segfix.offsets={offsets}"))
    refine(compose("refine", [*GENERATOR, f"dataset.root={synthetic_root}",
                              f"input={out['evaluation'] / 'label'}", f"offsets={offsets}",
                              f"output={base / 'refined'}", "split=val", "workers=1",
                              f"metrics_file={out['segfix'] / 'metrics.json'}", f"paths.output_dir={base}"]))
    from ocseg.app.sweep_summary import collect_jobs, summary_rows
    from ocseg.report.sweep import write_sweep_report

    write_sweep_report(out["sweep"], *summary_rows(collect_jobs(fake_sweep(out["sweep"]))))
    return out


@pytest.fixture(scope="module")
def training_run(tmp_path_factory, synthetic_root) -> Path:
    """A tiny fit validating twice (the page is rewritten after each validation and at the end)."""
    from helpers.config import TINY
    from ocseg.tasks.train import train

    base = tmp_path_factory.mktemp("train")
    train(compose("train", TINY + [f"dataset.root={synthetic_root}", f"paths.output_dir={base / 'run'}",
                                   f"paths.log_dir={base / 'logs'}", "model=tiny_fcn",
                                   "schedule.max_steps=4", "schedule.val_every=2"]))
    return base / "run"


def _html(folder: Path) -> str:
    return (folder / "report.html").read_text()


def test_evaluation_page_shows_the_worst_images_by_their_own_miou(runs, synthetic_root):
    from ocseg.io.image_io import read_label
    from ocseg.tasks.evaluate import build_eval_dataset

    folder = runs["evaluation"]
    dataset = build_eval_dataset(eval_cfg(synthetic_root, Path("unused"), folder), "val")
    miou = {}
    for sample in dataset.samples:
        gt = dataset.label_map.to_train(read_label(sample.label))
        pred = dataset.label_map.to_train(read_label(folder / "label" / f"{sample.image.stem}.png"))
        tp, union = [], []
        for c in range(19):
            g, p = (gt == c), (pred == c)
            if (g | p).any():
                tp.append((g & p).sum()), union.append((g | p).sum())
        miou[sample.image.stem] = 100 * float(np.mean(np.array(tp) / np.array(union)))
    worst = sorted(miou, key=miou.get)[:3]
    html = _html(folder)
    shown = [line.split("<h3>")[1].split(" — ")[0] for line in html.splitlines()
             if "<h3>" in line and " — mIoU" in line]
    assert shown == worst
    for name in worst:
        assert f"{name} — mIoU {miou[name]:.2f}%" in html
        assert f'href="label/{name}.png"' not in html and f'href="color/{name}.png"' in html


def test_gallery_for_an_unlabelled_split_and_segfix_sections(runs):
    gallery = _html(runs["gallery"])
    assert "Predictions" in gallery and "Confusion matrix" not in gallery and gallery.count('class="example"') == 4
    chained = _html(runs["chained"])
    metrics = json.loads((runs["chained"] / "metrics.json").read_text())
    assert "SegFix: scores before and after refinement" in chained and "Confusion matrix" in chained
    assert number(metrics["segfix"]["unrefined"]["mIoU"]) in chained and number(metrics["mIoU"]) in chained
    refined = _html(runs["segfix"])
    assert "became right" in refined and refined.count('class="example"') == 4


def test_report_false_writes_no_page_and_the_same_outputs(tmp_path, synthetic_root, ckpt):
    """Every output file is byte-identical with report=false and report=true, apart from
    report.html and the `report` key of the config metrics.json records."""
    for flag in ("true", "false"):
        evaluate(eval_cfg(synthetic_root, ckpt, tmp_path / flag, f"report={flag}"))
    on, off = tmp_path / "true", tmp_path / "false"
    assert (on / "report.html").is_file() and not (off / "report.html").exists()
    files = sorted(p.relative_to(off) for p in off.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(on) for p in on.rglob("*") if p.is_file() and p.name != "report.html")
    for rel in files:
        a, b = (on / rel).read_bytes(), (off / rel).read_bytes()
        if rel.name == "metrics.json":
            a, b = (json.loads(x) for x in (a, b))
            for m in (a, b):
                m["config"].pop("report"), m["config"].pop("output_dir"), m["config"]["paths"].pop("output_dir")
                m.pop("checkpoint", None)
        assert a == b, rel


@pytest.mark.slow
def test_training_page_is_written_during_the_run_and_at_the_end(training_run):
    html = _html(training_run)
    assert "· finished" in html and "loss terms" in html.lower() and "Validation overlays" in html
    assert html.count('alt="testopolis_') == 4          # the 4 overlay panels of the last validation
    rows = (training_run / "csv" / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("epoch,lr-SGD")            # the CSV log the curves come from


# ---- in the browser ---------------------------------------------------------------------------
def _expected(kind: str, folder: Path) -> list[str]:
    """The class names and headline numbers the page must show."""
    if kind == "sweep":
        return [f"{m:.6g}" for *_, m in JOBS if m is not None] + ["FAILED"]
    metrics = json.loads((folder / "metrics.json").read_text()) if (folder / "metrics.json").is_file() else {}
    names = list(metrics.get("per_class_iou", {}))
    numbers = [number(metrics[k]) for k in ("mIoU", "pixel_accuracy", "boundary_f", "boundary_f_present")
               if metrics.get(k) is not None]
    if "segfix" in metrics and "unrefined" in metrics["segfix"]:
        numbers.append(number(metrics["segfix"]["unrefined"]["mIoU"]))
    if kind == "gallery":
        names = [p.stem for p in (folder / "label").iterdir()]
    return names + numbers


def _not_blank(png: bytes) -> bool:
    from PIL import Image

    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(np.uint32)
    colours = np.unique((image[..., 0] << 16) | (image[..., 1] << 8) | image[..., 2])
    return image.std() > 20 and len(colours) > 100


@pytest.mark.browser
@pytest.mark.parametrize("kind", ["evaluation", "gallery", "chained", "segfix", "sweep",
                                  pytest.param("training", marks=pytest.mark.slow)])
def test_page_in_headless_chromium(kind, request, browser):
    folder = request.getfixturevalue("training_run") if kind == "training" else request.getfixturevalue("runs")[kind]
    visit = browser.visit(folder / "report.html", shot_name=None if kind in ("chained", "gallery") else kind)
    assert visit.console_errors == []
    assert visit.blocked == []                         # nothing but file: and data: was requested
    assert visit.images and visit.undecoded() == []
    missing = [text for text in _expected(kind, folder) if text not in visit.text]
    assert missing == []
    assert _not_blank(visit.screenshot)


@pytest.mark.browser
def test_a_page_that_asks_for_the_network_is_caught(tmp_path, browser):
    """The checks above can fail: a page loading a remote font and image records both requests
    (blocked) and a broken image."""
    page = tmp_path / "report.html"
    page.write_text('<html><head><link rel="stylesheet" href="https://fonts.example.com/a.css"></head>'
                    '<body><img src="https://example.com/x.png"><p>x</p></body></html>')
    visit = browser.visit(page)
    assert "https://fonts.example.com/a.css" in visit.blocked and visit.undecoded()
