"""The options each command-line tool checks before it does any work: key → :class:`Rule`.

``SCHEMAS[<primary config name>]`` is what :mod:`ocseg.app.validation` checks after Hydra has
composed the command line and before the run folder or any output exists; ``--help`` prints the
same rules beside each key (:mod:`ocseg.app.tool_help`). A tool added later (a new
``conf/<tool>.yaml`` with its ``ocseg.app.cli`` function) gets its line here, built from the
shared blocks below, e.g. ``SCHEMAS["export"] = {**CHECKPOINT, "format": choice("onnx")}``.

Only what the tool reads is listed: the keys a user sets (counts, sizes, enums, files, globs).
A key absent from the composed config (a group left out) is not checked; what needs the disk or
the data beyond a file's existence (folders, images) is checked by the task before its first
output.
"""

from __future__ import annotations

from ocseg.app.rules import (
    Rule,
    choice,
    count,
    dataset_split,
    existing_file,
    flag,
    glob,
    group,
    integer,
    nonempty_list,
    number,
    positive,
    sizes,
    text,
)

__all__ = ["SCHEMAS", "ALIASES", "TRAINER", "LOADER", "CHECKPOINT", "TEST", "REPORT"]

# Lightning's precision values (lightning/fabric/plugins/precision/precision.py) but its
# transformer-engine ones (a library ocseg does not install); 32, 16 and 64 as Hydra parses them
_PRECISIONS = ("32-true", "16-mixed", "bf16-mixed", "16-true", "bf16-true", "64-true", 64, 32, 16, "bf16")
_DEVICES = Rule("any", alternatives=(positive(), integer(-1, -1), nonempty_list(count()), choice("auto")),
                say="an integer ≥ 1, -1 (every device), auto, or a list of device indices")
_CKPT = "an ocseg .ckpt or an original openseg .pth; zoo:<name>: a released checkpoint"
_ZOO = ("zoo:",)   # a model-zoo row's released file, fetched by name (ocseg.checkpoints.zoo)

#: the Lightning Trainer settings a user changes (every tool that runs a Trainer)
TRAINER: dict[str, Rule] = {
    "trainer.accelerator": choice("auto", "cpu", "gpu", "cuda", "mps", "tpu", "xla"),
    "trainer.devices": _DEVICES,
    "trainer.num_nodes": positive(),
    "trainer.precision": choice(*_PRECISIONS),
    "trainer.enable_progress_bar": flag(),
    "trainer.log_every_n_steps": positive(),
    "trainer.deterministic": choice(True, False, "warn"),
    "trainer.sync_batchnorm": flag(),
}
#: the loader of a tool that reads images with a DataLoader (eval, predict_offsets; train has more)
LOADER: dict[str, Rule] = {
    "data.num_workers": count(note="0: read in the main process"),
}
#: reading a checkpoint
CHECKPOINT: dict[str, Rule] = {
    "ckpt_strict": flag(),
    "trust_checkpoint": flag(),
}
#: report.html (ocseg.report)
REPORT: dict[str, Rule] = {
    "report": flag(),
    "report_images": count(),
}
#: the test-time protocol of eval (conf/test/)
TEST: dict[str, Rule] = {
    "test.mode": choice("whole", "sliding"),
    "test.scales": nonempty_list(number(0, above=True)),
    "test.scale_weights": nonempty_list(number(0), nullable=True),
    "test.flip": flag(),
    "test.crop_size": sizes(nullable=True),
    "test.input_size": sizes(nullable=True),
    "test.stride": sizes(nullable=True),
    "test.sliding_min_scale": number(0, above=True),
    "test.pad_stride": positive(nullable=True),
    "test.short_side": positive(nullable=True),
}
_WORKERS = count(nullable=True, note="null: all cores; 0 or 1: in this process")
_PROGRESS = flag(nullable=True, note="null: only on a terminal")

