"""SegFix stage 2, training: the targets computed on the fly from each augmented label and the
validation scores.

* :mod:`~ocseg.segfix.training.targets` — ``SegFixTargets`` / ``SegFixInstanceTargets`` (the
  dataset's ``target_transform``) and the per-pixel labels both the loss
  (:mod:`ocseg.losses.segfix`) and the metrics use: ``boundary_target``, ``direction_target``;
* :mod:`~ocseg.segfix.training.metrics` — ``SegFixMetrics`` (boundary F1, direction accuracy).
"""
