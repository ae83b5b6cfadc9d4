"""SegFix stage 4, refinement: moving boundary labels along the offsets.

* :mod:`~ocseg.segfix.refinement.gather` — the exact integer gather on arrays
  (``refine_labels``, ``refine_masks``);
* :mod:`~ocseg.segfix.refinement.folder` — ``refine_folder``: a folder of predictions with a
  folder / ``.zip`` of offsets, in parallel, optionally scored (``refine.py``);
* :mod:`~ocseg.segfix.refinement.chained` — ``ChainedRefinement``: the function that refines
  every prediction inside ``eval.py segfix.offsets=``.

``refine.py`` imports only this stage, the offset files and the label IO: no Lightning, no
torchmetrics, no torch (scoring with ``split=`` is numpy, and loads the dataset when used).
"""
