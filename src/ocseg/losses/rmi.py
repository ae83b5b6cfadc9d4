"""Region mutual information loss (Zhao et al., NeurIPS 2019) as the original's
``fs_aux_rmi_loss``: ``λ·BCE + (1 − λ)·RMI`` on the main output, CE on the aux output."""

from __future__ import annotations

import logging
from typing import Sequence

import torch
import torch.nn.functional as F

from ocseg.errors import OcsegError
from ocseg.losses.main_aux import MainAuxLoss

__all__ = ["RMILoss", "rmi_lower_bound", "sigmoid_bce", "half_logdet"]

log = logging.getLogger(__name__)

#: added to the diagonals of the prediction covariance and of the conditional variance (original _POS_ALPHA)
POS_ALPHA = 1e-3
#: added to the probabilities (original _CLIP_MIN); kept for fidelity, though a constant shift
#: cancels when the neighbourhood vectors are centred
PROB_EPS = 1e-6
#: added to the Cholesky diagonal inside the log (original log_det_by_cholesky)
LOG_EPS = 1e-8
#: fallback jitters, relative to the mean diagonal, tried in turn when a matrix is not PD
_FALLBACK_JITTERS = (1e-6, 1e-4, 1e-2, 1.0)


def half_logdet(matrix: torch.Tensor) -> torch.Tensor:
    """``0.5·logdet`` of symmetric positive-definite float64 matrices ``[..., D, D]`` as the
    original: ``Σ log(diag(chol(matrix)) + 1e-8)``.

    The original adds ``_POS_ALPHA·I`` before its Cholesky and has no fallback: branch
    pytorch-1.7, ``lib/loss/rmi_loss.py`` lines 27 (``_POS_ALPHA = 1e-3``), 448-449 (the
    ``appro_var`` diagonal) and 133 (``torch.cholesky``, which raises on a matrix that is not
    positive-definite). Here matrices that rounding has pushed off positive-definiteness (a
    near-singular covariance: constant or saturated predictions, repeated label patterns) get the
    smallest diagonal jitter of :data:`_FALLBACK_JITTERS` that makes them factorise (a warning
    is logged), and the others are untouched. The factorisation that failed is not part of the
    result's graph: its backward would spread NaN into the gradient.
    """
    chol, info = torch.linalg.cholesky_ex(matrix)
    failed = info != 0
    if not bool(failed.any()):
        return torch.log(chol.diagonal(dim1=-2, dim2=-1) + LOG_EPS).sum(-1)
    log.warning("RMI: %d of %d covariance matrices are not positive-definite; adding a larger "
                "diagonal jitter to them", int(failed.sum()), failed.numel())
    eye = torch.eye(matrix.shape[-1], dtype=matrix.dtype, device=matrix.device)
    plain = matrix.detach()
    scale = plain.diagonal(dim1=-2, dim2=-1).abs().mean(-1).clamp_min(1.0)
    jitter = torch.zeros_like(scale)
    for step in _FALLBACK_JITTERS:  # the smallest jitter that works, matrix by matrix
        _, retry_info = torch.linalg.cholesky_ex(plain + (step * scale)[..., None, None] * eye)
        jitter = torch.where(failed, step * scale, jitter)
        failed = failed & (retry_info != 0)
        if not bool(failed.any()):
            break
    chol, _ = torch.linalg.cholesky_ex(matrix + jitter[..., None, None] * eye)
    return torch.log(chol.diagonal(dim1=-2, dim2=-1) + LOG_EPS).sum(-1)


def _centred_neighbourhoods(maps: torch.Tensor, radius: int) -> torch.Tensor:
    """N×C×H×W → float64 N×C×radius²×P: the radius×radius window at every position where it fits
    (no padding, window offsets in row-major order), each of the radius² rows centred on its mean."""
    n, c, h, w = maps.shape
    vectors = F.unfold(maps.double().reshape(n * c, 1, h, w), kernel_size=radius)
    vectors = vectors.reshape(n, c, radius * radius, -1)
    # centred in place (saves a copy of the largest tensor here); unfold's backward does not
    # need its output, so autograd allows it
    return vectors.sub_(vectors.mean(dim=-1, keepdim=True))


