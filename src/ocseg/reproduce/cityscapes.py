"""The Cityscapes reproduction pipelines behind ``make reproduce-cityscapes`` and
``make reproduce-cityscapes-val``, as lists of :class:`~ocseg.reproduce.stages.Stage`.

Leaderboard (MODEL_ZOO.md, master, "How to reproduce the HRNet + OCR with Mapillary
pretraining", steps 2-5; the stage recipes are the experiments'):

1. ``mapillary_hrnet48_ocr_b``: Mapillary pre-training from the ImageNet file;
2. ``cityscapes_hrnet48_ocr_b_mapillary_trainval``: train+val, from stage 1's ``last.ckpt``
   (65 → 19 classes: the classifiers start fresh);
3. ``cityscapes_hrnet48_ocr_b_mapillary_coarse``: coarse labels, BatchNorm frozen, from stage 2;
4. ``cityscapes_hrnet48_ocr_b_mapillary_coarse_trainval``: train+val, from stage 3;
5. ``segfix_cityscapes_hrnet2x20``: the SegFix model (skipped when ``segfix_ckpt`` or
   ``offsets`` is given);
6. ``test_ms``: the test split with the row's protocol, ``eval.py split=test test=ms``;
7. ``segfix_offsets_test``: SegFix offsets of the test images (skipped with ``offsets``);
8. ``test_ms_segfix``: the predictions refined with them (``refine.py``);
9. ``submission``: the zip the Cityscapes server takes.

Val (MODEL_ZOO.md, master: HRNet-W48 + OCR, 81.09, 81.73 w/ SegFix): ``cityscapes_hrnet48_ocr``
→ SegFix model → ``val_ss`` (``eval.py`` single scale, scored) → val offsets → ``val_ss_segfix``
(``refine.py split=val``: before / after).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ocseg.reproduce.stages import Stage
from ocseg.reproduce.tiny import tiny_overrides

__all__ = ["Settings", "leaderboard_stages", "val_stages", "LEADERBOARD", "SEGFIX", "VAL",
           "PUBLISHED"]

LEADERBOARD = ("mapillary_hrnet48_ocr_b", "cityscapes_hrnet48_ocr_b_mapillary_trainval",
               "cityscapes_hrnet48_ocr_b_mapillary_coarse",
               "cityscapes_hrnet48_ocr_b_mapillary_coarse_trainval")
VAL = "cityscapes_hrnet48_ocr"
# the zoo's "w/ SegFix" offsets (offset_semantic.zip, offset_hrnext): HRNet2x-W20 SegFix
SEGFIX = "segfix_cityscapes_hrnet2x20"
SEGFIX_MODEL = "segfix_hrnet2x20"
# MODEL_ZOO.md (master): the leaderboard entry (test server, ms+flip) and the val row (ss)
PUBLISHED = {"leaderboard": (84.2, 84.5), "val": (81.09, 81.73)}

_WHAT = {
    LEADERBOARD[0]: "Mapillary pre-training (65 classes) from the ImageNet file",
    LEADERBOARD[1]: "Cityscapes train+val from stage 1 (classifiers re-initialised, 65 → 19)",
    LEADERBOARD[2]: "Cityscapes coarse, BatchNorm frozen, from stage 2",
    LEADERBOARD[3]: "Cityscapes train+val from stage 3 (the leaderboard model)",
    VAL: "Cityscapes train, 80k iterations (the 81.09 val row)",
    SEGFIX: "the SegFix model (HRNet2x-W20) whose offsets refine the predictions",
}


@dataclass(frozen=True)
class Settings:
    """What a user sets (the Makefile's variables).

    Args:
        runs: the pipeline's folder; every stage runs in ``<runs>/<stage>``.
        data: ``paths.data_dir``, holding ``cityscapes/`` and ``mapillary/``.
        pretrained: ``paths.pretrained_dir`` (ImageNet files, released checkpoints); None: the
            configs' default (``pretrained_model/``).
        gpus: GPUs of the machine: None → ``trainer=ddp`` (all of them), 0 → ``trainer=cpu``,
            1 → ``trainer=gpu``, N → ``trainer=ddp trainer.devices=N``. (The pipeline runs on
            one machine; a stage on several nodes: docs/reproduce-cityscapes.md.)
        segfix_ckpt: a SegFix checkpoint (ocseg ``.ckpt`` or the original's ``.pth``) instead of
            training stage ``segfix_cityscapes_hrnet2x20``.
        offsets: a folder or ``.zip`` of offsets (the original's ``offset_semantic.zip``) instead
            of predicting them.
        mapillary_ckpt: a Mapillary checkpoint (the released ``.pth``) instead of stage 1.
        train_args: extra overrides for every training stage.
        tiny: the ``REPRO_TINY`` shrink (:mod:`ocseg.reproduce.tiny`).
    """

    runs: Path
    data: Path = Path("data")
    pretrained: Path | None = None
    gpus: int | None = None
    segfix_ckpt: Path | None = None
    offsets: Path | None = None
    mapillary_ckpt: Path | None = None
    train_args: tuple[str, ...] = field(default=())
    tiny: bool = False

    def trainer(self) -> list[str]:
        if self.gpus is None:
            return ["trainer=ddp"]
        if self.gpus == 0:
            return ["trainer=cpu"]
        if self.gpus == 1:
            return ["trainer=gpu"]
        return ["trainer=ddp", f"trainer.devices={self.gpus}"]

    def paths(self) -> list[str]:
        out = [f"paths.data_dir={self.data}"]
        return out + ([f"paths.pretrained_dir={self.pretrained}"] if self.pretrained else [])

    def tool_args(self, tool: str, folder: Path, dataset: str = "cityscapes") -> list[str]:
        """The arguments every stage of ``tool`` shares: paths, devices, its run folder."""
        args = [*self.paths()]
        if tool in ("train", "eval", "predict_offsets"):
            args += self.trainer()
        args.append(f"hydra.run.dir={folder}")
        if self.tiny:
            args += tiny_overrides(tool, dataset)
        if tool == "train":
            args += self.train_args
        return args


def _train(settings: Settings, experiment: str, previous: Stage | Path | None = None,
           dataset: str = "cityscapes") -> Stage:
    """Training ``experiment``, initialised from ``previous`` (a stage's ``last.ckpt`` or a file)."""
    folder = settings.runs / experiment
    args = [f"experiment={experiment}"]
    if previous is not None:
        args.append(f"init_from={_weights(previous)}")
    args += settings.tool_args("train", folder, dataset)
    return Stage(experiment, "train", tuple(args), folder, _WHAT[experiment], needs=_needs(previous))


def _weights(source: Stage | Path) -> Path:
    return source.last_checkpoint if isinstance(source, Stage) else Path(source)


def _needs(*sources) -> tuple[str, ...]:
    return tuple(s.name for s in sources if isinstance(s, Stage))


def _offsets(settings: Settings, split: str) -> tuple[list[Stage], Stage | Path]:
    """The stages that give SegFix offsets for ``split`` (none when ``offsets`` is given), and
    the offsets: the prediction stage, or the given folder or archive."""
    if settings.offsets is not None:
        return [], settings.offsets
    stages = []
    source = settings.segfix_ckpt
    if source is None:
        source = _train(settings, SEGFIX)
        stages.append(source)
    ckpt = _weights(source)
    folder = settings.runs / f"segfix_offsets_{split}"
    args = ["dataset=cityscapes", f"split={split}", f"ckpt_path={ckpt}", "format=npz"]
    if ckpt.suffix != ".ckpt":          # an original .pth does not name its model
        args.append(f"model={SEGFIX_MODEL}")
    args += settings.tool_args("predict_offsets", folder)
    stages.append(Stage(folder.name, "predict_offsets", tuple(args), folder,
                        f"SegFix offsets of the {split} images", needs=_needs(source)))
    return stages, stages[-1]


def _refine(settings: Settings, name: str, predictions: Stage, offsets: Stage | Path,
            split: str | None) -> Stage:
    folder = settings.runs / name
    args = [f"input={predictions.folder / 'label'}", f"offsets={_folder(offsets)}",
            f"output={folder / 'label'}"]
    if split is not None:
        args += ["dataset=cityscapes", f"split={split}"]
    args += settings.tool_args("refine", folder)
    what = f"SegFix refinement{' scored on ' + split if split else ''} ({_folder(offsets)})"
    return Stage(name, "refine", tuple(args), folder, what, needs=_needs(predictions, offsets))


def _folder(source: Stage | Path) -> Path:
    return source.folder if isinstance(source, Stage) else Path(source)


def leaderboard_stages(settings: Settings) -> list[Stage]:
    """Mapillary → train+val → coarse → train+val → test ms+flip → SegFix → submission zip."""
    stages: list[Stage] = []
    previous: Stage | Path | None = settings.mapillary_ckpt
    if previous is None:
        previous = _train(settings, LEADERBOARD[0], dataset="mapillary")
        stages.append(previous)
    for experiment in LEADERBOARD[1:]:
        previous = _train(settings, experiment, previous)
        stages.append(previous)
    offsets_stages, offsets = _offsets(settings, "test")
    if offsets_stages and offsets_stages[0].tool == "train":
        stages.append(offsets_stages.pop(0))
    test = _eval(settings, "test_ms", previous, ("split=test", "test=ms"),
                 "the test split with the row's protocol: 7 scales (0.5-2.0) + flip")
    stages += [test, *offsets_stages]
    refined = _refine(settings, "test_ms_segfix", test, offsets, None)
    stages.append(refined)
    images = settings.data / "cityscapes" / "leftImg8bit" / "test"
    output = settings.runs / "cityscapes_test_submission.zip"
    stages.append(Stage("submission", "submission", (
        f"--labels={refined.folder / 'label'}", f"--images={images}", f"--output={output}"),
        settings.runs, "the zip for https://www.cityscapes-dataset.com/submit/ (label-id PNGs)",
        output=output, needs=(refined.name,)))
    return stages


def _eval(settings: Settings, name: str, model: Stage, protocol: tuple[str, ...], what: str) -> Stage:
    folder = settings.runs / name
    args = (f"experiment={model.name}", f"ckpt_path={model.last_checkpoint}", *protocol,
            *settings.tool_args("eval", folder))
    return Stage(name, "eval", args, folder, what, needs=(model.name,))


def val_stages(settings: Settings) -> list[Stage]:
    """The 80k HRNet-W48 + OCR row: train → val single scale → SegFix → val w/ SegFix."""
    model = _train(settings, VAL)
    stages = [model]
    offsets_stages, offsets = _offsets(settings, "val")
    if offsets_stages and offsets_stages[0].tool == "train":
        stages.append(offsets_stages.pop(0))
    val = _eval(settings, "val_ss", model, ("split=val",), "Cityscapes val, single scale, scored")
    stages += [val, *offsets_stages]
    stages.append(_refine(settings, "val_ss_segfix", val, offsets, "val"))
    return stages
