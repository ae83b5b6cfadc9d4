"""ocseg.compat, the one module that relies on third-party internals: each shim works with the
installed library, and a library version outside the tested range stops it with one line."""

from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys
from importlib.metadata import version as installed

import fsspec.utils
import numpy as np
import pytest
import torch
from torch import nn

from helpers.config import CONF, REPO
from ocseg.compat import (
    NUMPY_SCALAR,
    TESTED,
    CompatError,
    compose_apart,
    hydra_errors_raised,
    job_outcome,
    private_name,
    raised_by_hydra,
    require_tested,
    spawned_error_message,
    worker_error_message,
)
from ocseg.errors import OcsegError
from ocseg.lightning.checkpoint_io import is_local
from ocseg.models.layers.norm_act import BATCH_NORMS


def test_installed_libraries_are_in_the_tested_range():
    for dist in TESTED:
        require_tested(dist, "test")


@pytest.mark.parametrize("version", ["1.4.0", "1.2.9", "2.0.0.dev1"])
def test_a_hydra_outside_the_tested_range_is_one_line(version):
    with pytest.raises(CompatError) as raised:
        require_tested("hydra-core", "job_outcome", version=version)
    message = str(raised.value)
    assert "\n" not in message and isinstance(raised.value, OcsegError)
    assert message.startswith(f"job_outcome (ocseg.compat) was tested with hydra-core 1.3 to below 1.4, "
                              f"but {version} is installed; install hydra-core==1.3.8")


def test_a_shim_checks_the_version_before_it_runs(monkeypatch):
    import ocseg.compat

    monkeypatch.setattr(ocseg.compat, "_installed", lambda dist: "9.0.0")
    with pytest.raises(CompatError, match="compose_apart .* 9.0.0 is installed"):
        compose_apart(str(CONF), "train")


def test_hydra_errors_raised_lets_a_composition_error_reach_the_caller(monkeypatch, tmp_path):
    """Without it Hydra prints a report and exits 1; inside, the exception itself arrives, and
    HYDRA_FULL_ERROR is put back afterwards."""
    import hydra
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import ConfigCompositionException

    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    monkeypatch.setattr(sys, "argv", ["tool", "no_such_key=1", f"hydra.run.dir={tmp_path}"])
    app = hydra.main(config_path=str(CONF), config_name="refine", version_base="1.3")(lambda cfg: None)
    GlobalHydra.instance().clear()
    with pytest.raises(ConfigCompositionException, match="no_such_key"):
        with hydra_errors_raised():
            app()
    assert "HYDRA_FULL_ERROR" not in os.environ
    GlobalHydra.instance().clear()


def test_raised_by_hydra_tells_hydras_own_errors_from_a_tasks():
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        with pytest.raises(ValueError) as raised:
            compose("train", overrides=["data=null"])
    assert raised_by_hydra(raised.value)
    try:
        int("abc")
    except ValueError as exc:
        assert not raised_by_hydra(exc)


def test_compose_apart_puts_a_running_apps_hydra_back():
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    with initialize_config_dir(config_dir=str(CONF / "paths"), version_base="1.3"):
        running = GlobalHydra.instance().hydra
        cfg = compose_apart(str(CONF), "refine", ["input=a"])
        assert cfg.input == "a" and cfg.mode == "semantic"
        assert GlobalHydra.instance().hydra is running
    assert compose_apart(str(CONF), "prepare").link == "hardlink"   # with no app running too
    assert not GlobalHydra.instance().is_initialized()


def test_job_outcome_reads_a_failed_jobs_exception_without_reraising(capfd):
    from hydra.core.utils import JobReturn, JobStatus

    error = OcsegError("bad value")
    failed = JobReturn(status=JobStatus.FAILED)
    failed.return_value = error
    assert job_outcome(failed) == ("FAILED", error)
    done = JobReturn(status=JobStatus.COMPLETED)
    done.return_value = 0.5
    assert job_outcome(done) == ("COMPLETED", 0.5)
    assert capfd.readouterr().err == ""     # the public return_value would have written here


def _raise_in_worker(_):
    raise OcsegError("image 'x.png' cannot be decoded; replace it")