SCHEMAS: dict[str, dict[str, Rule]] = {
    "train": {
        **CHECKPOINT, **TRAINER,
        "ckpt_path": existing_file(nullable=True, words=("last",), prefixes=_ZOO, note=f"{_CKPT}; last: "
                                   "the newest valid checkpoint of this command's runs"),
        "init_from": existing_file(nullable=True, prefixes=_ZOO, note=_CKPT),
        "seed": integer(),
        "skip_nonfinite": flag(),
        "report": flag(),
        "data.global_batch_size": positive(),
        "data.batch_size": positive(nullable=True, note="null: global_batch_size / (devices × nodes)"),
        "data.val_batch_size": positive(),
        "data.num_workers": count(nullable=True, note="0: read in the main process; null: min(4, CPU cores "
                                  "/ devices)"),
        "data.pin_memory": flag(),
        "data.persistent_workers": flag(),
        "data.on_bad_file": choice("error", "skip"),
        "dataset.crop_size": sizes(),
        "schedule.max_steps": positive(),
        "schedule.val_every": positive(),
        "schedule.checkpoint_every": positive(),
        "schedule.lr": number(0, above=True),
        "schedule.head_lr_mult": number(0, above=True),
        "schedule.momentum": number(0, 1),
        "schedule.weight_decay": number(0),
        "schedule.power": number(0),
        "schedule.warmup_steps": count(),
        "schedule.warmup_start_factor": number(0, 1, above=True),
    },
    "eval": {
        **CHECKPOINT, **TRAINER, **LOADER, **TEST, **REPORT,
        "ckpt_path": existing_file(words=("last",), prefixes=_ZOO, note=f"{_CKPT}; last: the newest "
                                   "training run's last.ckpt"),
        "split": dataset_split(),
        "output_dir": text(),
        "overwrite": flag(),
        "data.batch_size": positive(),
        "save.color": flag(),
        "save.overlay": flag(),
        "save.overlay_alpha": number(0, 1),
        "boundary.bound_th": number(0, above=True),
        "segfix.offsets": text(nullable=True),
        "segfix.scale": positive(),
        "segfix.missing": choice("error", "copy"),
    },
    "predict_offsets": {
        **CHECKPOINT, **TRAINER, **LOADER,
        "ckpt_path": existing_file(words=("last",), prefixes=_ZOO, note="an ocseg .ckpt of a SegFix run or an "
                                   "original segfix_hrnet .pth; zoo:<name>: a released SegFix checkpoint; "
                                   "last: the newest SegFix training run's last.ckpt"),
        "split": dataset_split(),
        "input_dir": text(nullable=True),
        "output_dir": text(),
        "format": choice("mat", "npz", "both"),
        "mat_dtype": choice("int32", "int16", "int8"),
        "overwrite": flag(),
        "save_preview": flag(),
        "progress": flag(nullable=True, note="null: the trainer's enable_progress_bar"),
        "predictor.mode": choice("sliding", "whole"),
        # ≥ 3: the default stride (a third of the window) is then at least one pixel
        "predictor.crop_size": nonempty_list(integer(3), length=2),
        "predictor.stride": sizes(nullable=True, note="null: a third of the crop"),
        "predictor.threshold": number(0, 1),
        "predictor.pad_stride": positive(),
    },
    "refine": {
        **REPORT,
        "input": text(),
        "offsets": text(),
        "output": text(),
        "mode": choice("semantic", "instance"),
        "scale": positive(nullable=True, note="null: 2 for semantic, 1 for instance"),
        "missing": choice("error", "copy"),
        "overwrite": flag(),
        "glob": glob(nullable=True, note="null: **/*.png, instance: **/*_pred.txt"),
        "split": dataset_split(nullable=True, note="null: no scores"),
        "pred_ids": choice("original", "train"),
        "bound_th": number(0, above=True),
        "workers": _WORKERS,
        "progress": _PROGRESS,
        "metrics_file": text(nullable=True),
    },
    "prepare": {
        "dataset": group("dataset"),
        "raw_dir": text(),
        "out_dir": text(),
        "link": choice("hardlink", "copy", "symlink"),
    },
    "export": {
        **CHECKPOINT,
        "ckpt_path": existing_file(prefixes=_ZOO, note=_CKPT),
        "output": text(note="a file name ending in .onnx"),
        "height": positive(nullable=True, note="null: the dataset's test size"),
        "width": positive(nullable=True, note="null: the dataset's test size"),
        "dynamic": flag(),
        "opset": positive(nullable=True, note="null: the exporter's default"),
        "exporter": choice("dynamo", "torchscript"),
        "verify": flag(),
    },
    "segfix_ground_truth": {
        "input": text(),
        "output": text(),
        "kind": choice("semantic", "instance"),
        "glob": glob(),
        "min_pixels": count(),
        "skip_existing": flag(),
        "workers": _WORKERS,
        "progress": _PROGRESS,
    },
}

# A mandatory key that a recipe leaves only to name another option's value (the stage recipes'
# ``previous_stage: ???`` with ``init_from: ${previous_stage}``: a ``???`` cannot replace
# train.yaml's ``init_from: null`` in a merge). It is given once that option is given itself, and
# not asked for by a tool without that option (eval.py of a stage recipe).
ALIASES: dict[str, str] = {"previous_stage": "init_from"}
