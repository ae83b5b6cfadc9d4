"""The bad-input matrix: every entry point, run as a user runs it, on inputs a user gets wrong.

Each case asserts three things: a non-zero exit (2); exactly one ``error:`` line, which names
the file, key or option at fault and says the fix; no traceback, and no new result file in the
output folder (a snapshot before and after; Hydra's own ``.hydra/`` and ``*.log`` bookkeeping
aside). docs/troubleshooting.md ("Bad input") lists the same cases and messages.

The tools that import torch and Lightning run in children of one fork server
(``tests/helpers/cli_forkserver.py``, the ``cli_server`` fixture: a fresh process per case, running the
console script's function)
so the table does not pay Lightning's import 25 times; ``refine.py``, which loads neither, runs
as a plain subprocess of the repository's shim.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import pytest

from helpers.checkpoints import make_checkpoint
from helpers.config import REPO
from helpers.data_fakes import fixed_folder_tree, write_png

H, W = 24, 32
VAL = ("img0", "img1", "img2")  # the broken file is the last one: earlier ones would be written first


@dataclass
class World:
    """What the cases share, built once: a folder dataset, checkpoints, predictions, offsets."""

    base: Path
    root: Path
    ckpt: Path
    ckpt5: Path
    segfix_ckpt: Path
    preds: Path
    offsets: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    from ocseg.segfix.offsets.files import write_offsets

    base = tmp_path_factory.mktemp("bad_input")
    root = fixed_folder_tree(base / "data", VAL)
    folder = ["dataset=folder", f"dataset.root={root}"]
    ckpt = make_checkpoint(base / "tiny.ckpt", overrides=folder)
    ckpt5 = make_checkpoint(base / "five.ckpt", overrides=[*folder, "dataset.num_classes=5",
                                                            "dataset.class_names=[background,cat,dog,cow,eel]"])
    preds, offsets = base / "preds", base / "offsets"
    rng = np.random.RandomState(1)
    for name in VAL:
        write_png(preds / f"{name}.png", rng.choice([0, 1, 7], (H, W)).astype(np.uint8))
        write_offsets(offsets / f"{name}.mat", rng.randint(-1, 2, (H, W, 2)).astype(np.int8))
    return World(base, root, ckpt, ckpt5, make_checkpoint(base / "segfix.ckpt", kind="segfix"), preds, offsets)


# ---- the cases -----------------------------------------------------------------------------
@dataclass
class Ctx:
    """One case's folders: ``out`` is the tool's output folder (watched), ``run`` Hydra's."""

    w: World
    tmp: Path

    @property
    def out(self) -> Path:
        return self.tmp / "out"

    def tree(self, suffix: str = ".png") -> Path:
        return fixed_folder_tree(self.tmp / "data", VAL, suffix)

    def eval(self, *args: str, root: Path | None = None, ckpt: Path | None = None) -> list[str]:
        return [f"ckpt_path={ckpt or self.w.ckpt}", f"dataset.root={root or self.w.root}",
                f"output_dir={self.out}", f"hydra.run.dir={self.tmp / 'run'}", "data.num_workers=0",
                "trainer.enable_progress_bar=false", *args]

    def train(self, *args: str, root: Path | None = None) -> list[str]:
        return ["dataset=folder", f"dataset.root={root or self.w.root}", "model=tiny_fcn",
                "data.num_workers=0", "data.batch_size=2", f"dataset.crop_size=[{H},{W}]",
                "schedule.max_steps=1", "logger=none",
                "trainer.enable_progress_bar=false", "~callbacks.progress_bar",
                f"paths.output_dir={self.out}", *args]

    def offsets(self, *args: str, ckpt: Path | None = None) -> list[str]:
        return [f"ckpt_path={ckpt or self.w.segfix_ckpt}", f"input_dir={self.w.root / 'images'}",
                f"output_dir={self.out}", f"hydra.run.dir={self.tmp / 'run'}", "data.num_workers=0",
                "progress=false", "backbone=hrnet_tiny", *args]

    def refine(self, *args: str, offsets: Path | None = None, output: Path | None = None) -> list[str]:
        return [f"input={self.w.preds}", f"offsets={offsets or self.w.offsets}",
                f"output={output or self.out}", f"hydra.run.dir={self.tmp / 'run'}",
                f"metrics_file={self.out / 'metrics.json'}", "workers=1", *args]

    def gt(self, *args: str) -> list[str]:
        return [f"output={self.out}", f"hydra.run.dir={self.tmp / 'run'}", "workers=1", *args]


