"""Checkpoints: the ocseg format (Lightning's file plus the run config), the original openseg
``.pth`` files, safe reading, and building a network from either.

:func:`load_network` rebuilds the network of a checkpoint (eval, offset prediction,
:func:`ocseg.load`); :func:`load_checkpoint` puts the weights of either kind into a network you
built; :func:`save_network` writes the ocseg format; ``train.py`` uses :func:`checkpoint_kind`
to tell a resumable Lightning checkpoint from an initialisation.
"""

from ocseg.checkpoints.files import checkpoint_kind, read_checkpoint
from ocseg.checkpoints.load import LoadedNetwork, load_checkpoint, load_network
from ocseg.checkpoints.ocseg import save_network

__all__ = ["LoadedNetwork", "checkpoint_kind", "load_checkpoint", "load_network", "read_checkpoint",
           "save_network"]
