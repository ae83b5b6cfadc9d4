"""Building blocks shared by backbones and heads (norm+activation sites, residual blocks, attention)."""
