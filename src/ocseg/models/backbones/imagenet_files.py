"""The original's ImageNet weight files: the names its training scripts load from
``pretrained_model/`` and where the original says to download them.

Sources (openseg.pytorch): ``MODEL_ZOO.md`` (branch master, lines 117-122; pytorch-1.7, lines
140-145) links the four HRNet files one by one; ``GETTING_STARTED.md`` (line 99, both branches)
points at the release page for all ImageNet files, which is the only link it gives for the
deep-base ResNet-101 file and the PaddleClas SSLD HRNet-W48 conversion. A file with a direct
link is downloaded on first use (:func:`ocseg.models.backbones.pretrained.load_pretrained`).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["IMAGENET_RELEASE", "IMAGENET_FILES", "direct_url", "download_hint"]

#: the release page of every ImageNet file (GETTING_STARTED.md:99, master and pytorch-1.7)
IMAGENET_RELEASE = "https://github.com/hsfzxjy/models.storage/releases/tag/openseg-pytorch-pretrained"
_DOWNLOAD = "https://github.com/hsfzxjy/models.storage/releases/download/openseg-pytorch-pretrained"

#: file name → download URL (the release page where the original names no direct link)
IMAGENET_FILES: dict[str, str] = {
    "hrnetv2_w18_imagenet_pretrained.pth": f"{_DOWNLOAD}/hrnetv2_w18_imagenet_pretrained.pth",
    "hrnetv2_w32_imagenet_pretrained.pth": f"{_DOWNLOAD}/hrnetv2_w32_imagenet_pretrained.pth",
    "hrnetv2_w48_imagenet_pretrained.pth": f"{_DOWNLOAD}/hrnetv2_w48_imagenet_pretrained.pth",
    "hr_rnet_bt_w20_imagenet_pretrained.pth": f"{_DOWNLOAD}/hr_rnet_bt_w20_imagenet_pretrained.pth",
    # scripts/cityscapes/{ocnet,isa,ocrnet}/run_r_101_d_8_*.sh (master): PRETRAINED_MODEL
    "resnet101-imagenet.pth": IMAGENET_RELEASE,
    # the *_paddle.sh scripts (pytorch-1.7): PaddleClas SSLD weights converted to PyTorch
    "HRNet_W48_C_ssld_pretrained.pth": IMAGENET_RELEASE,
}


def direct_url(path: str | Path) -> str | None:
    """The download link of the ImageNet file ``path`` (by its name); None for a file the
    original publishes only on its release page, or does not name."""
    url = IMAGENET_FILES.get(Path(path).name)
    return None if url in (None, IMAGENET_RELEASE) else url


def download_hint(path: str | Path) -> str:
    """Where to get the ImageNet file ``path`` (by its name), for an error message."""
    url = IMAGENET_FILES.get(Path(path).name)
    if url is None:
        return f"the original's ImageNet files are listed at {IMAGENET_RELEASE}"
    if url == IMAGENET_RELEASE:
        return f"download it from the release page {url}"
    return f"download it from {url}"
