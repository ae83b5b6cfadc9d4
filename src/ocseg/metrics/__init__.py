"""Evaluation metrics."""

from ocseg.metrics.confusion import SegmentationMetrics, confusion_matrix, scores_from_confusion

__all__ = ["SegmentationMetrics", "confusion_matrix", "scores_from_confusion"]
