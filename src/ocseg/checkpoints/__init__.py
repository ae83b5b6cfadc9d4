"""Reading checkpoints: ocseg (Lightning) files and the original openseg ``.pth`` files.

:func:`load_checkpoint` puts the weights of either kind into a network; ``train.py`` uses
:func:`checkpoint_kind` to tell a resumable Lightning checkpoint from an initialisation.
"""

from ocseg.checkpoints.io import checkpoint_kind, load_checkpoint, read_checkpoint
from ocseg.checkpoints.zoo import ZOO

__all__ = ["checkpoint_kind", "load_checkpoint", "read_checkpoint", "ZOO"]
