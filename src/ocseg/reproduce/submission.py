"""A Cityscapes benchmark submission: one zip of label-id PNGs, one per test image.

What the benchmark reads (cityscapesScripts, the official evaluator that the test server runs,
``cityscapesscripts/evaluation/evalPixelLevelSemanticLabeling.py``, ``getPrediction`` and the
file's header; the "Evaluation" section of its README.md): every prediction is a PNG whose pixels are the *label ids*
of ``helpers/labels.py`` (not train ids), at the image's full resolution, found by a recursive
search for ``<city>_<seq>_<frame>*.png``, exactly one per image. ``eval.py split=test`` writes
``label/<city>_<seq>_<frame>_leftImg8bit.png`` in label ids; this packs such a folder, checking
first that every test image has exactly one file of its size, and writes the zip atomically.

    python -m ocseg.reproduce.submission --labels <run>/label \
        --images /data/cityscapes/leftImg8bit/test --output submission.zip
"""

from __future__ import annotations

import argparse
import re
import sys
import zipfile
from pathlib import Path
from typing import Sequence

from ocseg.errors import OcsegError
from ocseg.io.atomic import atomic_path

__all__ = ["make_submission", "main"]

_FRAME = re.compile(r"^(.+?_\d{6}_\d{6})")
_IMAGE_SUFFIX = "_leftImg8bit.png"


def _frame(name: str) -> str | None:
    match = _FRAME.match(name)
    return match.group(1) if match else None


def _png_size(path: Path) -> tuple[int, int]:
    """(height, width) from the PNG header (the IHDR chunk), without decoding the image."""
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise OcsegError(f"'{path}' is not a PNG file")
    return int.from_bytes(head[20:24], "big"), int.from_bytes(head[16:20], "big")


def make_submission(labels: str | Path, images: str | Path, output: str | Path) -> dict:
    """Zip the label PNGs under ``labels`` for the test images under ``images`` into ``output``;
    returns ``{"files": N, "output": path}``. Every image needs exactly one label file named
    ``<city>_<seq>_<frame>*.png`` of the image's size; a missing, duplicate or wrongly sized file
    is an error naming it, and nothing is written."""
    labels, images, output = Path(labels), Path(images), Path(output)
    for folder, what in ((labels, "--labels (the label/ folder of eval.py split=test)"),
                         (images, "--images (leftImg8bit/test of the dataset)")):
        if not folder.is_dir():
            raise OcsegError(f"{what} '{folder}' is not a folder")
    frames = {}
    for image in sorted(images.rglob(f"*{_IMAGE_SUFFIX}")):
        frames[_frame(image.name)] = image
    if not frames:
        raise OcsegError(f"no '*{_IMAGE_SUFFIX}' images under '{images}'")
    found: dict[str, list[Path]] = {}
    for png in sorted(labels.rglob("*.png")):
        frame = _frame(png.name)
        if frame in frames:
            found.setdefault(frame, []).append(png)
    missing = sorted(set(frames) - set(found))
    if missing:
        raise OcsegError(f"{len(missing)} of {len(frames)} test images have no label file under "
                         f"'{labels}' (first: {missing[0]}); run eval.py split=test to the end first")
    twice = sorted(f for f, files in found.items() if len(files) > 1)
    if twice:
        raise OcsegError(f"{len(twice)} test images have several label files under '{labels}' "
                         f"(first: {[str(p) for p in found[twice[0]]]}); the benchmark needs one each")
    from PIL import Image

    for frame, (png,) in found.items():
        with Image.open(frames[frame]) as image:
            width, height = image.size
        if _png_size(png) != (height, width):
            raise OcsegError(f"'{png}' is {_png_size(png)[0]}×{_png_size(png)[1]} but its image is "
                             f"{height}×{width}; the benchmark scores full-resolution label ids")
    with atomic_path(output, suffix=".zip") as tmp:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
            for frame in sorted(found):
                png = found[frame][0]
                archive.write(png, png.name)
    return {"files": len(found), "output": str(output)}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ocseg.reproduce.submission",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--labels", required=True, help="folder of label-id PNGs (eval.py's label/)")
    parser.add_argument("--images", required=True, help="the test images: <cityscapes>/leftImg8bit/test")
    parser.add_argument("--output", required=True, help="the zip to write")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        summary = make_submission(args.labels, args.images, args.output)
    except OcsegError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)
    print(f"wrote {summary['output']}: {summary['files']} label-id PNGs, one per test image "
          "(upload it at https://www.cityscapes-dataset.com/submit/)", flush=True)


if __name__ == "__main__":
    main()
