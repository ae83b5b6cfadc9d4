"""Every config file composes; the groups a user swaps are wired where the module expects them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from helpers.config import CONF, compose  # noqa: E402

PRIMARY = sorted(p.stem for p in CONF.glob("*.yaml"))
# groups selected from the primary config (not nested inside another group's file); every
# experiment composes (and more) in tests/test_experiments.py
SWAPPABLE = ["dataset", "model", "loss", "schedule", "trainer", "logger", "callbacks", "debug"]


def _options(group: str) -> list[str]:
    """Selectable options of a group (``base/`` holds shared fragments, not options)."""
    return sorted(str(p.relative_to(CONF / group).with_suffix("")) for p in (CONF / group).rglob("*.yaml")
                  if p.relative_to(CONF / group).parts[0] != "base")


# options that need the user's own facts (a folder dataset without classes.yaml)
OPTION_EXTRAS = {("dataset", "folder"): ["dataset.num_classes=3", "dataset.class_names=[a,b,c]",
                                         "dataset.palette=null"]}


# what a user must give on the command line for these entry points
REQUIRED = {
    "prepare": ["dataset=cityscapes", "raw_dir=/downloads"],
    "refine": ["input=/labels", "offsets=/offsets", "output=/refined"],
    "segfix_ground_truth": ["input=/labels", "output=/gt"],
    "network": ["model=hrnet48_ocr", "dataset=cityscapes"],
}


@pytest.mark.parametrize("name", PRIMARY)
def test_primary_config_needs_only_its_required_keys_and_resolves(name, tmp_path):
    cfg = compose(name, [f"paths.output_dir={tmp_path}", *REQUIRED.get(name, [])])
    assert OmegaConf.missing_keys(cfg) == set()   # nothing left ??? beyond what REQUIRED gives
    assert cfg.get("task_name", name) == name     # the run folder is logs/<task_name>/…
    # every interpolation resolves, also in tools that load only a dataset (groups are self-contained)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    assert Path(resolved["paths"]["output_dir"]) == tmp_path


def _interpolations(path: Path) -> set[str]:
    """The top-level config nodes a YAML file interpolates (``${dataset.root}`` → ``dataset``);
    resolver calls (``${now:…}``, ``${ocseg_classes:…}``) are not nodes (their arguments are)."""
    return {m.split(".")[0] for m in re.findall(r"\$\{([\w.:]+)", path.read_text()) if ":" not in m}


def test_groups_are_self_contained():
    """Recipes and links between groups live in the primary configs and experiments: a dataset
    holds facts, schedule/data/trainer hold plain defaults, and nothing falls back with oc.select."""
    for path in CONF.rglob("*.yaml"):
        text = path.read_text()
        assert "oc.select" not in text, path
        group = path.relative_to(CONF).parts[0]
        if group in ("schedule", "data", "trainer", "normalize", "backbone", "head"):
            assert _interpolations(path) <= {group}, path
        if group == "dataset":
            assert _interpolations(path) <= {"dataset", "paths"}, path
            assert "recipe" not in OmegaConf.load(path), path


def test_dataset_without_recipe_gets_the_generic_schedule(tmp_path):
    cfg = compose("train", ["dataset=cityscapes", f"paths.output_dir={tmp_path}"])
    assert (cfg.schedule.lr, cfg.schedule.max_steps, cfg.data.global_batch_size) == (0.01, 40000, 8)
    assert cfg.data.batch_size is None and cfg.loss.class_weights is None
    demo = compose("train", [f"paths.output_dir={tmp_path}"])   # the embedded CPU schedule
    assert (demo.schedule.lr, demo.schedule.max_steps, demo.trainer.max_steps) == (0.05, 90, 90)


@pytest.mark.parametrize("group,option", [(g, o) for g in SWAPPABLE if (CONF / g).is_dir()
                                          for o in _options(g)])
def test_smoke_every_group_option_composes(group, option, tmp_path):
    """A smoke test: passes unless composing or resolving raises."""
    cfg = compose("train", [f"{group}={option}", f"paths.output_dir={tmp_path}",
                            *OPTION_EXTRAS.get((group, option), [])])
    OmegaConf.to_container(cfg, resolve=True)


@pytest.mark.parametrize("group", ["backbone", "head", "normalize", "task", "data", "paths"])
def test_nested_group_options_land_at_their_node(group, tmp_path):
    """Each option's own keys arrive under ``cfg.<group>`` (what the module reads), with its
    ``_target_`` unchanged (an option that extends another, like ocr_b, inherits it)."""
    for option in _options(group):
        cfg = compose("train", [f"{group}={option}", f"paths.output_dir={tmp_path}"])
        own = OmegaConf.load(CONF / group / f"{option}.yaml")
        own.pop("defaults", None)
        assert set(own) <= set(cfg[group]), (group, option)
        assert own.get("_target_") in (None, cfg[group].get("_target_")), (group, option)


def test_default_train_config_layout(tmp_path):
    cfg = compose("train", [f"paths.output_dir={tmp_path}"])
    assert cfg.dataset.name == "synthetic_city"
    assert cfg.module.net == cfg.net
    assert cfg.net.num_classes == cfg.dataset.num_classes == 19
    assert cfg.trainer.max_steps == cfg.schedule.max_steps
    assert cfg.trainer.val_check_interval == cfg.schedule.val_every
    assert cfg.callbacks.model_checkpoint.monitor == "val/mIoU"
    assert cfg.normalize.channel_order == "bgr"
    assert cfg.data.train_set.root == cfg.dataset.root
    assert Path(cfg.paths.output_dir) == tmp_path


def test_unknown_option_is_a_composition_error():
    with pytest.raises(ConfigCompositionException, match="model/no_such_model"):
        compose("train", ["model=no_such_model"])


def test_unknown_key_is_rejected():
    with pytest.raises(ConfigCompositionException, match="no_such_key"):
        compose("train", ["schedule.no_such_key=1"])
