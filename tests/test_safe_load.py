"""No file a user hands ocseg can run code: one safe loader (``ocseg.io.safe_load``), checked
three ways.

* The source: no ``torch.load``, ``pickle``, ``np.load`` or ``loadmat`` call (nor an import of
  a pickling module) anywhere in ``src/`` outside the safe module (parsed, not grepped as text,
  so a docstring that names ``torch.load`` is not a call).
* Each loader, from Python: a file whose pickle would create a marker file is refused in one
  line naming the file, the global it asks for and ``trust_checkpoint=true``; the marker does
  not exist. Where ``trust_checkpoint`` opens the file, the marker does appear (the payload is
  live, so the first assertion can fail).
* Each tool that reads such a file: exit code 2, one ``error:`` line, no traceback, no marker.
"""

from __future__ import annotations

import ast
import contextlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers.config import REPO
from helpers.data_fakes import folder_raw
from helpers.hostile import hdf5_mat, pickled_npz, torch_file
from ocseg.errors import OcsegError, UnsafeFileError

SAFE_MODULE = REPO / "src" / "ocseg" / "io" / "safe_load.py"
# calls that deserialise (dotted name as written, or its last part for the bare names)
_LOAD_CALLS = {"torch.load", "torch.jit.load", "pickle.load", "pickle.loads", "np.load", "numpy.load",
               "marshal.load", "marshal.loads", "dill.load", "dill.loads", "joblib.load", "shelve.open",
               "yaml.load", "yaml.unsafe_load", "yaml.full_load"}
_LOAD_NAMES = {"loadmat", "Unpickler", "whosmat"}
_PICKLING_MODULES = {"pickle", "_pickle", "cPickle", "dill", "joblib", "marshal", "shelve"}


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def load_calls(source: str, filename: str = "<src>") -> list[str]:
    """``file:line name`` of every deserialising call or import in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        name = ""
        if isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name not in _LOAD_CALLS and name.rsplit(".", 1)[-1] not in _LOAD_NAMES:
                name = ""
        elif isinstance(node, ast.Import):
            name = ", ".join(a.name for a in node.names if a.name.split(".")[0] in _PICKLING_MODULES)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            loads = [a.name for a in node.names if a.name in ("load", "loads", "loadmat", "Unpickler")]
            if module.split(".")[0] in _PICKLING_MODULES or (loads and module in ("torch", "numpy", "scipy.io")):
                name = f"from {module} import {', '.join(a.name for a in node.names)}"
        if name:
            found.append(f"{filename}:{node.lineno} {name}")
    return found


def test_the_scanner_finds_load_calls_and_ignores_prose():
    planted = ('"""torch.load(x) in a docstring is prose."""\nimport pickle\nimport torch\n'
               'from scipy.io import loadmat\nimport numpy as np\n'
               'torch.load(p)\nnp.load(p, allow_pickle=True)\nscipy.io.loadmat(p)\npickle.loads(b)\n')
    found = [f.split(" ", 1)[1] for f in load_calls(planted)]
    assert sorted(found) == sorted(["pickle", "from scipy.io import loadmat", "torch.load", "np.load",
                                    "scipy.io.loadmat", "pickle.loads"])


def test_no_load_call_outside_the_safe_module():
    offenders = []
    for path in sorted((REPO / "src" / "ocseg").rglob("*.py")):
        if path == SAFE_MODULE or "conf" in path.relative_to(REPO / "src" / "ocseg").parts[:1]:
            continue
        offenders += load_calls(path.read_text(), str(path.relative_to(REPO)))
    assert offenders == [], "load calls outside ocseg/io/safe_load.py:\n" + "\n".join(offenders)
    assert load_calls(SAFE_MODULE.read_text()), "the safe module itself must hold the loads"


# ---- each loader, from Python ----------------------------------------------------------------
def _refused(exc: pytest.ExceptionInfo, path: Path, marker: Path) -> None:
    text = str(exc.value)
    assert not marker.exists(), f"the pickle's payload ran while reading {path}"
    assert isinstance(exc.value, UnsafeFileError), text
    assert "\n" not in text and str(path) in text and "exec" in text, text
    assert "trust_checkpoint=true" in text, text


@pytest.mark.parametrize("kind", ["checkpoint", "legacy"])
def test_checkpoint_reader_refuses_a_pickle_payload(tmp_path, kind):
    """eval.py, predict_offsets.py, train.py ckpt_path= and ocseg.load read checkpoints here."""
    from ocseg.checkpoints import read_checkpoint

    marker = tmp_path / "marker"
    path = torch_file(tmp_path / "evil.ckpt", marker, kind)
    with pytest.raises(OcsegError) as exc:
        read_checkpoint(path)
    _refused(exc, path, marker)
    with contextlib.suppress(OcsegError):  # a plain pickle is then not a valid torch file
        read_checkpoint(path, trust=True)  # trust_checkpoint=true: unpickled, the payload runs
    assert marker.exists()


def test_imagenet_file_reader_refuses_a_pickle_payload(tmp_path):
    """backbone.pretrained= (the defect: torch.load(weights_only=False) ran the payload)."""
    from ocseg.models.backbones.hrnet import HRNet

    marker = tmp_path / "marker"
    path = torch_file(tmp_path / "hrnetv2_w48_imagenet_pretrained.pth", marker, "state_dict")
    with pytest.raises(OcsegError) as exc:
        HRNet("hrnet_tiny", pretrained=str(path))
    _refused(exc, path, marker)
    from ocseg.io.safe_load import trusted_files

    with trusted_files(True), pytest.raises(OcsegError, match="holds no state dict of tensors"):
        HRNet("hrnet_tiny", pretrained=str(path))
    assert marker.exists()


def test_init_from_refuses_a_pickle_payload(tmp_path):
    from ocseg.checkpoints.stage_init import init_from_checkpoint
    from ocseg.models.backbones.hrnet import HRNet

    marker = tmp_path / "marker"
    path = torch_file(tmp_path / "previous_stage.ckpt", marker)
    with pytest.raises(OcsegError) as exc:
        init_from_checkpoint(HRNet("hrnet_tiny"), path)
    _refused(exc, path, marker)
    with pytest.raises(OcsegError, match="init_from=<file>"):
        init_from_checkpoint(HRNet("hrnet_tiny"), tmp_path / "missing.ckpt")


def test_lightning_resume_reads_through_the_safe_loader(tmp_path):
    """The checkpoint Lightning resumes (trainer.fit(ckpt_path=)) is read by ocseg's plugin."""
    from ocseg.io.safe_load import trusted_files
    from ocseg.lightning import AtomicCheckpointIO

    marker = tmp_path / "marker"
    path = torch_file(tmp_path / "last.ckpt", marker)
    with pytest.raises(OcsegError) as exc:
        AtomicCheckpointIO().load_checkpoint(path)
    _refused(exc, path, marker)
    with trusted_files(True):
        plugin = AtomicCheckpointIO()  # takes the trust of the block it is built in
    plugin.load_checkpoint(path)
    assert marker.exists()


