"""SegFix stage 3, offsets: predicting each pixel's (dh, dw) move and the files that hold them.

* :mod:`~ocseg.segfix.offsets.prediction` — ``OffsetPredictor``: network outputs → offsets
  (the original tester's sliding / whole-image procedure);
* :mod:`~ocseg.segfix.offsets.module` — the LightningModule that ``predict_offsets.py`` runs
  under ``trainer.test`` (devices, DDP, precision, progress bar);
* :mod:`~ocseg.segfix.offsets.files` — ``.mat`` (the original's) and ``.npz`` (ocseg compact)
  read / write, as ``SparseOffsets`` (``.mat`` through :mod:`ocseg.io.matfile`);
* :mod:`~ocseg.segfix.offsets.store` — finding a label's offset file in a folder or ``.zip``;
* :mod:`~ocseg.segfix.offsets.preview` — a colour picture of offsets.
"""
