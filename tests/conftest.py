"""Shared fixtures: compose the real Hydra configs, shrunk to tiny CPU sizes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ocseg.reproduce.tiny import SHRINK

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"

# Tiny sizes that keep a full fit in seconds on 2 CPU cores.
TINY = [
    "dataset.generator.num_train=8",
    "dataset.generator.num_val=4",
    "dataset.generator.height=64",
    "dataset.generator.width=128",
    "dataset.crop_size=[64,64]",
    "data.batch_size=4",           # per device (the recipes give data.global_batch_size)
    "data.num_workers=0",
    "trainer.log_every_n_steps=1",
    "trainer.enable_progress_bar=false",
    "~callbacks.progress_bar",
]


# One shrink for every model-zoo experiment (tests/test_experiments.py): the recipe keeps its
# dataset class, loss, model class (backbone family + head) and every optimiser setting; only
# sizes shrink. The ImageNet file and the previous stage's checkpoint are not available in tests.
RECIPE_TINY = ["backbone.pretrained=null", "init_from=null", *SHRINK, "logger=none"]
# the smallest variant of the recipe's own backbone class (HRNet-W48/2x-W20 → the 4-branch
# hrnet_tiny, deep-stem dilated ResNet-101 → the same ResNet at depth 18)
BACKBONE_TINY = {
    "ocseg.models.backbones.hrnet.HRNet": "backbone.variant=hrnet_tiny",
    "ocseg.models.backbones.resnet.DeepBaseResNet": "backbone.depth=18",
}


def recipe_tiny(cfg) -> list[str]:
    """:data:`RECIPE_TINY` plus the tiny variant of ``cfg``'s backbone class."""
    return [*RECIPE_TINY, BACKBONE_TINY[cfg.backbone._target_]]


def compose(config_name: str = "train", overrides: list[str] | None = None):
    """Compose ``conf/<config_name>.yaml`` with Hydra's compose API (HydraConfig set, so
    ``${hydra:...}`` resolves)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.hydra_config import HydraConfig

    import ocseg  # noqa: F401 - registers ocseg's config resolvers

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = hydra_compose(config_name=config_name, overrides=overrides or [],
                            return_hydra_config=True)
        HydraConfig.instance().set_config(cfg)
    from omegaconf import open_dict

    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


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
    from ocseg.log import restored_root_logging

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
    """One ``tests/cli_forkserver.py`` for the session: runs the command-line tools in fresh
    forked processes without paying Lightning's import each time."""
    from cli_forkserver import ForkServer

    server = ForkServer()
    yield server
    server.close()
