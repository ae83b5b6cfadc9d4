"""``predict_offsets.py``: SegFix offsets for every image of a dataset split or of any folder.

Loads a SegFix checkpoint (ocseg ``.ckpt`` or the original's ``.pth``), predicts each image at
its own resolution with :class:`~ocseg.segfix.offsets.prediction.OffsetPredictor` (sliding
512×512 windows, stride 170, or whole image) and writes ``<output_dir>/<image stem>.mat`` (key
``mat``, H×W×2 (dh, dw), what the original tester wrote) and/or the compact ``<stem>.npz``,
each atomically; images whose files exist are skipped unless ``overwrite=true``. No labels are
read, so unlabelled splits and plain image folders (``input_dir=``) work alike.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from ocseg.data.image_io import IMAGE_EXTENSIONS, list_images, read_image
from ocseg.errors import OcsegError, require_dir, require_unique_stems
from ocseg.evaluation.items import output_names
from ocseg.segfix.network import load_segfix_network
from ocseg.segfix.offsets.preview import write_offset_preview
from ocseg.segfix.offsets.files import SparseOffsets, write_offsets
from ocseg.tasks.evaluate import build_eval_dataset

__all__ = ["FORMATS", "ImageFiles", "image_folder", "predict_offsets"]

#: ``format=`` choices and the file suffixes each writes.
FORMATS = {"mat": (".mat",), "npz": (".npz",), "both": (".mat", ".npz")}


class ImageFiles(Dataset):
    """Normalised images ``{"image": 3×H×W, "name"}`` of a list of files (no labels)."""

    def __init__(self, paths: Sequence[Path], names: Sequence[str], normalize) -> None:
        self.paths = list(paths)
        self.names = list(names)
        self.normalize = normalize

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {"image": self.normalize(read_image(self.paths[index])), "name": self.names[index]}


def _single(items: list[dict[str, Any]]) -> dict[str, Any]:
    return items[0]


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


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise OcsegError(f"device={name} but no CUDA device is available; use device=cpu")
    return torch.device(name)


def predict_offsets(cfg: DictConfig) -> dict:
    """Predict and write the offsets of ``cfg``'s images; returns a summary."""
    if cfg.format not in FORMATS:
        raise OcsegError(f"unknown format={cfg.format!r}; use one of {sorted(FORMATS)}")
    if not cfg.get("ckpt_path"):
        raise OcsegError("predict_offsets needs a SegFix checkpoint: pass ckpt_path=<file> (an "
                         "ocseg .ckpt of a SegFix run or an original segfix_hrnet .pth)")
    suffixes = FORMATS[cfg.format]
    paths, names, what = _sources(cfg)
    out = Path(cfg.output_dir)

    def done(name: str) -> bool:
        return all((out / f"{name}{suffix}").is_file() for suffix in suffixes)

    todo = [i for i, name in enumerate(names) if cfg.overwrite or not done(name)]
    device = _device(str(cfg.device))
    net = load_segfix_network(cfg, cfg.ckpt_path, strict=cfg.get("ckpt_strict", True)).to(device)
    predictor = instantiate(cfg.predictor)
    print(f"predict_offsets: {len(names)} {what} with {predictor} on {device}; {len(todo)} to "
          f"predict, {len(names) - len(todo)} already in {out} (overwrite=true redoes them)",
          flush=True)
    images = ImageFiles([paths[i] for i in todo], [names[i] for i in todo], instantiate(cfg.normalize))
    loader = DataLoader(images, batch_size=1, num_workers=int(cfg.num_workers), collate_fn=_single)
    out.mkdir(parents=True, exist_ok=True)
    moved = pixels = 0
    start = time.perf_counter()
    bar = tqdm(loader, total=len(images), desc="SegFix offsets", unit="img", dynamic_ncols=True,
               disable=None if cfg.progress is None else not cfg.progress)
    with torch.inference_mode():
        for item in bar:
            offsets = predictor(net, item["image"].unsqueeze(0).to(device))[0].cpu().numpy()
            sparse = SparseOffsets.from_dense(offsets)
            for suffix in suffixes:
                write_offsets(out / f"{item['name']}{suffix}", sparse, mat_dtype=cfg.mat_dtype)
            if cfg.save_preview:
                write_offset_preview(out / "preview" / f"{item['name']}.png", offsets)
            moved += int(sparse.index.size)
            pixels += int(offsets.shape[0] * offsets.shape[1])
    seconds = time.perf_counter() - start
    summary = {"images": len(names), "predicted": len(todo), "kept": len(names) - len(todo),
               "moved_fraction": moved / pixels if pixels else 0.0, "output": str(out),
               "formats": [s[1:] for s in suffixes], "seconds": round(seconds, 3)}
    print(f"wrote {'/'.join(summary['formats'])} offsets of {len(todo)} images to {out} "
          f"({100 * summary['moved_fraction']:.2f}% of pixels move"
          + (f", {seconds / len(todo):.2f} s/img" if todo else "") + ")", flush=True)
    return summary
