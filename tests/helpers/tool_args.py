"""Command lines that run each tool quickly on the tiny synthetic dataset, for the tests that vary
one option at a time (``tests/test_options.py``, ``tests/test_options_properties.py``)."""

from __future__ import annotations

from pathlib import Path

from helpers.config import GENERATOR

#: the ocseg.app.cli function of each tool (primary config name → function)
FUNCTIONS = {"train": "train", "eval": "evaluate", "predict_offsets": "predict_offsets", "refine": "refine",
             "prepare": "prepare", "segfix_ground_truth": "segfix_ground_truth", "export": "export"}


def tool_args(tool: str, case: Path, root: Path, ckpts: dict[str, Path], preds: Path | None = None,
              offsets: Path | None = None) -> list[str]:
    """The command line of ``tool`` (a primary config name) writing only under ``case``
    (``out/``: its output, ``run/``: Hydra's run folder): ``root`` is the synthetic dataset,
    ``ckpts`` the ``segmentation`` and ``segfix`` checkpoints, ``preds``/``offsets`` a folder of
    label PNGs and their offsets for refine (missing folders when None)."""
    run = [f"hydra.run.dir={case / 'run'}"]
    if tool == "eval":
        return [f"ckpt_path={ckpts['segmentation']}", f"dataset.root={root}", f"output_dir={case / 'out'}",
                "data.num_workers=0", "trainer.enable_progress_bar=false", *GENERATOR, *run]
    if tool == "predict_offsets":
        return [f"ckpt_path={ckpts['segfix']}", f"input_dir={root / 'leftImg8bit' / 'val'}",
                f"output_dir={case / 'out'}", "data.num_workers=0", "progress=false", "backbone=hrnet_tiny",
                "predictor.crop_size=[32,32]", *run]
    if tool == "train":
        return [f"dataset.root={root}", f"paths.output_dir={case / 'out'}", "data.num_workers=0",
                "model=tiny_fcn", "schedule.max_steps=1", "schedule.val_every=1", "data.batch_size=2",
                "dataset.crop_size=[32,32]", "logger=none", "trainer.enable_progress_bar=false",
                "~callbacks.progress_bar", *GENERATOR, *run]
    if tool == "refine":
        return [f"input={preds or root / 'gtFine'}", f"offsets={offsets or case / 'offsets'}",
                f"output={case / 'out'}", f"metrics_file={case / 'out' / 'metrics.json'}", "workers=1",
                *GENERATOR, *run]   # the generator's sizes: split= does not regenerate the dataset
    if tool == "segfix_ground_truth":
        return [f"input={root / 'gtFine' / 'val'}", "glob=**/*_labelIds.png", f"output={case / 'out'}",
                "dataset=cityscapes", "workers=1", *run]
    if tool == "export":
        return [f"ckpt_path={ckpts['segmentation']}", f"output={case / 'out' / 'model.onnx'}", "exporter=torchscript",
                "height=32", "width=32", *GENERATOR, *run]
    if tool == "prepare":
        return ["dataset=cityscapes", f"raw_dir={case / 'downloads'}", f"out_dir={case / 'out'}", *run]
    raise ValueError(f"no command line for tool {tool!r}")
