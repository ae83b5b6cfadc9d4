"""Independent float64 numpy references for the loss tests (straightforward formulas, loops
where that is clearer); never shares code with ``ocseg.losses``."""

from __future__ import annotations

import numpy as np

IGNORE = 255


def log_softmax(z: np.ndarray, axis: int = 1) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    m = z.max(axis=axis, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=axis, keepdims=True))


def nll(logits: np.ndarray, label: np.ndarray) -> np.ndarray:
    """−log p_label per pixel (N×H×W); ignored pixels get 0."""
    lsm = log_softmax(logits)
    safe = np.where(label == IGNORE, 0, label)
    picked = np.take_along_axis(lsm, safe[:, None], axis=1)[:, 0]
    return np.where(label == IGNORE, 0.0, -picked)


def weighted_ce(logits, label, weight=None) -> float:
    """nn.CrossEntropyLoss(weight, ignore_index) mean: Σ w_y·nll / Σ w_y."""
    valid = label != IGNORE
    w = np.ones(logits.shape[1]) if weight is None else np.asarray(weight, dtype=np.float64)
    wy = np.where(valid, w[np.where(valid, label, 0)], 0.0)
    return float((wy * nll(logits, label)).sum() / wy.sum())


def bilinear_align_corners(x: np.ndarray, size) -> np.ndarray:
    """N×C×h×w → N×C×H×W, bilinear with align_corners=True."""
    n, c, h, w = x.shape
    H, W = size

    def coords(out_len, in_len):
        src = np.arange(out_len) * ((in_len - 1) / (out_len - 1) if out_len > 1 else 0.0)
        lo = np.floor(src).astype(int)
        hi = np.minimum(lo + 1, in_len - 1)
        return lo, hi, src - lo

    y0, y1, wy = coords(H, h)
    x0, x1, wx = coords(W, w)
    out = np.zeros((n, c, H, W))
    for i in range(H):
        for j in range(W):
            out[:, :, i, j] = ((1 - wy[i]) * (1 - wx[j]) * x[:, :, y0[i], x0[j]]
                               + (1 - wy[i]) * wx[j] * x[:, :, y0[i], x1[j]]
                               + wy[i] * (1 - wx[j]) * x[:, :, y1[i], x0[j]]
                               + wy[i] * wx[j] * x[:, :, y1[i], x1[j]])
    return out


def max_pool(x: np.ndarray, k: int, s: int, pad: int) -> np.ndarray:
    """Max pooling over the last two axes with -inf padding (torch semantics, floor mode)."""
    h, w = x.shape[-2:]
    oh, ow = (h + 2 * pad - k) // s + 1, (w + 2 * pad - k) // s + 1
    out = np.zeros(x.shape[:-2] + (oh, ow))
    for i in range(oh):
        for j in range(ow):
            r0, c0 = max(i * s - pad, 0), max(j * s - pad, 0)
            r1, c1 = min(i * s - pad + k, h), min(j * s - pad + k, w)
            out[..., i, j] = x[..., r0:r1, c0:c1].max(axis=(-2, -1))
    return out


def rmi_reference(logits, label, radius=3, pool=3, lam=0.5) -> tuple[float, float]:
    """(BCE, RMI) of the original's sigmoid RMI path, everything in float64."""
    z = np.asarray(logits, dtype=np.float64)
    n, c = z.shape[:2]
    valid = label != IGNORE
    onehot = np.stack([(label == k) & valid for k in range(c)], axis=1).astype(np.float64)
    v = valid[:, None].astype(np.float64)
    bce_px = np.maximum(z, 0) - z * onehot + np.log1p(np.exp(-np.abs(z)))
    bce = (bce_px * v).sum() / (valid.sum() + 1.0)
    probs = 1.0 / (1.0 + np.exp(-z)) * v + 1e-6
    if pool > 1:
        onehot, probs = max_pool(onehot, pool, pool, pool // 2), max_pool(probs, pool, pool, pool // 2)
    d = radius * radius
    h, w = onehot.shape[-2:]
    per = np.zeros((n, c))
    for b in range(n):
        for k in range(c):
            Y = np.array([[onehot[b, k, i + dy, j + dx] for i in range(h - radius + 1)
                           for j in range(w - radius + 1)] for dy in range(radius) for dx in range(radius)])
            P = np.array([[probs[b, k, i + dy, j + dx] for i in range(h - radius + 1)
                           for j in range(w - radius + 1)] for dy in range(radius) for dx in range(radius)])
            Y = Y - Y.mean(axis=1, keepdims=True)
            P = P - P.mean(axis=1, keepdims=True)
            syy, spp, syp = Y @ Y.T, P @ P.T, Y @ P.T
            var = syy - syp @ np.linalg.inv(spp + 1e-3 * np.eye(d)) @ syp.T
            L = np.linalg.cholesky(var + 1e-3 * np.eye(d))
            per[b, k] = np.log(np.diag(L) + 1e-8).sum()
    rmi = (per.mean(axis=0) / d).sum()
    return float(bce), float(rmi)


def direction_bin(angle: np.ndarray) -> np.ndarray:
    """8 bins of 45° centred on −180 + 45·i, upper edge inclusive: ceil((a + 180)/45 − ½) mod 8."""
    return (np.ceil((np.asarray(angle, dtype=np.float64) + 180.0) / 45.0 - 0.5).astype(int)) % 8
