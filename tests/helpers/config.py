"""The repository's paths and its Hydra configs composed as the tools compose them, shrunk to
tiny CPU sizes."""

from __future__ import annotations

from pathlib import Path

from ocseg.reproduce.tiny import SHRINK

REPO = Path(__file__).resolve().parents[2]
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
#: the synthetic generator's tiny sizes alone (for eval.py, whose dataset comes from the checkpoint)
GENERATOR = [o for o in TINY if o.startswith("dataset.generator.")]

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
    from omegaconf import open_dict

    import ocseg  # noqa: F401 - registers ocseg's config resolvers

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = hydra_compose(config_name=config_name, overrides=overrides or [],
                            return_hydra_config=True)
        HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg


def shipped_normalize(name: str):
    """The ``Normalize`` of the shipped ``conf/normalize/<name>.yaml`` (imagenet_bgr, caffe_bgr)."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    return instantiate(OmegaConf.load(CONF / "normalize" / f"{name}.yaml"))


def eval_cfg(root: Path, ckpt: Path, out: Path, *overrides: str):
    """``eval.yaml`` for ``ckpt`` on the tiny synthetic dataset at ``root``, writing to ``out``."""
    return compose("eval", [
        *GENERATOR, f"dataset.root={root}", f"ckpt_path={ckpt}", f"output_dir={out}",
        f"paths.output_dir={out}", "data.num_workers=0", "trainer.enable_progress_bar=false",
        "model=tiny_fcn", *overrides,
    ])
