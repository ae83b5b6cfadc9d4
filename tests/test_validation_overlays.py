"""W&B validation overlays: the input image recovered exactly from the network input, and with
``logger=wandb`` (offline) the overlays of every validation logged as images."""

from __future__ import annotations

import numpy as np
import pytest
from hydra.utils import instantiate

from helpers.config import CONF


@pytest.mark.parametrize("normalize", ["imagenet_bgr", "caffe_bgr"])
def test_the_input_image_is_recovered_from_the_network_input(normalize):
    from omegaconf import OmegaConf

    from ocseg.lightning.validation_overlays import image_of_input

    norm = instantiate(OmegaConf.load(CONF / "normalize" / f"{normalize}.yaml"))
    bgr = np.random.RandomState(0).randint(0, 256, (5, 7, 3)).astype(np.uint8)
    assert np.array_equal(image_of_input(norm(bgr), norm), bgr[..., ::-1])


def test_wandb_logs_prediction_and_ground_truth_overlays_offline(tiny_cfg, tmp_path, single_thread):
    import cv2

    from ocseg.tasks.train import train

    cfg = tiny_cfg("logger=wandb", "schedule.max_steps=2", "schedule.val_every=1",
                   "callbacks.wandb_overlays.num_images=3")
    train(cfg)
    pngs = sorted((tmp_path / "run" / "wandb").glob("offline-run-*/files/media/images/val/overlays_*.png"))
    # 2 validations × 3 images; each panel: prediction | ground truth, side by side
    assert len(pngs) == 6
    panel = cv2.imread(str(pngs[0]))[..., ::-1]
    assert panel.shape == (64, 256, 3)
    truth = panel[:, 128:]
    # sky (train id 10, palette [70, 130, 180]) fills the top row of every generated scene: the
    # ground-truth half there is the image blended half-way with the sky colour
    sky = np.asarray(cfg.dataset.palette[10], np.float32)
    assert np.abs(truth[0].astype(np.float32) - sky).mean() < 60