def _broken_tree(c: Ctx, change: Callable[[Path], None], suffix: str = ".png") -> Path:
    root = c.tree(suffix)
    change(root)
    return root


def _rewrite_label(c: Ctx, name: str, array: np.ndarray, split: str = "val") -> Path:
    return _broken_tree(c, lambda r: write_png(r / "labels" / split / f"{name}.png", array))


def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _copy_offsets(c: Ctx, change: Callable[[Path], None]) -> Path:
    folder = c.tmp / "offsets"
    shutil.copytree(c.w.offsets, folder)
    change(folder)
    return folder


def _file(c: Ctx, name: str, text: str = "not a directory\n") -> Path:
    c.tmp.mkdir(parents=True, exist_ok=True)
    path = c.tmp / name
    path.write_text(text)
    return path


@dataclass
class Case:
    tool: str                                   # the ocseg.app.cli function
    args: Callable[[Ctx], list[str]]
    expect: tuple[str, ...]                     # in the error line: what is at fault and the fix
    watch: Callable[[Ctx], Path] = lambda c: c.out


def _hostile_torch_file(c: Ctx, name: str, kind: str) -> Path:
    from helpers.hostile import torch_file

    return torch_file(c.tmp / "downloads" / name, c.tmp / "marker", kind)


def _submission(c: Ctx, line: str) -> Path:
    """An instance submission whose second mask path is ``line``, in ``<tmp>/sub``."""
    sub = c.tmp / "sub"
    write_png(sub / "m" / "img0_0.png", np.ones((H, W), np.uint8))
    write_png(c.tmp / "x" / "m.png", np.ones((H, W), np.uint8))
    (sub / "img0_pred.txt").write_text(f"m/img0_0.png 26 0.9\n{line} 26 0.5\n")
    return sub


def _offsets_archive(c: Ctx, damage: Callable[[Path], None]) -> Path:
    """The world's offsets stored (uncompressed) in ``offset_semantic.zip``, then damaged."""
    import zipfile

    archive = c.tmp / "offset_semantic.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for name in VAL:
            zf.write(c.w.offsets / f"{name}.mat", f"val/semantic/offset_hrnext/{name}.mat")
    damage(archive)
    return archive


def _download_with(c: Ctx, archive: str, member: str) -> Path:
    import zipfile

    raw = c.tmp / "downloads"
    raw.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(raw / archive, "w") as zf:
        zf.writestr("leftImg8bit/train/aachen/a_leftImg8bit.png", b"")
        zf.writestr(member, b"evil")
    return raw


def _empty(c: Ctx, name: str) -> Path:
    (c.tmp / name).mkdir(parents=True)
    return c.tmp / name


