"""``predict_offsets.py``: SegFix offsets for every image of a dataset split or of any folder.

Loads a SegFix checkpoint (ocseg ``.ckpt`` or the original's ``.pth``), predicts each image at
its own resolution with :class:`~ocseg.segfix.offsets.prediction.OffsetPredictor` (sliding
512×512 windows, stride 170, or whole image) and writes ``<output_dir>/<image stem>.mat`` (key
``mat``, H×W×2 (dh, dw), what the original tester wrote) and/or the compact ``<stem>.npz``,
each atomically; images whose files exist are skipped unless ``overwrite=true``. No labels are
read, so unlabelled splits and plain image folders (``input_dir=``) work alike. Prediction runs
under a Lightning trainer (``trainer=``: devices, DDP, precision, progress bar), as ``eval.py``
does, with :class:`~ocseg.segfix.offsets.module.OffsetPredictionModule`.
"""

from __future__ import annotations

import time
from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig

from ocseg.checkpoints import load_network
from ocseg.checkpoints.identity import ReadCheckpoint
from ocseg.data.preflight import check_inputs
from ocseg.errors import OcsegError, require_dir, require_output_dir, require_unique_stems
from ocseg.evaluation.items import output_names
from ocseg.io.image_io import IMAGE_EXTENSIONS, list_images
from ocseg.io.status import status_logger
from ocseg.segfix.offsets.module import OffsetImages, OffsetPredictionModule
from ocseg.tasks.evaluate import build_eval_dataset

__all__ = ["FORMATS", "image_folder", "predict_offsets"]

#: ``format=`` choices and the file suffixes each writes.
FORMATS = {"mat": (".mat",), "npz": (".npz",), "both": (".mat", ".npz")}

log = status_logger(__name__)


def image_folder(folder: str | Path) -> tuple[list[Path], list[str]]:
    """Every image under ``folder`` (recursive, sorted) and its output name (the file stem)."""
    root = require_dir(folder, "image folder", "set input_dir=<folder of images>")
    paths = list_images(root)
    if not paths:
        raise OcsegError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) under '{root}'; check input_dir=")
    require_unique_stems(paths, "images", "give the images distinct file names")
    return paths, [p.stem for p in paths]


def _sources(cfg: DictConfig) -> tuple[list[Path], list[str], str]:
    if cfg.get("input_dir"):
        paths, names = image_folder(cfg.input_dir)
        return paths, names, f"images under {cfg.input_dir}"
    dataset = build_eval_dataset(cfg, str(cfg.split))
    if len(dataset) == 0:
        raise OcsegError(f"dataset={cfg.dataset.name} split={cfg.split} has no images")
    return ([Path(s.image) for s in dataset.samples], output_names(dataset),
            f"images of dataset={cfg.dataset.name} split={cfg.split}")


def predict_offsets(cfg: DictConfig, checkpoint: ReadCheckpoint | None = None) -> dict:
    """Predict and write the offsets of ``cfg``'s images; returns a summary. ``checkpoint``: the
    file as the command line's completion already read it."""
    if cfg.format not in FORMATS:
        raise OcsegError(f"unknown format={cfg.format!r}; use one of {sorted(FORMATS)}")
    if not cfg.get("ckpt_path"):
        raise OcsegError("predict_offsets needs a SegFix checkpoint: pass ckpt_path=<file> (an "
                         "ocseg .ckpt of a SegFix run or an original segfix_hrnet .pth)")
    suffixes = FORMATS[cfg.format]
    require_output_dir(cfg.output_dir, "output_dir=")
    paths, names, what = _sources(cfg)
    out = Path(cfg.output_dir)

    def done(name: str) -> bool:
        return all((out / f"{name}{suffix}").is_file() for suffix in suffixes)

    todo = [i for i, name in enumerate(names) if cfg.overwrite or not done(name)]
    check_inputs([paths[i] for i in todo])  # all readable before the first offsets are written
    net, net_cfg, _ = load_network(cfg.ckpt_path, "segfix", cfg, strict=cfg.get("ckpt_strict", True),
                                   trust=cfg.get("trust_checkpoint", False),
                                   content=checkpoint.content_for(cfg.ckpt_path) if checkpoint else None)
    predictor = instantiate(cfg.predictor)
    images = OffsetImages([paths[i] for i in todo], [names[i] for i in todo],
                          instantiate(net_cfg.normalize))
    module = OffsetPredictionModule(net, predictor, images, out, suffixes, mat_dtype=cfg.mat_dtype,
                                    save_preview=cfg.save_preview, num_workers=cfg.data.num_workers)
    log.info("predict_offsets: %d %s with %s; %d to predict, %d already in %s (overwrite=true "
             "redoes them)", len(names), what, predictor, len(todo), len(names) - len(todo), out)
    out.mkdir(parents=True, exist_ok=True)
    moved_fraction, predicted, start = 0.0, 0, time.perf_counter()
    if todo:
        progress = cfg.get("progress")
        # the trainer config is shared with training; prediction needs none of its loop settings
        trainer = instantiate(
            cfg.trainer, logger=False, callbacks=[], use_distributed_sampler=False,
            enable_checkpointing=False, max_steps=-1, max_epochs=None, val_check_interval=None,
            check_val_every_n_epoch=1,
            **({} if progress is None else {"enable_progress_bar": bool(progress)}))
        results = trainer.test(module, verbose=False)
        moved_fraction = float(results[0]["moved_fraction"])
        predicted = int(results[0]["predicted"])  # summed over the processes
    seconds = time.perf_counter() - start
    summary = {"images": len(names), "predicted": predicted, "kept": len(names) - len(todo),
               "moved_fraction": moved_fraction, "output": str(out),
               "formats": [s[1:] for s in suffixes], "seconds": round(seconds, 3)}
    log.info("wrote %s offsets of %d images to %s (%.2f%% of pixels move%s)",
             "/".join(summary["formats"]), predicted, out, 100 * moved_fraction,
             f", {seconds / predicted:.2f} s/img" if predicted else "")
    return summary
