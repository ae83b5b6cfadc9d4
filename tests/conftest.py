"""Shared fixtures (the tiny synthetic dataset, the tiny train config, the CLI fork server);
what they build on lives in ``tests/helpers/``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers.config import TINY, compose

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")
# tests never reach the release host: a zoo:/ImageNet download that a test does not serve itself
# (helpers.release_server) goes to a closed port on this machine and fails as offline
os.environ["OCSEG_ZOO_URL"] = "http://127.0.0.1:9"

@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory) -> Path:
    """A tiny synthetic_city tree shared by the tests that only read it."""
    from ocseg.data.synthetic_city import ensure_generated

    root = tmp_path_factory.mktemp("data") / "synthetic_city"
    ensure_generated(root, num_train=8, num_val=4, height=64, width=128, seed=0)
    return root


@pytest.fixture
def tiny_cfg(tmp_path, synthetic_root):
    """Factory: the train config at tiny sizes, writing only under ``tmp_path``."""

    def make(*overrides: str, config_name: str = "train"):
        return compose(config_name, TINY + [
            f"dataset.root={synthetic_root}",
            f"paths.output_dir={tmp_path / 'run'}",
            f"paths.log_dir={tmp_path / 'logs'}",
            f"paths.data_dir={tmp_path / 'data'}",
            *overrides,
        ])

    return make


@pytest.fixture(autouse=True)
def _root_logging_put_back():
    """Every test leaves the root logger as it found it: a Hydra app run in the test process
    (``hydra.main`` in a test, the in-process executor) adds handlers bound to the test's captured
    stdout/stderr, which pytest closes after the test; a later test's log records would then
    fail with "I/O operation on closed file" (seen under pytest-xdist, order-dependent)."""
    from ocseg.app.console import restored_root_logging

    with restored_root_logging():
        yield


@pytest.fixture
def single_thread():
    """Run on one intra-op thread: tiny tensors gain nothing from more, and OpenMP spin-waiting
    on a busy 2-core machine makes them several times slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def cli_server():
    """One ``tests/helpers/cli_forkserver.py`` for the session: runs the command-line tools in fresh
    forked processes without paying Lightning's import each time."""
    from helpers.cli_forkserver import ForkServer

    server = ForkServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the session (``tests/helpers/browser.py``). Without Chromium or
    Playwright the browser tests are skipped with the reason, except under ``CI=true``, where a
    missing browser fails them."""
    import importlib.util

    from helpers.browser import Browser, chromium_path

    path, reason = chromium_path(), None
    if path is None:
        reason = "no Chromium (/usr/bin/chromium): apt-get install -y chromium"
    elif importlib.util.find_spec("playwright") is None:
        reason = "Playwright for Python is not installed: pip install -e '.[dev]'"
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and the browser tests cannot run: {reason}")
        pytest.skip(f"browser tests skipped: {reason}")
    with Browser(path) as opened:
        yield opened
