"""SegFix: boundary offsets ground truth, targets, prediction and label refinement."""
