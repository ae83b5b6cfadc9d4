"""ocseg: OCNet-series semantic segmentation and SegFix on PyTorch Lightning + Hydra."""

import os as _os

# albumentations checks PyPI for a newer release when imported; ocseg runs offline, so that
# check is switched off before anything imports it (a user's explicit setting wins).
_os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

__version__ = "0.1.0"

# config resolvers (``${ocseg_classes:...}``) must exist before any config is resolved
import ocseg.data  # noqa: E402,F401
