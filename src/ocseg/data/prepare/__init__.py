"""``ocseg-prepare dataset=<name> raw_dir=<downloads> [out_dir=<data dir>]``: convert a
dataset's official downloads into the folders its loader reads.

One module per dataset (``cityscapes``, ``ade20k``, ``pascal_context``, ``lip``, ``coco_stuff``,
``mapillary``), each with ``prepare(raw_dir, out_dir, link, ...)``; the dataset config names it
as ``dataset.preparer``. Runs are idempotent and resumable (see :mod:`.common`).
"""
