"""Every model-zoo experiment: the original's recipe at the documented keys, composing under
train.py and eval.py with the row's test protocol, instantiating on the meta device, and training
2 steps on tiny data.

The tiny runs use one shared shrink (``conftest.RECIPE_TINY`` + the smallest variant of the
recipe's own backbone class): the dataset class, loss, model class (backbone family and head),
optimiser, schedule shape and precision stay the recipe's. Replaced because they cannot exist in a
test: the ImageNet file and the previous stage's checkpoint (``backbone.pretrained=null``,
``init_from=null``), and the sizes (32×32 crops, 2 images per step, 2 steps). The ``16-mixed``
rows run as ``bf16-mixed`` here (Lightning's mixed precision on a CPU).
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import shutil
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from helpers.config import CONF, TINY, compose, recipe_tiny
from helpers.data_fakes import SIZES, Prepared

FIXTURES = Path(__file__).parent / "fixtures" / "openseg"
ZOO = json.loads((FIXTURES / "zoo_recipes.json").read_text())["rows"]
EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))
SEGMENTATION = [n for n in EXPERIMENTS if not n.startswith("segfix_")]


@functools.lru_cache(maxsize=None)
def recipe(name: str, *overrides: str):
    """``train.py experiment=<name> --cfg job`` (composed once per test session; read only)."""
    return compose("train", [f"experiment={name}", "paths.output_dir=unused", *overrides])


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Prepared:
    fakes = Prepared(tmp_path_factory.mktemp("fakes"))
    # the coarse stage trains on train_extra only: give it a second image so that a batch of 2
    # fills (the fake tree has one)
    root = fakes.out["cityscapes"]
    for path in list(root.rglob("train_extra/*/*.png")):
        shutil.copy(path, path.with_name(path.name.replace("_000000_", "_000001_")))
    fakes.out["synthetic_city"] = fakes.out["cityscapes"].parent / "synthetic_city"
    return fakes


# the embedded dataset is generated (not prepared): tiny generator sizes
TINY_SIZES = {**SIZES, "synthetic_city": [o for o in TINY if o.startswith("dataset.generator.")]}


def tiny_overrides(name: str, prepared: Prepared, out: Path, *extra: str) -> list[str]:
    cfg = recipe(name)
    dataset = cfg.dataset.name
    return [f"experiment={name}", f"dataset.root={prepared.out[dataset]}", *TINY_SIZES.get(dataset, []),
            *recipe_tiny(cfg), f"paths.output_dir={out}", f"paths.log_dir={out}", *extra]


# -- the recipes --------------------------------------------------------------------------------

def test_every_zoo_row_has_an_experiment_and_every_experiment_a_row():
    assert set(ZOO) == set(EXPERIMENTS) - {"segfix_synthetic"}


@pytest.mark.parametrize("name", sorted(ZOO))
def test_recipe_is_the_originals_at_the_documented_keys(name):
    row, cfg = ZOO[name], recipe(name)
    s, loss = cfg.schedule, cfg.loss
    assert cfg.model.name == row["model"]
    assert (s.max_steps, s.lr, s.weight_decay, s.head_lr_mult, s.val_every) == (
        row["max_steps"], row["lr"], row["weight_decay"], row["head_lr_mult"], row["val_every"])
    # the original's SGD + poly everywhere: no Nesterov, power 0.9, no warm-up
    assert (s.momentum, s.nesterov, s.power, s.warmup_steps) == (0.9, False, 0.9, 0)
    assert cfg.data.global_batch_size == row["global_batch_size"] and cfg.data.batch_size is None
    assert list(cfg.dataset.crop_size) == row["crop_size"]
    assert list(cfg.dataset.scale_range) == row["scale_range"]
    assert cfg.dataset.train_split == row["train_split"]
    kind = {"CrossEntropy": "ce", "OhemCrossEntropy": "ohem", "RMILoss": "rmi", "SegFixLoss": "segfix"}
    assert kind[loss._target_.rsplit(".", 1)[-1]] == row["loss"]
    if row["ohem"]:
        assert [loss.ohem_thresh, loss.min_kept] == row["ohem"]
    if row["loss"] != "segfix":
        assert loss.aux_weight == row["aux_weight"]
        assert (loss.class_weights is not None) == row["class_weights"]
        if row["class_weights"]:
            assert list(loss.class_weights) == list(cfg.dataset.class_weights)
        # min_kept (and every mean) per original GPU: the total batch over the original's GPUs
        assert loss.images_per_chunk == row["global_batch_size"] // row["gpus"]
    pretrained = cfg.backbone.pretrained
    assert (Path(pretrained).name if pretrained else None) == row["pretrained"]
    if pretrained:
        assert Path(pretrained).parent == Path(cfg.paths.pretrained_dir)
    assert cfg.trainer.precision == row["precision"]
    assert cfg.model.freeze_bn == row["freeze_bn"]
    if row["init_from"] == "previous stage":              # the user names the stage before
        assert OmegaConf.is_missing(cfg, "previous_stage") and "previous_stage" in str(cfg._get_node("init_from"))
    elif row["init_from"]:
        assert Path(cfg.init_from) == Path(cfg.paths.pretrained_dir) / row["init_from"]
    else:
        assert cfg.init_from is None


def test_header_names_the_original_script_and_published_numbers():
    for name, row in ZOO.items():
        header = (CONF / "experiment" / f"{name}.yaml").read_text().split("defaults:")[0]
        header = " ".join(header.replace("# ", "").split())     # comment lines joined
        assert row["script"] in header and f"branch {row['branch']}" in header, name
        for value in (row["published"] or {}).values():
            for number in value if isinstance(value, list) else [value]:
                assert f"{number:.2f}".rstrip("0").rstrip(".") in header, (name, number)


def test_master_rows_declare_relu_instead_of_inplace_abns_leaky_relu():
    """Every master-era row (InPlace-ABN, LeakyReLU 0.01 in the heads) says that ocseg's heads use
    ReLU; no pytorch-1.7 row (nn.SyncBatchNorm + ReLU) does."""
    for name, row in ZOO.items():
        header = (CONF / "experiment" / f"{name}.yaml").read_text().split("defaults:")[0]
        assert ("LeakyReLU(0.01)" in header) == (row["branch"] == "master"), name


def test_ddp_keeps_the_recipes_precision_and_syncs_batchnorm():
    master = recipe("cityscapes_hrnet48_ocr", "trainer=ddp")
    paddle = recipe("cityscapes_hrnet48_ocr_rmi_paddle", "trainer=ddp")
    assert master.trainer.sync_batchnorm and paddle.trainer.sync_batchnorm
    assert (master.trainer.precision, paddle.trainer.precision) == ("32-true", "16-mixed")
    bf16 = recipe("cityscapes_hrnet48_ocr", "trainer=ddp", "trainer.precision=bf16-mixed")
    assert bf16.trainer.precision == "bf16-mixed"
    # a command-line loss= still wins over the recipe's (e.g. the LIP "RMI" row as the zoo text says)
    assert recipe("lip_hrnet48_ocr_rmi_paddle", "loss=rmi").loss._target_.endswith("RMILoss")


def test_a_stage_without_its_previous_stage_is_one_clear_error(tmp_path):
    from ocseg.errors import OcsegError
    from ocseg.tasks.train import train

    cfg = compose("train", ["experiment=cityscapes_hrnet48_ocr_b_mapillary_coarse",
                            f"paths.output_dir={tmp_path}"])
    with pytest.raises(OcsegError, match="continues a previous training stage: pass init_from="):
        train(cfg)


def test_a_stage_given_its_previous_stage_passes_the_option_check(tmp_path):
    """The command line the docs (and make reproduce-cityscapes) give, init_from=<file>, passes the
    mandatory-key check; without it the one line asks for init_from=."""
    from ocseg.app.validation import OptionError, validate

    stage = "experiment=cityscapes_hrnet48_ocr_b_mapillary_coarse"
    with pytest.raises(OptionError, match=r"^init_from=\?\?\?: required; pass init_from=<value>"):
        validate("train", compose("train", [stage]))
    ckpt = tmp_path / "last.ckpt"
    ckpt.write_bytes(b"x")
    validate("train", compose("train", [stage, f"init_from={ckpt}"]))
    validate("train", compose("train", [stage, f"previous_stage={ckpt}"]))
    validate("eval", compose("eval", [stage, f"ckpt_path={ckpt}", f"output_dir={tmp_path}"]))  # no init_from



def test_real_data_from_scratch_or_without_a_recipe_says_so_once(tmp_path):
    from ocseg.tasks.train import start_warnings

    out = f"paths.output_dir={tmp_path}"
    generic = start_warnings(compose("train", ["dataset=cityscapes", out]))
    assert len(generic) == 2 and "no experiment= given" in generic[0]
    assert "from random weights" in generic[1] and "backbone.pretrained=null" in generic[1]
    # asked for on purpose, a recipe with its ImageNet file, a checkpoint: nothing to say
    folder = start_warnings(compose("train", ["dataset=folder", "backbone.pretrained=null",
                                              "dataset.num_classes=3", "dataset.class_names=[a,b,c]",
                                              "dataset.palette=null", out]))
    assert len(folder) == 1 and folder[0].startswith("no experiment= given: dataset=folder")
    assert start_warnings(compose("train", ["experiment=lip_hrnet48_ocr", out])) == []
    assert start_warnings(compose("train", ["experiment=cityscapes_hrnet48_ocr_b_mapillary_trainval",
                                            out])) == []
    # the embedded generated dataset trains from scratch by design
    assert start_warnings(compose("train", [out])) == []
    assert start_warnings(compose("train", ["experiment=segfix_synthetic", out])) == []


def test_init_from_a_file_of_another_model_is_one_clear_error(tmp_path):
    from ocseg.checkpoints.stage_init import init_from_checkpoint
    from ocseg.errors import OcsegError
    from ocseg.models import build_model

    other = tmp_path / "other.ckpt"
    torch.save({"global_step": 3, "state_dict": {"net.classifier.weight": torch.zeros(2, 2)}}, other)
    with pytest.raises(OcsegError, match=r"init_from='.*other\.ckpt' fits only 0/\d+ tensors"):
        init_from_checkpoint(build_model("tiny_fcn", 19), other)


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_instantiates_on_the_meta_device(name):
    cfg = copy.deepcopy(recipe(name))
    cfg.backbone.pretrained = None            # no ImageNet file in tests
    with torch.device("meta"):
        module = instantiate(cfg.module, _convert_="object")
    assert module.net.head is not None and module.freeze_bn == cfg.model.freeze_bn
    groups = module.configure_optimizers()["optimizer"].param_groups
    lrs = {g["name"]: g["initial_lr"] for g in groups}
    assert lrs["backbone"] == pytest.approx(cfg.schedule.lr)
    assert lrs["head"] == pytest.approx(cfg.schedule.lr * cfg.schedule.head_lr_mult)
    datamodule = instantiate(cfg.data)
    assert datamodule.global_batch_size == cfg.data.global_batch_size            # the recipe's batch
    assert datamodule.with_instances == cfg.task.instances and datamodule.seed == cfg.seed


# -- test protocol under eval.py ---------------------------------------------------------------

# the original's test facts per dataset: (ss: resize, pad, flip), (ms: scales, pad)
SEVEN = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0]
PROTOCOL = {
    "cityscapes": (dict(short_side=None, input_size=None, pad_stride=None, flip=False), (SEVEN, None)),
    "ade20k": (dict(short_side=520, input_size=None, pad_stride=8, flip=False), (SEVEN, 8)),
    "pascal_context": (dict(short_side=520, input_size=None, pad_stride=None, flip=False), (SEVEN, 8)),
    "coco_stuff": (dict(short_side=520, input_size=None, pad_stride=None, flip=False), (SEVEN, 8)),
    "lip": (dict(short_side=None, input_size=(473, 473), pad_stride=None, flip=True),
            ([0.5, 0.75, 1.0, 1.25, 1.5], None)),
    "mapillary": (dict(short_side=1024, input_size=None, pad_stride=8, flip=False), (SEVEN, 8)),
}


@pytest.mark.parametrize("name", SEGMENTATION)
def test_eval_composes_the_recipe_with_its_test_protocol(name):
    cfg = compose("eval", [f"experiment={name}", "paths.output_dir=unused"])
    assert cfg.model.name == recipe(name).model.name and cfg.dataset.name == recipe(name).dataset.name
    assert cfg.backbone.pretrained is None            # the checkpoint gives every weight
    (ss, (scales, ms_pad)) = PROTOCOL[cfg.dataset.name]
    predictor = instantiate(cfg.test)
    got = dict(short_side=predictor.short_side, input_size=predictor.input_size,
               pad_stride=predictor.pad_stride, flip=predictor.flip)
    assert got == ss and predictor.scales == [1.0]
    swap = [(14, 15), (16, 17), (18, 19)] if cfg.dataset.name == "lip" else []
    assert predictor.flip_swap_pairs == swap


# test=ms: the scales and padding are dataset facts, checked once per dataset
@pytest.mark.parametrize("name", ["cityscapes_hrnet48_ocr", "ade20k_hrnet48_ocr", "pascal_context_hrnet48_ocr",
                                  "coco_stuff_hrnet48_ocr", "lip_hrnet48_ocr", "mapillary_hrnet48_ocr_b"])
def test_eval_test_ms_gives_the_originals_scales_and_flip(name):
    cfg = compose("eval", [f"experiment={name}", "test=ms", "paths.output_dir=unused"])
    _, (scales, ms_pad) = PROTOCOL[cfg.dataset.name]
    ms = instantiate(cfg.test)
    assert (ms.scales, ms.flip, ms.pad_stride) == (scales, True, ms_pad)


# -- training and evaluating at tiny sizes -------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("name", EXPERIMENTS)
def test_two_steps_on_tiny_data(name, prepared, tmp_path, single_thread):
    from ocseg.tasks.train import train

    cfg = compose("train", tiny_overrides(name, prepared, tmp_path))
    assert cfg.trainer.precision == recipe(name).trainer.precision
    metrics = train(cfg)
    assert metrics["step"] == 2
    assert (tmp_path / "metrics.json").is_file() and (tmp_path / "checkpoints" / "last.ckpt").is_file()


@pytest.mark.slow
def test_eval_applies_the_lip_protocol_to_a_recipe_checkpoint(prepared, tmp_path, single_thread):
    from ocseg.tasks.evaluate import evaluate
    from ocseg.tasks.train import train

    name = "lip_hrnet48_ocr"
    train(compose("train", tiny_overrides(name, prepared, tmp_path / "train")))
    ckpt = tmp_path / "train" / "checkpoints" / "last.ckpt"
    cfg = compose("eval", [f"experiment={name}", f"dataset.root={prepared.out['lip']}",
                           recipe_tiny(recipe(name))[-1], f"ckpt_path={ckpt}",
                           f"output_dir={tmp_path / 'eval'}", "data.num_workers=0",
                           "trainer.enable_progress_bar=false"])
    metrics = evaluate(cfg)
    assert metrics["mIoU"] == pytest.approx(0.6027, abs=1e-3)   # pinned (tiny run)
    saved = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert saved["config"]["test"]["flip"] is True and saved["config"]["test"]["input_size"] == [473, 473]
    assert len(list((tmp_path / "eval" / "label").glob("*.png"))) == 2


@pytest.mark.slow
def test_stage_chaining_from_65_to_19_classes(prepared, tmp_path, single_thread, caplog):
    """Mapillary (65 classes) → Cityscapes (19): the next stage starts from the previous stage's
    weights except the classifiers, which keep their fresh initialisation, and says so."""
    from ocseg.checkpoints import read_checkpoint
    from ocseg.checkpoints.stage_init import init_from_checkpoint
    from ocseg.tasks.train import build_module, train

    stage1 = tmp_path / "mapillary"
    train(compose("train", tiny_overrides("mapillary_hrnet48_ocr_b", prepared, stage1)))
    ckpt = stage1 / "checkpoints" / "last.ckpt"
    saved = {k[len("net."):]: v for k, v in read_checkpoint(ckpt)["state_dict"].items()
             if k.startswith("net.")}
    name = "cityscapes_hrnet48_ocr_b_mapillary_trainval"
    cfg = compose("train", tiny_overrides(name, prepared, tmp_path / "stage2", f"init_from={ckpt}"))
    net = build_module(cfg).net
    fresh = {k: v.clone() for k, v in net.state_dict().items() if isinstance(v, torch.Tensor)}
    report = init_from_checkpoint(net, ckpt)
    mismatched = sorted(k for k, v in fresh.items() if k in saved and saved[k].shape != v.shape)
    assert mismatched and all(k.endswith((".weight", ".bias")) for k in mismatched)
    assert {k.split(".")[0] for k in mismatched} == {"head"}          # only classifier layers
    assert report.skipped == [k for k in fresh if k in mismatched]
    assert report.loaded == report.total - len(mismatched)
    for key, value in net.state_dict().items():
        if key not in fresh:
            continue                                  # _extra_state: not a tensor
        reference = fresh[key] if key in mismatched else saved[key]
        assert torch.equal(value, reference), key
    # the same through train.py: logged, then 2 steps from step 0
    with caplog.at_level(logging.INFO, logger="ocseg.checkpoints.stage_init"):
        metrics = train(cfg)
    assert metrics["step"] == 2
    assert any("keep their fresh initialisation" in r.getMessage() and mismatched[0] in r.getMessage()
               for r in caplog.records)