def test_worker_error_message_reads_the_message_of_a_dataloader_workers_error():
    """torch re-raises a worker's OcsegError with the worker's traceback as its text."""
    from torch.utils.data import DataLoader

    loader = DataLoader(range(2), num_workers=1, collate_fn=_raise_in_worker,
                        multiprocessing_context="fork")
    with pytest.raises(OcsegError) as raised:
        next(iter(loader))
    assert "Traceback" in str(raised.value)
    assert worker_error_message(raised.value) == "image 'x.png' cannot be decoded; replace it"
    assert worker_error_message(OcsegError("plain message")) is None


def test_spawned_error_message_reads_the_message_of_a_ddp_spawn_workers_error():
    """torch.multiprocessing re-raises a spawned process's error as the child's traceback text."""
    from torch.multiprocessing.spawn import ProcessRaisedException

    text = ("\n\n-- Process 1 terminated with the following error:\nTraceback (most recent call last):\n"
            '  File "x.py", line 1, in <module>\nocseg.errors.OcsegError: data.global_batch_size=3 does not '
            "divide by 2 devices\n")
    exc = ProcessRaisedException(text, 1, 1234)
    assert spawned_error_message(exc, OcsegError) == "data.global_batch_size=3 does not divide by 2 devices"
    assert spawned_error_message(ProcessRaisedException("ValueError: x", 0, 1), OcsegError) is None
    assert spawned_error_message(OcsegError("plain"), OcsegError) is None


def test_the_private_names_live_in_compat_only():
    """hydra._internal, get_gh_backup and JobReturn._return_value appear in ocseg.compat alone."""
    found = subprocess.run(["grep", "-rlE", r"hydra\._internal|get_gh_backup|restore_gh_from_backup|"
                            r"\._return_value", str(REPO / "src" / "ocseg")], capture_output=True, text=True)
    files = sorted(os.path.relpath(p, REPO) for p in found.stdout.split())
    assert files == ["src/ocseg/compat.py"], files


# ---- private names, and the public routes that replaced others ---------------------------------
def test_the_tested_versions_name_the_pins():
    pins = dict(re.findall(r'"([\w-]+)==([\w.]+)"', (REPO / "pyproject.toml").read_text()))
    for dist, (_, _, pin) in TESTED.items():
        assert pins[dist] == pin, dist
        assert installed(dist).split("+")[0] == pin, dist


def test_a_missing_private_name_is_one_line_naming_it_and_the_versions():
    with pytest.raises(CompatError, match=r"^numpy \S+ has no numpy\._core\.gone \(ocseg\.compat was "
                                          r"tested with numpy 2\.3\.5\).*pyproject\.toml"):
        private_name("numpy._core.gone", "numpy")


def test_numpy_scalar_is_what_a_pickled_numpy_scalar_calls():
    rebuild, _ = np.float64(80.6).__reduce__()
    assert rebuild is NUMPY_SCALAR
    assert b"_core.multiarray" in pickle.dumps(np.float64(80.6))


def test_batch_norms_cover_every_batchnorm_class_of_torch_nn():
    """What the private ``_BatchNorm`` base covered: every non-lazy BatchNorm of torch.nn (a
    lazy one turns into one of these on its first call)."""
    found = {cls for name, cls in vars(nn).items()
             if isinstance(cls, type) and "BatchNorm" in name and not name.startswith("Lazy")}
    assert found == set(BATCH_NORMS)
    lazy = nn.LazyBatchNorm2d()
    lazy(torch.zeros(2, 3, 4, 4))
    assert isinstance(lazy, BATCH_NORMS)


@pytest.mark.parametrize("path", ["/runs/x/last.ckpt", "runs/last.ckpt", "file:///runs/last.ckpt",
                                  "s3://bucket/last.ckpt", "gs://b/last.ckpt", "memory://last.ckpt",
                                  "simplecache::s3://bucket/last.ckpt", "C:\\runs\\last.ckpt"])
def test_local_paths_are_what_fsspec_calls_the_file_protocol(path):
    assert is_local(path) == (fsspec.utils.get_protocol(path) == "file")
