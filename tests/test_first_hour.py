"""The first hour of a new user, from ``make train`` to a small dataset of their own.

A run that would do no optimizer step (fewer images than one batch) or train on padding (a crop
larger than every image) stops before training with one ``error:`` line naming the fix, and
writes no ``metrics.json``; loader workers default to the machine's cores; the console holds the
tool's own lines and warnings a user can act on, each once; training ends with one validation;
a failed command leaves no empty run folder. The tools run as a user runs them, in children of
the fork server (``cli_server``).
"""

from __future__ import annotations

import logging
import re
import warnings
from collections import Counter
from pathlib import Path

import pytest

from helpers.config import GENERATOR
from helpers.data_fakes import H, W, folder_raw
from ocseg.data.trainable import batches_per_process, check_batches, check_crop
from ocseg.errors import OcsegError

QUIET = ["data.num_workers=0", "logger=none"]


def _train(cli_server, tmp_path: Path, *args: str) -> tuple[int, str, str]:
    """``ocseg-train args`` in ``tmp_path`` (run folders under ``tmp_path/logs``): (exit code,
    stderr, stdout + stderr)."""
    out = tmp_path / "console"
    out.mkdir(exist_ok=True)
    rc, stderr = cli_server.run("train", [f"paths.log_dir={tmp_path / 'logs'}", *args], tmp_path, out)
    return rc, stderr, (out / "stdout").read_text() + stderr


def _own_data(tmp_path: Path) -> list[str]:
    """A 6-image folder dataset of 24×32 images (4 train, 2 val), as docs/datasets.md's
    "Your own data" describes, trained with a small model."""
    folder_raw(tmp_path / "mine", counts=(4, 2))
    return ["dataset=folder", f"dataset.root={tmp_path / 'mine'}", "model=tiny_fcn", *QUIET]


def _results(tmp_path: Path) -> list[Path]:
    return [p for p in (tmp_path / "logs").rglob("*") if p.suffix in (".json", ".ckpt")]


# -- runs that would not train ---------------------------------------------------------------------

@pytest.mark.parametrize("args, expect", [
    ((), ("has 4 images", "data.global_batch_size=8", "0 steps", "data.global_batch_size=4 or less")),
    (("data.global_batch_size=4",),
     ("dataset.crop_size=[512, 512] is larger than every training image", f"{H}×{W}",
      f"dataset.crop_size=[{H},{W}]")),
], ids=["fewer images than one batch", "crop larger than every image"])
def test_an_own_small_dataset_stops_before_training(args, expect, cli_server, tmp_path):
    rc, stderr, console = _train(cli_server, tmp_path, *_own_data(tmp_path), *args)
    errors = [ln for ln in stderr.splitlines() if ln.startswith("error:")]
    assert rc == 2 and len(errors) == 1, console[-3000:]
    assert all(fragment in errors[0] for fragment in expect), errors[0]
    assert "Traceback" not in console and "Trainer.fit` stopped" not in console
    # nothing is scored or saved, and the failed run leaves no folder behind
    assert not _results(tmp_path) and not list((tmp_path / "logs").rglob("train.log"))


def test_a_loader_that_would_be_empty_is_found_per_process():
    assert batches_per_process(4, 8) == 0 and batches_per_process(8, 8) == 1
    # the distributed sampler gives each of 2 processes ceil(7 / 2) = 4 images: one batch of 4
    assert batches_per_process(7, 4, world_size=2) == 1 and batches_per_process(6, 4, 2) == 0
    with pytest.raises(OcsegError, match=r"has 6 images \(3 per process over 2 processes\), fewer "
                                         r"than one batch of data.global_batch_size=8.*"
                                         r"data.global_batch_size=6 or less"):
        check_batches(6, 4, world_size=2)
    with pytest.raises(OcsegError, match=r"data.batch_size=4: .*set data.batch_size=3 or less"):
        check_batches(6, 4, world_size=2, batch_key="data.batch_size")
    check_batches(8, 4, world_size=2)


