"""Two parameter groups: the backbone at the base lr, everything else at ``lr × head_lr_mult``."""

from __future__ import annotations

from torch import nn

__all__ = ["backbone_head_groups"]


def backbone_head_groups(net: nn.Module, lr: float, head_lr_mult: float = 1.0) -> list[dict]:
    """Groups for an optimizer; a net without a ``backbone`` attribute gets one group."""
    backbone = getattr(net, "backbone", None)
    backbone_ids = {id(p) for p in backbone.parameters()} if backbone is not None else set()
    bb = [p for p in net.parameters() if p.requires_grad and id(p) in backbone_ids]
    rest = [p for p in net.parameters() if p.requires_grad and id(p) not in backbone_ids]
    groups = []
    if bb:
        groups.append({"params": bb, "lr": lr, "name": "backbone"})
    if rest:
        groups.append({"params": rest, "lr": lr * head_lr_mult, "name": "head"})
    return groups
