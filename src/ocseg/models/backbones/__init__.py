"""Feature extractors. Each returns a list of feature maps and reports ``out_channels`` and
``strides`` (one entry per map), so any head can sit on any backbone."""
