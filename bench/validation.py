"""Training-time validation per image: the row's test protocol against scoring the resized label.

    python bench/validation.py [--model tiny_fcn] [--repeats R] [--threads T] [--quick] [--json PATH]

For each dataset whose protocol resizes (ADE20K, LIP, Mapillary; Cityscapes runs the same whole
image either way), one image of a typical size goes through

* **protocol** — what training validation runs now, eval.py's ``test=ss``: the full-resolution
  image through :class:`~ocseg.inference.SegmentationPredictor` (bicubic resize, ``fit_stride``
  padding, LIP's mirror), logits cropped and resized back bicubically, argmax, confusion matrix
  against the unresized label;
* **resized label** — what it ran before: the image and label resized as the dataset's old
  ``val_transform`` did (OpenCV bicubic / nearest), one forward pass, logits upsampled to the
  resized label, argmax, confusion matrix.

The network is ``--model`` with random weights on the CPU (``tiny_fcn`` by default, so that the
fixed costs — resizing the logits back, scoring at full resolution — show); the median of
``--repeats`` runs, in alternation, is reported in milliseconds per image.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from ocseg.data.resize import upsample_to
from ocseg.inference import SegmentationPredictor
from ocseg.metrics.accumulators import confusion_matrix
from ocseg.models import build_model

# dataset → (image H×W, classes, protocol, the old val_transform's network input size)
CASES = {
    "ade20k (512×683)": ((512, 683), 150, dict(short_side=520, pad_stride=8), (520, 694)),
    "lip (320×240)": ((320, 240), 20, dict(input_size=(473, 473), flip=True,
                                          flip_swap_pairs=[(14, 15), (16, 17), (18, 19)]), (473, 473)),
    "mapillary (3024×4032)": ((3024, 4032), 65, dict(short_side=1024, pad_stride=8), (1024, 1365)),
}


def protocol(net, case, image, label) -> None:
    (_, classes, settings, _) = case
    pred = SegmentationPredictor(**settings).predict(net, [image])[0]
    confusion_matrix(pred, label, classes)


def resized_label(net, case, image, label) -> None:
    (_, classes, _, size) = case
    h, w = size
    small = cv2.resize(image.permute(1, 2, 0).numpy(), (w, h), interpolation=cv2.INTER_CUBIC)
    target = torch.from_numpy(cv2.resize(label.numpy().astype(np.uint8), (w, h),
                                         interpolation=cv2.INTER_NEAREST).astype(np.int64))
    out = net(torch.from_numpy(small).permute(2, 0, 1)[None])["out"]
    pred = upsample_to(out.float(), (h, w)).argmax(1)[0]
    confusion_matrix(pred, target, classes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny_fcn")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--quick", action="store_true", help="2 repeats (bench/run.py --quick)")
    args = parser.parse_args()
    if args.quick:
        args.repeats = 2
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    results = {}
    for name, case in CASES.items():
        (h, w), classes = case[0], case[1]
        net = build_model(args.model, classes).eval()
        generator = torch.Generator().manual_seed(0)
        image = torch.randn(3, h, w, generator=generator)
        label = torch.randint(0, classes, (h, w), generator=generator)
        times = {"protocol": [], "resized label": []}
        with torch.inference_mode():
            for r in range(args.repeats + 1):
                order = [("protocol", protocol), ("resized label", resized_label)]
                for key, run in (order if r % 2 else order[::-1]):
                    start = time.perf_counter()
                    run(net, case, image, label)
                    if r:  # the first round warms up
                        times[key].append(time.perf_counter() - start)
        results[name] = {k: 1000 * statistics.median(v) for k, v in times.items()}
        print(f"{name:24s} protocol {results[name]['protocol']:8.0f} ms   resized label "
              f"{results[name]['resized label']:8.0f} ms   (model={args.model}, {args.threads} thread(s))")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    sys.exit(main())
