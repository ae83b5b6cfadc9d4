"""The original semantic SegFix refinement script, re-stated step by step for the benchmark.

Re-states ``scripts/cityscapes/segfix.py`` of openseg-group/openseg.pytorch (the file is the
same on the ``master`` and ``pytorch-1.7`` branches; line numbers below are that file's). It is
written for ``bench/segfix.py`` (no code copied) and run by it as a separate process, like the
original, so start-up counts on both sides::

    python bench/original/segfix_refine.py --input <label dir> --offset <.mat dir> --out <dir>

Steps kept as the original does them:

* imports torch, numpy, PIL, scipy.io, multiprocessing.pool (lines 3-10) and asks bash for
  ``DATA_ROOT`` (lines 12-14; ``config.profile`` does not exist here, so /dev/null is sourced);
* ``LabelTransformer.encode`` (lines 31-42): an int64 map filled with 255, then one masked
  assignment per Cityscapes class (``np.int`` in the original, i.e. int64; NumPy ≥ 1.24 no
  longer has the alias); ``decode`` (lines 44-56): a uint8 map of 255, one assignment per class;
* ``get_offset`` (lines 81-83): ``loadmat(<name>.mat)['mat'].astype(float32).transpose(2, 0, 1)
  * scale``;
* ``shift`` (lines 64-79): the train-id map as ONE float channel, sampled with bilinear
  ``F.grid_sample(padding_mode='border')`` at ``(w + dw, h + dh)`` normalised by
  ``/ ((size - 1) / 2) - 1`` (the align_corners=True convention) while ``align_corners`` is left
  at its default, False since PyTorch 1.3; then ``np.round`` and ``astype(np.uint8)``. Ids are
  blended: a pixel between train ids 2 and 8 can become 5;
* ``process`` (lines 85-96): ``Image.open(...).convert('P')``, encode, shift, decode, PIL save,
  one ``print`` per file;
* main (lines 99-129): ``os.listdir`` of the input folder and ``multiprocessing.pool.Pool()``
  (one process per core) ``.map``. Lines 131-132 (the Cityscapes evaluator for ``--split val``)
  are not run: ``refine.py`` is timed without ``split=`` too.
"""

import argparse
import multiprocessing.pool as mpp
import os
import os.path as osp
import subprocess

import numpy as np
import scipy.io
import torch
import torch.nn.functional as F
from PIL import Image

# scripts/cityscapes/segfix.py lines 12-14: a bash process at start-up
ARGS = None  # set by main()
DATA_ROOT = subprocess.check_output(["bash", "-c", "source /dev/null; echo $DATA_ROOT"]).decode().strip()

# lines 28-29: the Cityscapes label ids of train ids 0..18
LABEL_IDS = [7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33]


def encode(label_ids):
    """lines 31-42: label ids → train ids (int64, 255 elsewhere), one assignment per class."""
    label_ids = np.array(label_ids)
    train = np.ones((label_ids.shape[0], label_ids.shape[1]), dtype=np.int64) * 255
    for train_id, label_id in enumerate(LABEL_IDS):
        train[label_ids == label_id] = train_id
    return train


def decode(train):
    """lines 44-56: train ids → label ids (uint8, 255 elsewhere)."""
    train = np.array(train)
    label_ids = np.ones((train.shape[0], train.shape[1]), dtype=np.uint8) * 255
    for train_id, label_id in enumerate(LABEL_IDS):
        label_ids[train == train_id] = label_id
    return label_ids


def coordinates(height, width):
    """lines 59-62: float row and column index maps (meshgrid, 'ij' order)."""
    rows = torch.arange(height, dtype=torch.float)
    cols = torch.arange(width, dtype=torch.float)
    return torch.meshgrid(rows, cols, indexing="ij")


def shift(train, offset):
    """lines 64-79: bilinear sampling of the train-id map at the shifted coordinates."""
    height, width = train.shape
    ids = torch.from_numpy(train).unsqueeze(0)
    offset = torch.from_numpy(offset).unsqueeze(0)
    rows, cols = coordinates(height, width)
    norm = torch.FloatTensor([(width - 1) / 2, (height - 1) / 2])
    grid = torch.stack([offset[:, 1] + cols, offset[:, 0] + rows], dim=-1) / norm - 1
    sampled = F.grid_sample(ids.unsqueeze(1).float(), grid, padding_mode="border",
                            mode="bilinear").squeeze().numpy()  # align_corners: the default
    return np.round(sampled).astype(np.uint8)


def read_offset(name):
    """lines 81-83."""
    mat = scipy.io.loadmat(osp.join(ARGS.offset, name + ".mat"))["mat"]
    return mat.astype(np.float32).transpose(2, 0, 1) * ARGS.scale


def process(name):
    """lines 85-96."""
    source = osp.join(ARGS.input, name + ".png")
    target = osp.join(ARGS.out, name + ".png")
    train = encode(np.array(Image.open(source).convert("P")))
    refined = decode(shift(train, read_offset(name)))
    Image.fromarray(refined).save(target)
    print("Writing", target)


def main():
    """lines 99-129 (the globals the workers read are set here, as in the original)."""
    global ARGS
    # lines 12-14: a bash process at start-up
    subprocess.check_output(["bash", "-c", "source /dev/null; echo $DATA_ROOT"])
    parser = argparse.ArgumentParser()
    parser.add_argument("--input")
    parser.add_argument("--offset")
    parser.add_argument("--out")
    parser.add_argument("--scale", type=float, default=2)
    parser.add_argument("--processes", type=int, default=None,
                        help="Pool size (default None: one per core, as the original)")
    ARGS = parser.parse_args()
    os.makedirs(ARGS.out, exist_ok=True)
    names = [f.rpartition(".")[0] for f in os.listdir(ARGS.input)]
    print(len(names), "files in total.")
    mpp.Pool(ARGS.processes).map(process, names)


if __name__ == "__main__":
    main()