def test_the_crop_check_allows_what_the_augmentation_can_fill():
    """A crop is refused only when no image fills half of it even at the largest random scale,
    after the dataset's fixed resize (ADE20K's short side 520; VOC-sized images under a 512 crop
    train fine at scales up to 2)."""
    from ocseg.data.augment import PadToSize, RandomCropUpTo, RandomScaleAspect, ResizeShortSide
    from ocseg.data.transforms import pipeline

    def transform(*first):
        return pipeline([*first, RandomScaleAspect((0.5, 2.0), (0.9, 1.1)), RandomCropUpTo(512, 512),
                         PadToSize(512, 512, fill_mask=255)])

    check_crop(transform(), [(375, 500), (333, 500)])              # PASCAL VOC sizes
    check_crop(transform(ResizeShortSide(520)), [(64, 96)])         # resized first
    check_crop(pipeline([RandomCropUpTo(32, 32)]), [(24, 32)])      # 3/4 of the crop is image
    with pytest.raises(OcsegError, match="mostly padding"):
        check_crop(pipeline([RandomCropUpTo(32, 32)]), [(12, 32)])
    with pytest.raises(OcsegError, match=r"largest is 120×180 H×W, at most 252×377 after the "
                                         r"largest random resize.*dataset.crop_size=\[120,180\]"):
        check_crop(transform(), [(64, 96), (120, 180)])


def test_training_that_did_no_step_writes_no_metrics(tiny_cfg, tmp_path, single_thread):
    from ocseg.tasks.train import train

    with pytest.raises(OcsegError, match="after 0 optimizer steps.*no metrics.json"):
        train(tiny_cfg("+trainer.limit_train_batches=0", "logger=none"))
    assert not list(tmp_path.rglob("metrics.json"))


# -- loader workers -------------------------------------------------------------------------------

def test_loader_workers_follow_the_cores_and_an_excess_is_said_once(tiny_cfg, monkeypatch, caplog):
    from hydra.utils import instantiate

    from ocseg.lightning import datamodule

    monkeypatch.setattr(datamodule, "cpu_cores", lambda: 2)
    assert datamodule.default_workers() == 2 and datamodule.default_workers(processes=4) == 0
    monkeypatch.setattr(datamodule, "cpu_cores", lambda: 16)
    assert datamodule.default_workers() == 4 and datamodule.default_workers(processes=8) == 2
    auto = instantiate(tiny_cfg("data.num_workers=null").data)
    assert auto.train_dataloader().num_workers == 4

    monkeypatch.setattr(datamodule, "cpu_cores", lambda: 2)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1}, raising=False)  # torch's count
    dm = instantiate(tiny_cfg("data.num_workers=4").data)
    with caplog.at_level(logging.WARNING), warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        loaders = [dm.train_dataloader(), dm.val_dataloader(), dm.train_dataloader()]
    assert [loader.num_workers for loader in loaders] == [4, 4, 4]
    ours = [r.getMessage() for r in caplog.records if "num_workers" in r.getMessage()]
    assert len(ours) == 1 and "data.num_workers=4 is more than the 2 CPU cores" in ours[0]
    assert not [w for w in said if "worker processes in total" in str(w.message)]


# -- one validation at the end ------------------------------------------------------------------

@pytest.mark.parametrize("steps, every, validations", [(2, 2, 1), (2, 3, 1), (3, 2, 2)])
def test_training_validates_the_final_weights_once(steps, every, validations, tiny_cfg, monkeypatch,
                                                   single_thread):
    """When the last step validated (val_every divides max_steps), its scores are the final
    ones; otherwise one validation of the final weights follows. They are the same numbers a
    fresh validation gives."""
    from ocseg.lightning.module import SegmentationModule
    from ocseg.tasks.train import build_trainer, train

    calls = []
    original = SegmentationModule.on_validation_epoch_end

    def counted(self):
        calls.append(int(self.trained_steps))
        original(self)

    monkeypatch.setattr(SegmentationModule, "on_validation_epoch_end", counted)
    built = {}
    from ocseg.tasks import train as train_module

    real_build = train_module.build_module
    monkeypatch.setattr(train_module, "build_module", lambda cfg: built.setdefault("m", real_build(cfg)))
    cfg = tiny_cfg(f"schedule.max_steps={steps}", f"schedule.val_every={every}", "logger=none",
                   "+trainer.limit_val_batches=2")
    metrics = train(cfg)
    assert len(calls) == validations and calls[-1] == steps and metrics["step"] == steps
    fresh = build_trainer(cfg, final_validation=True).validate(built["m"], datamodule=_data(cfg),
                                                               verbose=False)[0]
    assert metrics["mIoU"] == pytest.approx(float(fresh["val/mIoU"]), abs=1e-3)


def _data(cfg):
    from hydra.utils import instantiate

    dm = instantiate(cfg.data)
    dm.set_world_size(1)
    return dm


# -- what the console says ----------------------------------------------------------------------

