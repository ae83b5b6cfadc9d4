"""Segmentation heads. Each takes the backbone's feature list and returns a dict of logits at
the features' stride: ``{"out", "aux"}`` (segmentation) or ``{"mask", "direction"}`` (SegFix)."""
