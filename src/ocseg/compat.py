"""Every name ocseg takes from a library that the library does not promise to keep.

A name here is private to its library (a leading underscore, an ``_internal`` module): an
upgrade may move or drop it without notice. Each is resolved once, in this file, when ocseg
imports it: a library that lost one fails here, with one line naming the name and the version
it was written for, instead of at a user's resume or evaluation. ``tests/test_compat.py`` checks
each against the pinned version (``pyproject.toml``); a pin bump that breaks one fails there.

Where a public route exists, ocseg takes it instead (what moved out of the code and where):

- **Lightning**: none left. ``last.ckpt`` is written by ``ModelCheckpoint(save_last=True,
  every_n_train_steps=…)`` and :class:`~ocseg.lightning.LastCheckpoint` (an
  ``OnExceptionCheckpoint``) through public hooks and ``Trainer.save_checkpoint``; the atomic
  writer tells local paths apart itself (:mod:`ocseg.lightning.checkpoint_io`).
- **torch**: none left. BatchNorm layers of any dimension are the public classes of
  :data:`ocseg.models.layers.norm_act.BATCH_NORMS` (not ``nn.modules.batchnorm._BatchNorm``);
  BN folding traces with the public ``torch.overrides.TorchFunctionMode``.
- **numpy**: :data:`NUMPY_SCALAR`, below.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["NUMPY_SCALAR", "WRITTEN_FOR", "private_name"]

#: The library versions the names below were checked against (the pins of ``pyproject.toml``).
WRITTEN_FOR = {"numpy": "2.3.5"}


def private_name(dotted: str, package: str) -> Any:
    """The object at ``dotted`` (``"numpy._core.multiarray.scalar"``), or one ImportError naming
    it, the installed version of ``package`` and the version this file was written for."""
    from importlib.metadata import version

    module, _, attr = dotted.rpartition(".")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        raise ImportError(f"{package} {version(package)} has no {dotted} (ocseg was written for "
                          f"{package} {WRITTEN_FOR[package]}); install the version pinned in "
                          "pyproject.toml, or update ocseg/compat.py") from None


# -- numpy ----------------------------------------------------------------------------------------
#: How a pickled numpy scalar is rebuilt (the original's checkpoints hold one in
#: ``config_dict["performance"]``): ``torch.load(weights_only=True)`` must be allowed this exact
#: global, and numpy 2 has no public name for it (torch's own docs allow-list it the same way).
NUMPY_SCALAR = private_name("numpy._core.multiarray.scalar", "numpy")
