"""Poly learning-rate decay with optional linear warm-up, stepped once per iteration.

``factor(step) = (1 - step / max_steps) ** power`` as in the original (power 0.9); during the
first ``warmup_steps`` the factor rises linearly from ``warmup_start_factor`` to the poly value.
"""

from __future__ import annotations

__all__ = ["PolyWithWarmup"]


class PolyWithWarmup:
    """A picklable ``lr_lambda`` for :class:`torch.optim.lr_scheduler.LambdaLR`."""

    def __init__(self, max_steps: int, power: float = 0.9, warmup_steps: int = 0,
                 warmup_start_factor: float = 0.1, min_factor: float = 0.0) -> None:
        if max_steps <= 0:
            raise ValueError(f"max_steps must be positive, got {max_steps}")
        self.max_steps = int(max_steps)
        self.power = float(power)
        self.warmup_steps = int(warmup_steps)
        self.warmup_start_factor = float(warmup_start_factor)
        self.min_factor = float(min_factor)

    def __call__(self, step: int) -> float:
        progress = min(step, self.max_steps) / self.max_steps
        factor = max((1.0 - progress) ** self.power, self.min_factor)
        if step < self.warmup_steps:
            alpha = step / self.warmup_steps
            factor *= self.warmup_start_factor + (1.0 - self.warmup_start_factor) * alpha
        return factor
