"""Model-zoo reproduction pipelines: chains of ocseg tool runs in fixed folders that skip finished
stages and resume interrupted ones (``make reproduce-cityscapes``, ``make
reproduce-cityscapes-val``; ``scripts/reproduce_cityscapes.py``)."""
