"""ocseg as users install it: the wheel carries the configuration, works outside the checkout and
brings the console scripts; every tool answers --help with its groups and examples."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

TOOLS = ["ocseg-train", "ocseg-eval", "ocseg-predict-offsets", "ocseg-refine", "ocseg-prepare",
         "ocseg-segfix-gt"]
SHIMS = {"train.py": "ocseg-train", "eval.py": "ocseg-eval",
         "predict_offsets.py": "ocseg-predict-offsets", "refine.py": "ocseg-refine"}


def _run(args: list[str], cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(pythonpath))
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("script,tool", sorted(SHIMS.items()))
def test_help_shows_the_groups_and_examples(script, tool, tmp_path):
    proc = _run([sys.executable, str(REPO / script), "--help"], tmp_path, REPO / "src")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(tool)
    assert "dataset: " in proc.stdout and "synthetic_city" in proc.stdout
    examples = proc.stdout.split("Examples:")[1].splitlines()
    assert sum(line.strip().startswith(tool) for line in examples) == 3
    assert not list(tmp_path.iterdir())  # --help writes no run folder


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The wheel of this checkout installed into a folder of its own (no editable links)."""
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                            "-q", "-w", str(out / "dist"), str(REPO)], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-3000:]
    wheel = next((out / "dist").glob("ocseg-*.whl"))
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                              str(out / "site"), str(wheel)], capture_output=True, text=True)
    assert install.returncode == 0, install.stderr[-3000:]
    return out / "site"


@pytest.mark.slow
def test_wheel_works_outside_the_checkout(installed, tmp_path):
    code = ("import ocseg, pathlib; from ocseg.models import build_model; "
            "net = build_model('hrnet48_ocr', 19); "
            "print(pathlib.Path(ocseg.__file__).parent); "
            "print(sum(p.numel() for p in net.parameters()))")
    proc = _run([sys.executable, "-c", code], tmp_path, installed)
    assert proc.returncode == 0, proc.stderr[-3000:]
    location, params = proc.stdout.split()
    assert Path(location) == installed / "ocseg"       # not the checkout's sources
    assert int(params) == 74_522_182                   # the original's HRNet-W48+OCR
    assert (installed / "ocseg" / "conf" / "experiment").is_dir()
    for tool in TOOLS:
        script = installed / "bin" / tool
        help_ = _run([sys.executable, str(script), "--help"], tmp_path, installed)
        assert help_.returncode == 0 and help_.stdout.startswith(tool), help_.stderr[-2000:]