def test_ocseg_load_refuses_a_pickle_payload(tmp_path):
    import ocseg

    marker = tmp_path / "marker"
    path = torch_file(tmp_path / "evil.pth", marker)
    with pytest.raises(OcsegError) as exc:
        ocseg.load(path, model="tiny_fcn", num_classes=3)
    _refused(exc, path, marker)


def test_offsets_npz_refuses_a_pickled_array(tmp_path):
    from ocseg.segfix.offsets.files import read_offsets

    marker = tmp_path / "marker"
    path = pickled_npz(tmp_path / "img.npz", marker)
    with pytest.raises(UnsafeFileError) as exc:
        read_offsets(path)
    text = str(exc.value)
    assert str(path) in text and "entry 'code'" in text and "exec" in text, text
    assert not marker.exists()
    with pytest.raises(UnsafeFileError):  # the same bytes inside an archive
        read_offsets("archive.zip:img.npz", data=path.read_bytes())
    assert not marker.exists()


@pytest.mark.parametrize("reader", ["offsets", "ground_truth", "coco_stuff", "pascal_context"])
def test_mat_readers_refuse_hdf5_and_empty_files_in_one_line(tmp_path, reader):
    from ocseg.data.prepare.coco_stuff import mat_label
    from ocseg.data.prepare.pascal_context import context59_label
    from ocseg.segfix.ground_truth.files import read_ground_truth
    from ocseg.segfix.offsets.files import read_offsets

    read = {"offsets": read_offsets, "ground_truth": read_ground_truth, "coco_stuff": mat_label,
            "pascal_context": context59_label}[reader]
    for path, expect in ((hdf5_mat(tmp_path / "v73.mat"), "MATLAB v7.3 (HDF5)"),
                         (tmp_path / "empty.mat", "is empty (0 bytes)"),
                         (tmp_path / "noise.mat", "cannot be read")):
        if not path.exists():
            path.write_bytes(b"" if "empty" in path.name else np.random.RandomState(0).bytes(300))
        with pytest.raises(OcsegError) as exc:
            read(path)
        assert str(path) in str(exc.value) and expect in str(exc.value) and "\n" not in str(exc.value)