# Lightning lines and warnings the user can do nothing about (issue 22, item 6)
NOISE = ("FLOPs", "smaller than the logging interval", "was configured so", "`Trainer.fit` stopped",
         "does not have many workers", "worker processes in total", "litlogger")


def _warnings(console: str) -> list[str]:
    """The console's warning lines: the tools' ``warning: …`` and Python's ``…Warning: …``."""
    return [ln.strip() for ln in console.splitlines()
            if ln.startswith("warning:") or re.search(r"\w+Warning: ", ln) or re.search(r"\.py:\d+: ", ln)]


def assert_quiet(console: str, runs: int = 1) -> None:
    """Lightning's greeting once per run, none of :data:`NOISE`, no warning line twice, one
    progress-bar style (TQDM's: no rich bar, whose lines hold "━" and "it/s")."""
    assert console.count("GPU available:") == runs, console[-3000:]
    assert console.count("TPU available:") == runs
    for noise in NOISE:
        assert noise not in console, noise
    repeated = {line: n for line, n in Counter(_warnings(console)).items() if n > 1}
    assert not repeated, repeated
    assert not [ln for ln in re.split(r"[\r\n]", console) if "━" in ln and "it/s" in ln]


def test_make_train_at_tiny_sizes_says_each_thing_once(cli_server, tmp_path):
    """``make train``'s command (``python train.py``: the embedded default, progress bar on)
    at tiny sizes: validation at the last step, then the scores table."""
    rc, stderr, console = _train(cli_server, tmp_path, *GENERATOR, f"paths.data_dir={tmp_path / 'data'}",
                                 "dataset.crop_size=[64,64]", "data.global_batch_size=4",
                                 "schedule.max_steps=2", "schedule.val_every=2")
    assert rc == 0, console[-3000:]
    assert_quiet(console)
    assert "model=hrnet18_small_ocr: " in console and "val scores after 2 steps" in console
    assert "Epoch 0" in console                              # the TQDM bar of conf/callbacks
    assert "classes are in neither ground truth nor prediction: not listed" in console


def test_an_own_small_dataset_trains_once_the_batch_and_crop_fit(cli_server, tmp_path):
    rc, _, console = _train(cli_server, tmp_path, *_own_data(tmp_path), "data.global_batch_size=4",
                            f"dataset.crop_size=[{H},{W}]", "schedule.max_steps=2", "schedule.val_every=2",
                            "trainer.enable_progress_bar=false", "~callbacks.progress_bar")
    assert rc == 0, console[-3000:]
    assert_quiet(console)
    (metrics,) = (tmp_path / "logs").rglob("metrics.json")
    assert '"step": 2' in metrics.read_text()


# -- failed commands ------------------------------------------------------------------------------

def test_a_failed_command_leaves_no_empty_run_folder(cli_server, tmp_path):
    """Hydra made the run folder before the error; it is removed when the run wrote nothing. A
    folder the user named is kept, its log ending with the error line."""
    args = ["dataset=cityscapes", f"dataset.root={tmp_path / 'nowhere'}", *QUIET]
    rc, stderr, _ = _train(cli_server, tmp_path, *args)
    assert rc == 2 and "error: Cityscapes root" in stderr
    assert not list((tmp_path / "logs").rglob("*.log"))
    named = tmp_path / "named"
    rc, _, _ = _train(cli_server, tmp_path, *args, f"hydra.run.dir={named}")
    assert rc == 2
    last = (named / "train.log").read_text().splitlines()[-1]
    assert "[ERROR]" in last and "Cityscapes root" in last and "nowhere" in last


def test_an_error_raised_in_a_ddp_spawn_worker_is_one_line():
    """Under trainer=ddp_cpu (ddp_spawn) the batch check runs in the workers; torch re-raises
    only the worker's traceback text, from which the tools take the message."""
    from torch.multiprocessing.spawn import ProcessRaisedException

    from ocseg.app.cli import user_message

    text = ("\n\n-- Process 0 terminated with the following error:\nTraceback (most recent call "
            "last):\n  File \"x.py\", line 1, in f\nocseg.errors.OcsegError: the training split has "
            "4 images (2 per process over 2 processes), fewer than one batch\n")
    assert user_message(ProcessRaisedException(text, 0, 123)) == (
        "the training split has 4 images (2 per process over 2 processes), fewer than one batch")
    assert user_message(ProcessRaisedException("\nValueError: a bug\n", 0, 123)) is None
