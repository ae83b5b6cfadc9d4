"""A procedural street-scene dataset written in the real Cityscapes layout and label ids.

Real datasets cannot be downloaded here, so ``dataset=synthetic_city`` generates, once and
deterministically, scenes of road, sidewalk, terrain, buildings, sky, vegetation, poles, traffic
signs, cars and people as textured shapes, saved as::

    <root>/leftImg8bit/{train,val}/<city>/<city>_<seq>_<frame>_leftImg8bit.png
    <root>/gtFine/{train,val}/<city>/<city>_<seq>_<frame>_gtFine_labelIds.png
    <root>/gtFine/{train,val}/<city>/<city>_<seq>_<frame>_gtFine_instanceIds.png

so that the real Cityscapes loader (and the Cityscapes evaluator) reads it. Objects are slightly
blurred and noisy, so their boundaries are what a segmentation model gets wrong and SegFix can fix.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from ocseg.errors import OcsegError
from ocseg.io.atomic import write_png
from ocseg.io.status import status_logger

__all__ = ["SyntheticCitySpec", "generate", "ensure_generated", "render_scene"]

log = status_logger(__name__)

# Cityscapes labelIds used by the generator.
EGO_VEHICLE, ROAD, SIDEWALK, BUILDING, POLE, SIGN = 1, 7, 8, 11, 17, 20
VEGETATION, TERRAIN, SKY, PERSON, CAR = 21, 22, 23, 24, 26

_CITIES = {"train": ["synthville", "procburg"], "val": ["testopolis"]}
_MARKER = "ocseg_synthetic_city.json"


@dataclass(frozen=True)
class SyntheticCitySpec:
    """What to generate; the marker file stores it so a changed spec regenerates the data."""

    num_train: int = 64
    num_val: int = 16
    height: int = 256
    width: int = 512
    seed: int = 0
    version: int = 1


class _Canvas:
    """An RGB float image with its labelId and instanceId maps, painted together."""

    def __init__(self, height: int, width: int, rng: np.random.RandomState) -> None:
        self.h, self.w, self.rng = height, width, rng
        self.rgb = np.zeros((height, width, 3), np.float32)
        self.label = np.zeros((height, width), np.uint8)
        self.instance = np.zeros((height, width), np.int32)

    def texture(self, scale: float, amplitude: float) -> np.ndarray:
        """Smooth random texture (H×W) with the given feature size (pixels) and amplitude."""
        small = self.rng.standard_normal((max(2, int(self.h / scale)), max(2, int(self.w / scale))))
        return cv2.resize(small.astype(np.float32), (self.w, self.h),
                          interpolation=cv2.INTER_CUBIC) * amplitude

    def paint(self, mask: np.ndarray, label_id: int, color: Sequence[float],
              texture: np.ndarray | None = None, instance_id: int | None = None) -> None:
        pixels = np.asarray(color, np.float32)[None, :]
        if texture is not None:
            pixels = pixels + texture[mask][:, None]
        self.rgb[mask] = pixels
        self.label[mask] = label_id
        self.instance[mask] = label_id if instance_id is None else instance_id

    def paint_box(self, x0, y0, x1, y1, label_id: int, color: Sequence[float]) -> None:
        """Fast path of :meth:`paint` for a flat-coloured axis-aligned box."""
        y0, y1 = (int(np.clip(round(v), 0, self.h)) for v in (y0, y1))
        x0, x1 = (int(np.clip(round(v), 0, self.w)) for v in (x0, x1))
        self.rgb[y0:y1, x0:x1] = np.asarray(color, np.float32)
        self.label[y0:y1, x0:x1] = label_id
        self.instance[y0:y1, x0:x1] = label_id

    def poly_mask(self, points: Sequence[Sequence[float]]) -> np.ndarray:
        mask = np.zeros((self.h, self.w), np.uint8)
        cv2.fillPoly(mask, [np.round(np.asarray(points)).astype(np.int32)], 1)
        return mask.astype(bool)

    def ellipse_mask(self, center, axes) -> np.ndarray:
        mask = np.zeros((self.h, self.w), np.uint8)
        cv2.ellipse(mask, (int(round(center[0])), int(round(center[1]))),
                    (max(1, int(round(axes[0]))), max(1, int(round(axes[1])))), 0, 0, 360, 1, -1)
        return mask.astype(bool)

    def rect_mask(self, x0, y0, x1, y1) -> np.ndarray:
        mask = np.zeros((self.h, self.w), bool)
        y0, y1 = (int(np.clip(round(v), 0, self.h)) for v in (y0, y1))
        x0, x1 = (int(np.clip(round(v), 0, self.w)) for v in (x0, x1))
        mask[y0:y1, x0:x1] = True
        return mask


def _ground_layout(c: _Canvas) -> tuple[float, float, float, float]:
    """Sky, road, sidewalks and terrain; returns (horizon, vanishing x, left edge, right edge)."""
    rng, h, w = c.rng, c.h, c.w
    horizon = h * rng.uniform(0.38, 0.5)
    yy = np.arange(h, dtype=np.float32)[:, None].repeat(w, 1)
    sky_grad = (yy / max(horizon, 1.0))[..., None]
    top, low = np.array([95, 150, 225], np.float32), np.array([185, 210, 240], np.float32)
    c.rgb[:] = top + (low - top) * np.clip(sky_grad, 0, 1)
    c.rgb += c.texture(40, 6)[..., None]
    c.label[:] = SKY
    c.instance[:] = SKY
    ground = c.rect_mask(0, horizon, w, h)
    c.paint(ground, TERRAIN, (110 + rng.uniform(-15, 15), 150, 70), c.texture(6, 14))
    vx = w * rng.uniform(0.4, 0.6)
    left, right = w * rng.uniform(-0.35, 0.1), w * rng.uniform(0.9, 1.35)
    walk = rng.uniform(0.18, 0.3) * w
    sidewalk_color = (175, 160, 165)
    c.paint(c.poly_mask([(vx - 4, horizon), (vx + 4, horizon), (right + walk, h), (left - walk, h)]),
            SIDEWALK, sidewalk_color, c.texture(3, 10))
    road = c.poly_mask([(vx - 1, horizon), (vx + 1, horizon), (right, h), (left, h)])
    c.paint(road, ROAD, (88, 88, 94), c.texture(2, 7))
    # dashed centre line: still road
    for t0 in np.arange(0.05, 1.0, 0.16):
        t1 = t0 + 0.07
        xs = [vx + (0.5 * (left + right) - vx) * t for t in (t0, t1)]
        ys = [horizon + (h - horizon) * t for t in (t0, t1)]
        half = [1 + 6 * t for t in (t0, t1)]
        pts = [(xs[0] - half[0], ys[0]), (xs[0] + half[0], ys[0]), (xs[1] + half[1], ys[1]),
               (xs[1] - half[1], ys[1])]
        c.paint(c.poly_mask(pts) & road, ROAD, (225, 225, 215))
    return horizon, vx, left, right


def _buildings(c: _Canvas, horizon: float) -> None:
    rng, h, w = c.rng, c.h, c.w
    x = rng.uniform(-0.1, 0.0) * w
    while x < w:
        bw = rng.uniform(0.08, 0.25) * w
        top = horizon - rng.uniform(0.08, 0.38) * h
        base = np.array([rng.uniform(120, 175), rng.uniform(95, 140), rng.uniform(80, 120)])
        mask = c.rect_mask(x, top, x + bw, horizon + 2)
        c.paint(mask, BUILDING, base, c.texture(4, 8))
        win_w, win_h = rng.uniform(4, 9), rng.uniform(5, 10)
        for wy in np.arange(top + 4, horizon - win_h, win_h * 2.0):
            for wx in np.arange(x + 3, x + bw - win_w, win_w * 2.0):
                c.paint_box(wx, wy, wx + win_w, wy + win_h, BUILDING, base * 0.45)
        x += bw + rng.uniform(0, 0.03) * w


def _trees(c: _Canvas, horizon: float) -> None:
    rng, h, w = c.rng, c.h, c.w
    for _ in range(rng.randint(1, 5)):
        cx, size = rng.uniform(0, w), rng.uniform(0.05, 0.14) * h
        cy = horizon - rng.uniform(0.0, 0.12) * h
        c.paint(c.rect_mask(cx - size * 0.08, cy, cx + size * 0.08, cy + size * 1.3), VEGETATION,
                (90, 65, 40), c.texture(2, 6))
        crown = c.ellipse_mask((cx, cy - size * 0.3), (size * rng.uniform(0.8, 1.3), size))
        c.paint(crown, VEGETATION, (50, 115 + rng.uniform(-20, 20), 45), c.texture(2, 22))


def _poles_and_signs(c: _Canvas, horizon: float, vx: float, left: float, right: float) -> None:
    rng, h = c.rng, c.h
    for _ in range(rng.randint(1, 4)):
        t = rng.uniform(0.25, 1.0)
        side = rng.choice([-1, 1])
        edge = (left if side < 0 else right)
        foot_y = horizon + (h - horizon) * t
        foot_x = vx + (edge - vx) * t + side * (8 + 20 * t)
        height, width = (h - horizon) * t * 1.6 + 10, 1.5 + 3 * t
        c.paint(c.rect_mask(foot_x - width / 2, foot_y - height, foot_x + width / 2, foot_y),
                POLE, (150, 150, 150), c.texture(2, 5))
        if rng.rand() < 0.7:
            s = 3 + 9 * t
            color = [(210, 40, 40), (40, 80, 200), (230, 200, 40)][rng.randint(3)]
            sign = c.ellipse_mask((foot_x, foot_y - height), (s, s)) if rng.rand() < 0.5 else \
                c.rect_mask(foot_x - s, foot_y - height - s, foot_x + s, foot_y - height + s)
            c.paint(sign, SIGN, color, c.texture(2, 4))


def _cars(c: _Canvas, horizon: float, vx: float, left: float, right: float, first: int) -> int:
    rng, h = c.rng, c.h
    placed = []
    for _ in range(rng.randint(1, 6)):
        t = rng.uniform(0.15, 0.95)
        y = horizon + (h - horizon) * t
        x = vx + ((left + right) / 2 - vx) * t + (right - left) * t * rng.uniform(-0.35, 0.35)
        placed.append((y, x, t))
    for k, (y, x, t) in enumerate(sorted(placed)):
        road_w = min(right - left, 1.2 * c.w) * t
        cw, ch = road_w * 0.3, min(road_w * 0.3 * 0.55, (h - horizon) * t * 0.42)
        color = rng.uniform(20, 230, 3)
        inst = CAR * 1000 + first + k
        body = c.rect_mask(x - cw / 2, y - ch * 0.6, x + cw / 2, y)
        cabin = c.poly_mask([(x - cw * 0.35, y - ch * 0.6), (x - cw * 0.25, y - ch),
                             (x + cw * 0.25, y - ch), (x + cw * 0.35, y - ch * 0.6)])
        c.paint(body | cabin, CAR, color, c.texture(2, 5), inst)
        c.paint(c.rect_mask(x - cw * 0.22, y - ch * 0.92, x + cw * 0.22, y - ch * 0.64), CAR,
                (40, 50, 60), None, inst)
        for wx in (x - cw * 0.3, x + cw * 0.3):
            c.paint(c.ellipse_mask((wx, y), (cw * 0.1, ch * 0.12)), CAR, (20, 20, 20), None, inst)
    return len(placed)


def _people(c: _Canvas, horizon: float, vx: float, left: float, right: float, first: int) -> int:
    rng, h = c.rng, c.h
    placed = []
    for _ in range(rng.randint(0, 5)):
        t = rng.uniform(0.2, 1.0)
        side = rng.choice([-1, 1])
        edge = left if side < 0 else right
        placed.append((horizon + (h - horizon) * t, vx + (edge - vx) * t + side * rng.uniform(4, 40) * t, t))
    for k, (y, x, t) in enumerate(sorted(placed)):
        ph = (h - horizon) * t * 0.75 + 6
        pw = ph * 0.28
        inst = PERSON * 1000 + first + k
        shirt = rng.uniform(30, 220, 3)
        c.paint(c.rect_mask(x - pw / 2, y - ph * 0.8, x + pw / 2, y - ph * 0.42), PERSON, shirt,
                c.texture(2, 4), inst)
        c.paint(c.rect_mask(x - pw * 0.4, y - ph * 0.42, x + pw * 0.4, y), PERSON, (40, 40, 70),
                None, inst)
        c.paint(c.ellipse_mask((x, y - ph * 0.89), (pw * 0.3, ph * 0.1)), PERSON, (220, 180, 150),
                None, inst)
    return len(placed)


def render_scene(height: int, width: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One scene: (BGR uint8 image, uint8 labelIds, uint16 instanceIds), deterministic in ``seed``."""
    c = _Canvas(height, width, np.random.RandomState(seed))
    horizon, vx, left, right = _ground_layout(c)
    _buildings(c, horizon)
    _trees(c, horizon)
    _poles_and_signs(c, horizon, vx, left, right)
    _cars(c, horizon, vx, left, right, first=0)
    _people(c, horizon, vx, left, right, first=0)
    if c.rng.rand() < 0.3:  # ego-vehicle hood: an ignored region, as in Cityscapes
        hood = c.ellipse_mask((width / 2, height * 1.05), (width * 0.6, height * 0.12))
        c.paint(hood, EGO_VEHICLE, (30, 30, 35), c.texture(3, 4))
    rgb = cv2.GaussianBlur(c.rgb, (0, 0), 0.8)
    rgb += c.rng.standard_normal(rgb.shape).astype(np.float32) * 5.0
    bgr = np.clip(np.rint(rgb[..., ::-1]), 0, 255).astype(np.uint8)
    return bgr, c.label.copy(), c.instance.astype(np.uint16)


