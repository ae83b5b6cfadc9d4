"""Property-based bad input for every command-line tool: the harness that finds the next case.

For each tool a valid run is built (tiny inputs laid out as the real ones), then Hypothesis
applies one *mutation* to it — a damaged input file (truncated, bytes flipped, garbage appended,
random bytes), an odd but valid file (16-bit, grey+alpha, RGBA, palette, another size), a file
whose pickle would run code, a symbolic link out of the folder, an input renamed to a hostile name,
an instance list line with a hostile mask path, an archive member with a hostile name — and the
tool is run as a user runs it (the console script's function in a fresh forked process,
``tests/helpers/cli_forkserver.py``). Every run must satisfy:

* exit code 0, or 2 with exactly one ``error:`` line; never a traceback;
* nothing written or changed outside the output folder (and Hydra's run folder), anywhere above;
* no partial output: after exit 2 the output folder is as before, except for the errors the tool
  documents as found only when a file is read (docs/troubleshooting.md, "When inputs are
  checked"), after which every output present is complete (no temporary file left);
* no pickle payload ran.

Extending it: a mutation is data, ``(kind, *values)``, drawn from a tool's ``mutations``
strategy and applied by :func:`apply`. Option values are mutations of kind ``"arg"`` (an extra
``key=value``): add a strategy of them to a tool's ``mutations`` in :data:`TOOLS`.
The examples per tool are in :data:`TOOLS` (83, plus the pinned ones); the file runs ≈2 minutes on one core.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from helpers.checkpoints import make_checkpoint
from helpers.data_fakes import fixed_folder_tree, write_png
from helpers.hostile import torch_file
from helpers.strategies import HOSTILE_LINES, Damage, damaged, harness_settings, hostile_names, odd_png, snapshot

H, W = 24, 32
NAMES = ("img0", "img1", "img2")


# ---- the valid inputs, built once ------------------------------------------------------------
def _segfix_inputs(root: Path) -> None:
    from ocseg.segfix.offsets.files import write_offsets

    rng = np.random.RandomState(1)
    for name in NAMES:
        write_png(root / "preds" / f"{name}.png", rng.choice([0, 1, 7], (H, W)).astype(np.uint8))
        write_offsets(root / "offsets" / f"{name}.mat", rng.randint(-1, 2, (H, W, 2)), mat_dtype="int32")
        mask = np.zeros((H, W), np.uint8)
        mask[4:12, 5:20] = 255
        write_png(root / "sub" / "masks" / f"{name}_0.png", mask)
    (root / "sub" / "img0_pred.txt").write_text("masks/img0_0.png 26 0.9\nmasks/img1_0.png 24 0.5\n")


def _cityscapes_downloads(root: Path) -> None:
    rng = np.random.RandomState(2)
    with zipfile.ZipFile(root / "leftImg8bit_trainvaltest.zip", "w", zipfile.ZIP_STORED) as images, \
            zipfile.ZipFile(root / "gtFine_trainvaltest.zip", "w", zipfile.ZIP_STORED) as labels:
        for split, city in (("train", "aachen"), ("val", "lindau")):
            stem = f"{city}_000000_000000"
            image = cv2_png(rng.randint(0, 255, (H, W, 3), np.uint8))
            images.writestr(f"leftImg8bit/{split}/{city}/{stem}_leftImg8bit.png", image)
            label = cv2_png(rng.choice([7, 8, 26], (H, W)).astype(np.uint8))
            labels.writestr(f"gtFine/{split}/{city}/{stem}_gtFine_labelIds.png", label)


def cv2_png(array: np.ndarray) -> bytes:
    import cv2

    return cv2.imencode(".png", array)[1].tobytes()


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """Every tool's valid inputs under one folder, copied into each example's own folder."""
    root = tmp_path_factory.mktemp("properties_template")
    fixed_folder_tree(root / "data", NAMES, colors=False)
    _segfix_inputs(root)
    (root / "downloads").mkdir()
    _cityscapes_downloads(root / "downloads")
    folder = ["dataset=folder", f"dataset.root={root / 'data'}"]
    make_checkpoint(root / "ckpt" / "tiny.ckpt", overrides=folder)
    make_checkpoint(root / "ckpt" / "segfix.ckpt", kind="segfix")
    return root


# ---- a run and its mutations -----------------------------------------------------------------
@dataclass
class Run:
    """One example's folders: ``root`` holds everything; the tool may write only ``out``,
    ``run`` (Hydra's) and ``allowed``."""

    root: Path
    tool: str = ""
    args: list[str] = field(default_factory=list)
    allowed: tuple[Path, ...] = ()

    @property
    def out(self) -> Path:
        return self.root / "o" / "out"  # two levels down: an escaping ../ still lands in root

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def marker(self) -> Path:
        return self.root / "marker"


def _write(path: Path, data: bytes) -> None:
    if path.is_symlink() or path.exists():
        path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def apply(run: Run, mutation: tuple) -> None:
    """Apply one mutation (see the module docstring) to the example's inputs or arguments."""
    kind, *values = mutation
    if kind == "arg":
        run.args.append(values[0])
    elif kind == "damage":  # (slot, damage function drawn by helpers.strategies.damaged)
        slot, change = values
        path = run.root / slot
        _write(path, change(path.read_bytes()))
    elif kind == "replace":  # (slot, bytes)
        _write(run.root / values[0], values[1])
    elif kind == "payload":  # a PyTorch file whose pickle would create the marker
        torch_file(run.root / values[0], run.marker, values[1]).replace(run.root / values[0])
    elif kind == "link":  # (slot, where): the file becomes a symbolic link out of its folder
        slot, where = values
        path = run.root / slot
        outside = run.root / "elsewhere" / path.name
        outside.parent.mkdir(exist_ok=True)
        if path.exists():
            shutil.copyfile(path, outside)
        target = {"outside": outside, "dangling": run.root / "nothing", "folder": run.root / "elsewhere",
                  "output": run.out, "self": path}[where]
        path.unlink(missing_ok=True)
        path.symlink_to(target)
    elif kind == "rename":  # (slot, name): the file (and a label of the same name) renamed
        slot, name = values
        path = run.root / slot
        for twin in {path, Path(str(path).replace("/images/", "/labels/")).with_suffix(".png")}:
            if twin.exists():
                twin.rename(twin.with_name(name + twin.suffix))
    elif kind == "lines":  # (slot, lines): a text file's lines
        _write(run.root / values[0], "\n".join(values[1]).encode("utf-8", "surrogatepass"))
    elif kind == "member":  # (archive slot, member name, bytes): one more member in a zip
        archive, name, data = values
        with zipfile.ZipFile(run.root / archive, "a") as zf:
            zf.writestr(zipfile.ZipInfo(name), data)
    else:
        raise ValueError(f"unknown mutation {kind!r}")


def _files(slots: list[str], valid_png: bool = True) -> st.SearchStrategy[tuple]:
    """Mutations of image/label files: damaged, odd but valid, a link out, a hostile name."""
    strategies = [
        st.tuples(st.just("damage"), st.sampled_from(slots), damaged()),
        st.tuples(st.just("link"), st.sampled_from(slots), st.sampled_from(["outside", "dangling", "folder",
                                                                           "output", "self"])),
        st.tuples(st.just("rename"), st.sampled_from(slots),
                  hostile_names().filter(lambda n: n not in ("", ".", "..") and "/" not in n and "\x00" not in n)),
    ]
    if valid_png:
        strategies.append(st.tuples(st.just("replace"), st.sampled_from(slots), odd_png(H, W)))
    return st.one_of(*strategies)


def _torch_files(slot: str, kind: str) -> st.SearchStrategy[tuple]:
    return st.one_of(st.tuples(st.just("damage"), st.just(slot), damaged()),
                     st.just(("payload", slot, kind)))


# ---- the tools -------------------------------------------------------------------------------
def _eval(run: Run) -> None:
    run.tool = "evaluate"
    run.args = [f"ckpt_path={run.root / 'ckpt/tiny.ckpt'}", f"dataset.root={run.root / 'data'}",
                f"output_dir={run.out}", "data.num_workers=0", "trainer.enable_progress_bar=false"]


def _predict_offsets(run: Run) -> None:
    run.tool = "predict_offsets"
    run.args = [f"ckpt_path={run.root / 'ckpt/segfix.ckpt'}", f"input_dir={run.root / 'data/images/val'}",
                f"output_dir={run.out}", "data.num_workers=0", "progress=false", "backbone=hrnet_tiny",
                "predictor.mode=whole"]


def _refine(run: Run) -> None:
    run.tool = "refine"
    run.args = [f"input={run.root / 'preds'}", f"offsets={run.root / 'offsets'}", f"output={run.out}",
                f"metrics_file={run.out / 'metrics.json'}", "workers=1"]


def _refine_instance(run: Run) -> None:
    run.tool = "refine"
    run.args = ["mode=instance", f"input={run.root / 'sub'}", f"offsets={run.root / 'offsets'}",
                f"output={run.out}", f"metrics_file={run.out / 'metrics.json'}", "workers=1"]


def _segfix_gt(run: Run) -> None:
    run.tool = "segfix_ground_truth"
    run.args = [f"input={run.root / 'data/labels/val'}", f"output={run.out}", "dataset=folder",
                f"dataset.root={run.root / 'data'}", "workers=1"]


def _prepare(run: Run) -> None:
    run.tool = "prepare"
    run.args = ["dataset=cityscapes", f"raw_dir={run.root / 'downloads'}", f"out_dir={run.out}"]
    run.allowed = (run.root / "downloads",)  # the archives are unpacked beside them


def _train(run: Run) -> None:
    run.tool = "train"
    run.args = ["dataset=folder", f"dataset.root={run.root / 'data'}", "model=tiny_fcn", "data.num_workers=0",
                "data.batch_size=2", "schedule.max_steps=1", "logger=none", "trainer.enable_progress_bar=false",
                "~callbacks.progress_bar", f"paths.output_dir={run.out}", "dataset.crop_size=[16,16]"]


VAL_IMAGES = [f"data/images/val/{n}.png" for n in NAMES]
VAL_LABELS = [f"data/labels/val/{n}.png" for n in NAMES]
ARCHIVES = ["downloads/leftImg8bit_trainvaltest.zip", "downloads/gtFine_trainvaltest.zip"]


@dataclass(frozen=True)
class Tool:
    build: Callable[[Run], None]
    mutations: st.SearchStrategy[tuple]
    examples: int
    #: errors the tool documents as found only when the file is read (outputs before it are kept)
    mid_run: str | None = None
    #: mutations always run (cases longer searches found, kept as regressions)
    pinned: tuple[tuple, ...] = ()


TOOLS: dict[str, Tool] = {
    "eval": Tool(_eval, st.one_of(_files(VAL_IMAGES + VAL_LABELS),
                                  st.tuples(st.just("damage"), st.just("data/classes.yaml"), damaged()),
                                  _torch_files("ckpt/tiny.ckpt", "checkpoint")),
                 examples=10, mid_run=r"contains ids \["),
    "predict_offsets": Tool(_predict_offsets, st.one_of(_files(VAL_IMAGES),
                                                        _torch_files("ckpt/segfix.ckpt", "checkpoint")),
                            examples=8),
    "refine": Tool(_refine, st.one_of(
        _files([f"preds/{n}.png" for n in NAMES]),
        _files([f"offsets/{n}.mat" for n in NAMES], valid_png=False),
        st.tuples(st.just("damage"), st.sampled_from([f"offsets/{n}.npz" for n in NAMES]), damaged()),
    ), examples=20, mid_run=r"offset file '.*' cannot be read",
        pinned=(("damage", "preds/img1.png", Damage("truncate", 0.5)),)),
    "refine instance": Tool(_refine_instance, st.one_of(
        st.tuples(st.just("lines"), st.just("sub/img0_pred.txt"), st.lists(HOSTILE_LINES, min_size=1, max_size=3)),
        _files(["sub/masks/img0_0.png", "sub/masks/img1_0.png"]),
    ), examples=16, pinned=(("link", "sub/masks/img0_0.png", "self"),)),
    "segfix-gt": Tool(_segfix_gt, _files(VAL_LABELS), examples=12),
    "prepare": Tool(_prepare, st.one_of(
        st.tuples(st.just("damage"), st.sampled_from(ARCHIVES), damaged()),
        st.tuples(st.just("member"), st.sampled_from(ARCHIVES), hostile_names(), st.binary(max_size=64)),
    ), examples=12, mid_run=r"cannot be decoded|has \d channels|ids outside",
        pinned=(("member", "downloads/leftImg8bit_trainvaltest.zip", "", b""),)),
    "train": Tool(_train, st.one_of(
        _files(["data/images/train/tr0.png", "data/labels/train/tr1.png"]),
        _torch_files("pretrained/w.pth", "state_dict"),
        st.tuples(st.just("arg"), st.sampled_from(["data.on_bad_file=skip", "data.on_bad_file=error"])),
    ), examples=5),
}


def _needs(run: Run, mutation: tuple) -> None:
    """Inputs a mutation refers to that the valid run does not have: the ImageNet file of
    train (given as ``backbone.pretrained=``), an ``.npz`` offsets file in place of a ``.mat``."""
    slot = mutation[1] if len(mutation) > 1 and isinstance(mutation[1], str) else ""
    if slot.startswith("pretrained/"):
        path = run.root / slot
        torch_file(path, run.root / "unused", "state_dict")
        run.args.append(f"backbone.pretrained={path}")
    if slot.endswith(".npz"):
        from ocseg.segfix.offsets.files import read_offsets, write_offsets

        mat = run.root / slot.replace(".npz", ".mat")
        write_offsets(run.root / slot, read_offsets(mat).dense().clip(-1, 1))
        mat.unlink()


_SKIP_OUT = re.compile(r"(^|/)\.hydra(/|$)|\.log$")


def _outputs(run: Run) -> dict:
    return {k: v for k, v in snapshot(run.out).items() if not _SKIP_OUT.search(k)} if run.out.exists() else {}


def check_contract(tool: Tool, run: Run, rc: int, stderr: str, outside_before: dict, siblings: set) -> None:
    errors = [ln for ln in stderr.splitlines() if ln.startswith("error:")]
    assert "Traceback" not in stderr, stderr[-4000:]
    assert rc in (0, 2), f"exit code {rc}\n{stderr[-4000:]}"
    assert len(errors) == (1 if rc == 2 else 0), stderr[-4000:]
    assert not run.marker.exists(), "a pickle payload ran"
    assert snapshot(run.root, skip=(run.out, run.run, *run.allowed)) == outside_before, \
        "files appeared or changed outside the output folder"
    assert set(p.name for p in run.root.parent.iterdir()) == siblings, "a file appeared above the example"
    if rc == 2:
        written = _outputs(run)
        leftovers = [k for k in written if Path(k).name.startswith(".")]
        assert not leftovers, f"temporary files left: {leftovers}"
        if not (tool.mid_run and re.search(tool.mid_run, errors[0])):
            assert written == {}, f"outputs written before the error: {sorted(written)[:5]}\n{errors[0]}"


@pytest.fixture(scope="module")
def examples_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("properties")


def _example(template: Path, examples_root: Path, name: str, mutation: tuple, cli_server) -> None:
    tool = TOOLS[name]
    run = Run(Path(tempfile.mkdtemp(dir=examples_root)) / "e")
    shutil.copytree(template, run.root, symlinks=True)
    tool.build(run)
    _needs(run, mutation)
    apply(run, mutation)
    run.args += [f"hydra.run.dir={run.run}"]
    outside_before = snapshot(run.root, skip=(run.out, run.run, *run.allowed))
    siblings = set(p.name for p in run.root.parent.iterdir())
    logs = run.root.parent / "logs"
    logs.mkdir()
    others = set(examples_root.iterdir())
    rc, stderr = cli_server.run(run.tool, run.args, run.root, logs)
    try:
        check_contract(tool, run, rc, stderr, outside_before, siblings | {"logs"})
        assert set(examples_root.iterdir()) == others, "a file appeared above the example"
    except AssertionError as exc:
        raise AssertionError(f"{name} with mutation {mutation!r}: {exc}") from None
    finally:
        shutil.rmtree(run.root.parent, ignore_errors=True)


def _make_test(name: str):
    tool = TOOLS[name]

    def test(template, examples_root, cli_server, mutation):
        _example(template, examples_root, name, mutation, cli_server)

    for mutation in tool.pinned:
        test = example(mutation=mutation)(test)
    test = harness_settings(tool.examples)(given(mutation=tool.mutations)(test))

    test.__name__ = f"test_{name.replace(' ', '_').replace('-', '_')}_bad_input_property"
    return test


for _name in TOOLS:
    _test = _make_test(_name)
    globals()[_test.__name__] = _test