CASES: dict[str, Case] = {
    "missing data root": Case(
        "evaluate", lambda c: c.eval(root=c.tmp / "nowhere"), ("nowhere", "set dataset.root=")),
    "wrong split name": Case(
        "evaluate", lambda c: c.eval("split=valid"), ("split=valid", "one of test, train, val")),
    "image without its label": Case(
        "evaluate", lambda c: c.eval(root=_broken_tree(c, lambda r: (r / "labels/val/img2.png").unlink())),
        ("img2", "has no label", "add it or remove the image")),
    "image/label size mismatch": Case(
        "evaluate", lambda c: c.eval(root=_rewrite_label(c, "img2", np.zeros((H, W + 4), np.uint8))),
        ("labels/val/img2.png", "is 36×24", "labels must have the image's size")),
    "corrupt PNG": Case(
        "evaluate", lambda c: c.eval(root=_broken_tree(
            c, lambda r: (r / "images/val/img2.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 9))),
        ("images/val/img2.png", "cannot be decoded", "replace it")),
    "truncated JPEG": Case(
        "evaluate", lambda c: c.eval(root=_broken_tree(
            c, lambda r: _truncate(r / "images/val/img2.jpg"), suffix=".jpg")),
        ("images/val/img2.jpg", "replace it")),
    "label id outside the dataset's table": Case(
        "train", lambda c: c.train(root=_rewrite_label(c, "tr1", np.full((H, W), 9, np.uint8), "train")),
        ("labels/train/tr1.png", "[9]", "check that dataset= matches the data")),
    "unknown model=": Case(
        "train", lambda c: c.train("model=no_such_model"), ("model=no_such_model", "tiny_fcn")),
    "unknown dataset=": Case(
        "evaluate", lambda c: c.eval("dataset=no_such_dataset"), ("dataset=no_such_dataset", "cityscapes")),
    "typo in a config key": Case(
        "train", lambda c: c.train("schedule.lr_typo=0.1"), ("schedule.lr_typo", "+schedule.lr_typo=")),
    "unknown key without +": Case(
        "evaluate", lambda c: c.eval("save.colour=false"), ("save.colour", "+save.colour=")),
    "missing checkpoint": Case(
        "evaluate", lambda c: c.eval(ckpt=c.tmp / "missing.ckpt"), ("ckpt_path=", "missing.ckpt", "no such file")),
    "a file that is not a checkpoint": Case(
        "evaluate", lambda c: c.eval(ckpt=_file(c, "notes.ckpt", "hello\n")),
        ("notes.ckpt", "cannot be read", "not a PyTorch file", "complete PyTorch")),
    "checkpoint of another architecture": Case(
        "evaluate", lambda c: c.eval("model=hrnet18_small_ocr"),
        ("tiny.ckpt", "model=hrnet18_small_ocr", "leave model= and dataset= out")),
    "segmentation checkpoint given to predict_offsets": Case(
        "predict_offsets", lambda c: c.offsets(ckpt=c.w.ckpt), ("tiny.ckpt", "not a SegFix model")),
    "checkpoint of another class count": Case(
        "evaluate", lambda c: c.eval(ckpt=c.w.ckpt5), ("five.ckpt", "5", "3 classes")),
    "offsets folder missing some files": Case(
        "refine", lambda c: c.refine(offsets=_copy_offsets(c, lambda f: (f / "img1.mat").unlink())),
        ("img1.png", "predict offsets for these images", "missing=copy")),
    "offsets of another size": Case(
        "refine", lambda c: c.refine(offsets=_copy_offsets(c, lambda f: _write_offsets(
            f / "img2.mat", np.zeros((H, W + 8, 2), np.int8)))),
        ("preds/img2.png", "is 32×24", "offset map", "is 40×24", "predict offsets for the same images")),
    "truncated .mat offsets": Case(
        "refine", lambda c: c.refine(offsets=_copy_offsets(c, lambda f: _truncate(f / "img2.mat", 0.6))),
        ("img2.mat", "replace it")),
    "output path that is a file (refine)": Case(
        "refine", lambda c: c.refine(output=_file(c, "taken")), ("taken", "output=")),
    "output path that is a file (eval)": Case(
        "evaluate", lambda c: c.eval(f"output_dir={_file(c, 'taken')}"), ("taken", "output_dir="),
        watch=lambda c: c.tmp / "taken"),
    "output path that is a file (predict_offsets)": Case(
        "predict_offsets", lambda c: c.offsets(f"output_dir={_file(c, 'taken')}"), ("taken", "output_dir="),
        watch=lambda c: c.tmp / "taken"),
    "output path not writable": Case(
        "refine", lambda c: c.refine(output=Path("/sys/ocseg_out")), ("/sys/ocseg_out", "output=")),
    "output path not writable (segfix-gt)": Case(
        "segfix_ground_truth", lambda c: c.gt(f"input={c.w.root / 'labels/val'}", "output=/sys/ocseg_out",
                                              "dataset=folder", f"dataset.root={c.w.root}"),
        ("/sys/ocseg_out", "output=")),
    "corrupt label PNG (segfix-gt)": Case(
        "segfix_ground_truth",
        lambda c: c.gt(f"input={_broken_tree(c, lambda r: _truncate(r / 'labels/val/img2.png'))}/labels/val",
                       "dataset=folder", f"dataset.root={c.w.root}"),
        ("labels/val/img2.png", "cannot be decoded", "replace it")),
    "empty input folder (refine)": Case(
        "refine", lambda c: [f"input={_empty(c, 'empty')}", *c.refine()[1:]], ("empty", "input=")),
    "empty input folder (predict_offsets)": Case(
        "predict_offsets", lambda c: c.offsets(f"input_dir={_empty(c, 'empty')}"), ("empty", "input_dir=")),
    "empty input folder (segfix-gt)": Case(
        "segfix_ground_truth", lambda c: c.gt(f"input={_empty(c, 'empty')}"), ("empty", "input=")),
    "missing download folder (prepare)": Case(
        "prepare", lambda c: ["dataset=cityscapes", f"raw_dir={c.tmp / 'downloads'}", f"out_dir={c.out}",
                              f"hydra.run.dir={c.tmp / 'run'}"], ("downloads", "raw_dir=")),
    "output path not writable (prepare)": Case(
        "prepare", lambda c: ["dataset=cityscapes", f"raw_dir={_empty(c, 'downloads')}", "out_dir=/sys/ocseg_out",
                              f"hydra.run.dir={c.tmp / 'run'}"], ("/sys/ocseg_out", "out_dir=")),
    "data.global_batch_size not divisible by the device count": Case(
        "train", lambda c: c.train("trainer=ddp_cpu", "trainer.devices=2", "data.batch_size=null",
                                   "data.global_batch_size=3"),
        ("data.global_batch_size=3", "2")),
    # -- round 3 (issue 17): files that would run code, names that leave their folder, damaged files
    "ImageNet file that would run code (train)": Case(
        "train", lambda c: c.train(f"backbone.pretrained={_hostile_torch_file(c, 'w18.pth', 'state_dict')}"),
        ("backbone.pretrained=", "w18.pth", "exec", "trust_checkpoint=true")),
    "checkpoint that would run code (eval)": Case(
        "evaluate", lambda c: c.eval(ckpt=_hostile_torch_file(c, "evil.ckpt", "checkpoint")),
        ("evil.ckpt", "exec", "could run code", "trust_checkpoint=true")),
    "instance list naming a mask outside its folder (refine)": Case(
        "refine", lambda c: [f"input={_submission(c, '../x/m.png')}", "mode=instance", *c.refine()[1:]],
        ("img0_pred.txt", "'../x/m.png'", "leads outside")),
    "offsets archive with a bad CRC (refine)": Case(
        "refine", lambda c: c.refine(offsets=_offsets_archive(c, lambda a: _break_crc(
            a, "val/semantic/offset_hrnext/img2.mat"))),
        ("offset_semantic.zip:val/semantic/offset_hrnext/img2.mat", "CRC", "download or write it again")),
    "MATLAB v7.3 (HDF5) offsets (refine)": Case(
        "refine", lambda c: c.refine(offsets=_copy_offsets(c, lambda f: _hdf5_mat(f / "img2.mat"))),
        ("img2.mat", "MATLAB v7.3 (HDF5)", "-v7")),
    "0-byte image in a training folder (train)": Case(
        "train", lambda c: c.train(root=_broken_tree(c, lambda r: (r / "images/train/tr1.png").write_bytes(b""))),
        ("images/train/tr1.png", "cannot be decoded", "data.on_bad_file=skip")),
    "dataset.root is a file (train, default dataset)": Case(
        "train", lambda c: [a for a in c.train(root=_file(c, "notes.txt")) if a != "dataset=folder"],
        ("dataset.root=", "notes.txt", "is a file, not a folder")),
    "colour label PNG (eval)": Case(
        "evaluate", lambda c: c.eval(root=_rewrite_label(c, "img2", np.zeros((H, W, 3), np.uint8))),
        ("labels/val/img2.png", "colour image (RGB PNG)", "_labelIds.png")),
    "archive member outside raw_dir (prepare)": Case(
        "prepare", lambda c: ["dataset=cityscapes", f"out_dir={c.out}", f"hydra.run.dir={c.tmp / 'run'}",
                              f"raw_dir={_download_with(c, 'leftImg8bit_trainvaltest.zip', '../../evil.png')}"],
        ("leftImg8bit_trainvaltest.zip", "'../../evil.png'", "leads outside")),
    "fewer training images than one batch": Case(
        "train", lambda c: c.train("data.batch_size=null", "data.global_batch_size=8"),
        ("2 images", "data.global_batch_size=8", "0 steps", "data.global_batch_size=2")),
    "crop larger than every training image": Case(
        "train", lambda c: c.train("dataset.crop_size=[512,512]"),
        ("dataset.crop_size=[512, 512]", f"{H}×{W}", f"dataset.crop_size=[{H},{W}]")),
    "classes.yaml colour list of the wrong length": Case(
        "evaluate", lambda c: c.eval(root=_broken_tree(c, lambda r: (r / "classes.yaml").write_text(
            "names: [background, cat, dog]\ncolors: [[0, 0, 0], [255, 0, 0]]\n"
            "id_map: {0: 0, 1: 1, 7: 2}\n"))),
        ("classes.yaml", "colors", "one [r, g, b] per name")),
    "unknown zoo: name": Case(
        "evaluate", lambda c: c.eval(ckpt="zoo:cityscapes_hrnet99"),
        ("unknown zoo name 'zoo:cityscapes_hrnet99'", "zoo:cityscapes_hrnet48_ocr")),
    "export to a file that is not .onnx": Case(
        "export", lambda c: [f"ckpt_path={c.w.ckpt}", f"output={c.out / 'model.txt'}",
                             f"hydra.run.dir={c.tmp / 'run'}"],
        ("model.txt", "must end in .onnx")),
}


def _break_crc(archive: Path, member: str) -> None:
    from helpers.hostile import break_crc

    break_crc(archive, member)


def _hdf5_mat(path: Path) -> None:
    from helpers.hostile import hdf5_mat

    hdf5_mat(path)


def _write_offsets(path: Path, dense: np.ndarray) -> None:
    from ocseg.segfix.offsets.files import write_offsets

    write_offsets(path, dense)


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    if not folder.exists():
        return {}
    if folder.is_file():
        return {".": (folder.stat().st_size, folder.stat().st_mtime_ns)}
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*") if p.is_file() and ".hydra" not in p.parts
            and p.suffix != ".log"}


def _run_real(tool: str, args: list[str], cwd: Path) -> tuple[int, str]:
    shim = {"refine": [str(REPO / "refine.py")]}[tool]
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    done = subprocess.run([sys.executable, *shim, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)
    return done.returncode, done.stderr


def test_the_matrix_has_the_cases_the_issue_asks_for():
    assert len(CASES) >= 20


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(name, world, cli_server, tmp_path):
    case = CASES[name]
    ctx = Ctx(world, tmp_path / "case")
    ctx.tmp.mkdir()
    args = case.args(ctx)
    watched = case.watch(ctx)
    before = _snapshot(watched)
    if case.tool == "refine":
        rc, stderr = _run_real(case.tool, args, ctx.tmp)
    else:
        logs = tmp_path / "logs"
        logs.mkdir()
        rc, stderr = cli_server.run(case.tool, args, ctx.tmp, logs)
    errors = [ln for ln in stderr.splitlines() if ln.startswith("error:")]
    print(name, "→", errors)
    assert rc == 2, stderr[-3000:]
    assert len(errors) == 1, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    for fragment in case.expect:
        assert fragment in errors[0], (fragment, errors[0])
    assert _snapshot(watched) == before
    assert not (ctx.tmp / "marker").exists()  # a pickle payload (helpers.hostile) never ran


def test_training_reads_refuse_a_truncated_jpeg(tmp_path):
    """OpenCV decodes a truncated JPEG with a warning only; ocseg's reader refuses it, so
    training (data.on_bad_file=error|skip) never learns from a half-grey image."""
    from ocseg.io.image_io import CorruptFileError, read_image

    path = tmp_path / "a.jpg"
    assert cv2.imwrite(str(path), np.random.RandomState(0).randint(0, 255, (40, 60, 3), np.uint8))
    assert read_image(path).shape == (40, 60, 3)
    _truncate(path, 0.7)
    assert cv2.imread(str(path)) is not None  # what OpenCV alone would accept
    with pytest.raises(CorruptFileError, match="a.jpg' cannot be decoded"):
        read_image(path)