def _write_split(root: Path, split: str, count: int, spec: SyntheticCitySpec) -> None:
    cities = _CITIES[split]
    for index in range(count):
        city = cities[index % len(cities)]
        name = f"{city}_{index // len(cities):06d}_{19 + index % 7:06d}"
        scene_seed = spec.seed * 1_000_003 + (0 if split == "train" else 500_000) + index
        bgr, label, instance = render_scene(spec.height, spec.width, scene_seed)
        write_png(root / "leftImg8bit" / split / city / f"{name}_leftImg8bit.png", bgr)
        gt = root / "gtFine" / split / city
        write_png(gt / f"{name}_gtFine_labelIds.png", label)
        write_png(gt / f"{name}_gtFine_instanceIds.png", instance)


def generate(root: str | Path, spec: SyntheticCitySpec = SyntheticCitySpec()) -> Path:
    """Write the dataset to ``root`` (replacing what is there) via a temporary folder + rename."""
    root = Path(root)
    tmp = root.with_name(root.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    for split, count in (("train", spec.num_train), ("val", spec.num_val)):
        _write_split(tmp, split, count, spec)
    (tmp / _MARKER).write_text(json.dumps(asdict(spec), indent=2) + "\n")
    if root.exists():
        shutil.rmtree(root)
    tmp.rename(root)
    return root


def ensure_generated(root: str | Path, num_train: int = 64, num_val: int = 16, height: int = 256,
                     width: int = 512, seed: int = 0) -> Path:
    """Generate under ``root`` unless the same spec is already there (first use only)."""
    root = Path(root)
    spec = SyntheticCitySpec(num_train, num_val, height, width, seed)
    if root.exists() and not root.is_dir():
        raise OcsegError(f"dataset.root='{root}' is a file, not a folder; point dataset.root at an "
                         "empty or new folder (synthetic_city is generated there on first use)")
    marker = root / _MARKER
    if marker.is_file():
        try:
            if json.loads(marker.read_text()) == asdict(spec):
                return root
        except json.JSONDecodeError:
            pass
    elif root.exists() and any(root.iterdir()):
        raise OcsegError(
            f"'{root}' exists but was not made by the synthetic generator; point dataset.root at an "
            "empty or new folder (it is generated there on first use)"
        )
    log.info("generating synthetic_city (%d train / %d val, %d×%d) under %s ...", spec.num_train,
             spec.num_val, spec.height, spec.width, root)
    try:
        return generate(root, spec)
    except OSError as exc:
        raise OcsegError(f"cannot generate synthetic_city under dataset.root='{root}' "
                         f"({exc.strerror or exc}); choose a writable folder with dataset.root=<folder>") from None