# ---- each tool -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("safe_load") / "data"
    folder_raw(root)
    return root


def _tool(cli_server, tmp_path: Path, tool: str, args: list[str]) -> tuple[int, str]:
    logs = tmp_path / "logs"
    logs.mkdir()
    if tool == "refine":  # loads no torch: run as the user does
        env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
        done = subprocess.run([sys.executable, str(REPO / "refine.py"), *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)
        return done.returncode, done.stderr
    return cli_server.run(tool, args, tmp_path, logs)


def _train(root: Path, tmp: Path, *args: str) -> list[str]:
    return ["dataset=folder", f"dataset.root={root}", "model=tiny_fcn", "data.num_workers=0",
            "data.batch_size=2", "schedule.max_steps=1", "logger=none", "trainer.enable_progress_bar=false",
            "~callbacks.progress_bar", f"paths.output_dir={tmp / 'out'}", *args]


TOOL_CASES = {
    "train backbone.pretrained=": ("train", "state_dict", lambda r, t, f: _train(r, t, f"backbone.pretrained={f}")),
    "train init_from=": ("train", "checkpoint", lambda r, t, f: _train(r, t, f"init_from={f}")),
    "train ckpt_path=": ("train", "checkpoint", lambda r, t, f: _train(r, t, f"ckpt_path={f}")),
    "eval ckpt_path=": ("evaluate", "checkpoint", lambda r, t, f: [
        f"ckpt_path={f}", "model=tiny_fcn", "dataset=folder", f"dataset.root={r}",
        f"output_dir={t / 'out'}", f"hydra.run.dir={t / 'run'}", "data.num_workers=0"]),
    "predict_offsets ckpt_path=": ("predict_offsets", "checkpoint", lambda r, t, f: [
        f"ckpt_path={f}", "model=segfix_hrnet2x20", "backbone=hrnet_tiny", f"input_dir={r / 'images' / 'val'}",
        f"output_dir={t / 'out'}", f"hydra.run.dir={t / 'run'}", "data.num_workers=0", "progress=false"]),
    "refine offsets= (.npz)": ("refine", "npz", lambda r, t, f: [
        f"input={r / 'labels' / 'val'}", f"offsets={f.parent}", f"output={t / 'out'}",
        f"hydra.run.dir={t / 'run'}", "workers=1"]),
}


@pytest.mark.parametrize("name", list(TOOL_CASES))
def test_tools_refuse_a_pickle_payload(name, data_root, cli_server, tmp_path):
    tool, kind, args = TOOL_CASES[name]
    marker = tmp_path / "marker"
    if kind == "npz":
        path = pickled_npz(tmp_path / "offsets" / "sub" / "img0.npz", marker)
    else:
        path = torch_file(tmp_path / "files" / "evil.pth", marker, kind)
    rc, stderr = _tool(cli_server, tmp_path, tool, args(data_root, tmp_path, path))
    errors = [ln for ln in stderr.splitlines() if ln.startswith("error:")]
    assert not marker.exists(), f"the pickle's payload ran while {tool} read {path}"
    assert rc == 2, stderr[-3000:]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr[-3000:]
    assert str(path) in errors[0] and "exec" in errors[0], errors[0]
    assert not any((tmp_path / "out").rglob("*.png")) and not (tmp_path / "out" / "metrics.json").exists()


def test_trust_checkpoint_opens_the_imagenet_file_in_train(data_root, cli_server, tmp_path):
    """trust_checkpoint=true means the same for an ImageNet file as for a checkpoint: it reaches
    the backbone's loader, which runs while train.py builds the network."""
    marker = tmp_path / "marker"
    path = torch_file(tmp_path / "files" / "evil.pth", marker, "state_dict")
    rc, stderr = _tool(cli_server, tmp_path, "train",
                       _train(data_root, tmp_path, f"backbone.pretrained={path}", "trust_checkpoint=true"))
    assert marker.exists(), stderr[-3000:]
    assert rc == 2 and "holds no state dict of tensors" in stderr, stderr[-3000:]