def rmi_lower_bound(onehot: torch.Tensor, probs: torch.Tensor, radius: int = 3,
                    pool_size: int = 3) -> torch.Tensor:
    """The RMI term: ``Σ_c mean_n 0.5·logdet(Var[Y | P]) / radius²`` (original ``rmi_lower_bound``).

    ``onehot`` (labels, zero at ignored pixels) and ``probs`` are N×C×H×W. Both are max-pooled
    (kernel = stride = ``pool_size``, padding ``pool_size // 2``) when ``pool_size > 1``, cut into
    radius×radius neighbourhood vectors in float64, and the conditional variance
    ``Σ_YY − Σ_YP (Σ_PP + αI)⁻¹ Σ_YPᵀ`` (unnormalised covariances, as the original, to avoid
    underflow) is regularised with ``αI`` before its log-determinant. Returns a float32 scalar.
    """
    if pool_size > 1:
        onehot = F.max_pool2d(onehot, pool_size, stride=pool_size, padding=pool_size // 2)
        probs = F.max_pool2d(probs, pool_size, stride=pool_size, padding=pool_size // 2)
    if min(onehot.shape[-2:]) < radius:
        raise OcsegError(
            f"RMI: labels of {tuple(onehot.shape[-2:])} pixels after {pool_size}×{pool_size} pooling "
            f"are smaller than loss.rmi_radius={radius}; use larger crops or a smaller "
            "loss.rmi_pool_size / loss.rmi_radius"
        )
    dim = radius * radius
    la = _centred_neighbourhoods(onehot.detach(), radius)  # labels need no gradient
    pr = _centred_neighbourhoods(probs, radius)
    la_cov = la @ la.transpose(-2, -1)
    pr_cov = pr @ pr.transpose(-2, -1)
    la_pr_cov = la @ pr.transpose(-2, -1)
    eye = torch.eye(dim, dtype=torch.float64, device=probs.device)
    # Σ_YP (Σ_PP + αI)⁻¹ Σ_YPᵀ with a solve instead of the original's explicit inverse (same maths,
    # better conditioned)
    explained = la_pr_cov @ torch.linalg.solve(pr_cov + POS_ALPHA * eye, la_pr_cov.transpose(-2, -1))
    appro_var = la_cov - explained
    per_image_class = half_logdet(appro_var + POS_ALPHA * eye)  # N×C
    return (per_image_class.mean(dim=0).float() / dim).sum()


def sigmoid_bce(logits: torch.Tensor, onehot: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Sigmoid BCE summed over valid pixels × classes, divided by ``n_valid + 1`` (original)."""
    total = F.binary_cross_entropy_with_logits(logits, onehot, weight=valid.unsqueeze(1),
                                               reduction="sum")
    return total / (valid.sum().to(total.dtype) + 1.0)


class RMILoss(MainAuxLoss):
    """``seg_weight·(λ·BCE(out) + (1 − λ)·RMI(out)) + aux_weight·CE(aux)``.

    Everything is computed with autocast off (logits in float32, RMI statistics in float64), so it
    is safe under bf16/fp16 mixed precision. Labels are never modified. Terms: ``bce``, ``rmi``,
    ``aux`` (each already weighted).

    Args:
        rmi_radius: side of the square neighbourhood (original 3).
        rmi_pool_size: max-pool kernel and stride before RMI (original 3; 1 disables pooling).
        rmi_lambda: weight λ of the BCE part; RMI gets 1 − λ (original ``loss_weight_lambda`` 0.5
            with ``lambda_way`` 1).
        seg_weight: as :class:`~ocseg.losses.main_aux.MainAuxLoss`.
        aux_weight: as :class:`~ocseg.losses.main_aux.MainAuxLoss`.
        class_weights: as :class:`~ocseg.losses.main_aux.MainAuxLoss`, but they only affect the
            aux CE (the original RMI config has none).
        ignore_index: as :class:`~ocseg.losses.main_aux.MainAuxLoss`.
        images_per_chunk: as :class:`~ocseg.losses.main_aux.MainAuxLoss`.
    """

    def __init__(self, rmi_radius: int = 3, rmi_pool_size: int = 3, rmi_lambda: float = 0.5,
                 seg_weight: float = 1.0, aux_weight: float = 0.4,
                 class_weights: Sequence[float] | None = None, ignore_index: int = 255,
                 images_per_chunk: int | None = None) -> None:
        super().__init__(seg_weight, aux_weight, class_weights, ignore_index, images_per_chunk)
        if not 1 <= int(rmi_radius) <= 10:
            raise OcsegError(f"loss.rmi_radius must be in 1..10 (got {rmi_radius}); the original uses 3")
        if int(rmi_pool_size) < 1:
            raise OcsegError(f"loss.rmi_pool_size must be ≥ 1 (got {rmi_pool_size}); the original uses 3")
        self.rmi_radius = int(rmi_radius)
        self.rmi_pool_size = int(rmi_pool_size)
        self.rmi_lambda = float(rmi_lambda)

    def main_terms(self, logits: torch.Tensor, label: torch.Tensor) -> dict[str, torch.Tensor]:
        num_classes = logits.shape[1]
        valid = label != self.ignore_index
        # ignored pixels get an all-zero one-hot row and a probability of exactly PROB_EPS
        onehot = F.one_hot(torch.where(valid, label, 0), num_classes).permute(0, 3, 1, 2)
        onehot = onehot.to(logits.dtype) * valid.unsqueeze(1)
        probs = torch.sigmoid(logits) * valid.unsqueeze(1) + PROB_EPS
        bce = sigmoid_bce(logits, onehot, valid.to(logits.dtype))
        rmi = rmi_lower_bound(onehot, probs, self.rmi_radius, self.rmi_pool_size)
        return {"bce": self.seg_weight * self.rmi_lambda * bce,
                "rmi": self.seg_weight * (1.0 - self.rmi_lambda) * rmi}
