"""Test-time inference: padding, whole-image and sliding-window prediction, multi-scale + flip.

The pieces take any ``forward(images) -> dict[str, Tensor]`` callable, so the segmentation
evaluator and the SegFix offset predictor share them; :class:`SegmentationPredictor` composes
them into the original tester's procedure.
"""

from ocseg.inference.flip import hflip, swap_channels, unflip_logits
from ocseg.inference.multiscale import multi_scale, rescale, scaled_size
from ocseg.inference.padding import crop_top_left, pad_bottom_right, padded_size
from ocseg.inference.predictor import SegmentationPredictor
from ocseg.inference.sliding import sliding_window
from ocseg.inference.whole import select_outputs, whole_image
from ocseg.inference.windows import Box, window_boxes, window_starts

__all__ = [
    "Box", "SegmentationPredictor", "crop_top_left", "hflip", "multi_scale", "pad_bottom_right",
    "padded_size", "rescale", "scaled_size", "select_outputs", "sliding_window", "swap_channels",
    "unflip_logits", "whole_image", "window_boxes", "window_starts",
]
