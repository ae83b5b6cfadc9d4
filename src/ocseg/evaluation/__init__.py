"""Evaluating a segmentation checkpoint: prediction files, resumable runs and DDP-summed scores.

``tasks/evaluate.py`` assembles these pieces from the config; the inference procedure itself
lives in :mod:`ocseg.inference`.
"""

from ocseg.evaluation.items import EvaluationItems, collate_items, output_names
from ocseg.evaluation.module import EvaluationModule
from ocseg.evaluation.outputs import PredictionWriter, color_image
from ocseg.evaluation.sampler import ShardSampler
from ocseg.io.image_io import palette_image

__all__ = [
    "EvaluationItems", "EvaluationModule", "PredictionWriter", "ShardSampler", "collate_items",
    "color_image", "output_names", "palette_image",
]
