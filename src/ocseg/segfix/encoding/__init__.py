"""SegFix encoding primitives: the 8-direction table (bins ↔ angles ↔ pixel offsets) and the
distance / direction maths of the original ground truth.

The only part of :mod:`ocseg.segfix` that :mod:`ocseg.models` imports (the head's output count),
so the layers stay acyclic: ``models → segfix.encoding``, never ``models → segfix`` as a whole.
Importing this package imports nothing; import the modules:

* :mod:`~ocseg.segfix.encoding.directions` — ``NUM_DIRECTIONS``, ``DIRECTION_OFFSETS``,
  ``angle_to_bin``, ``bin_to_offset`` (numpy and torch, no scipy);
* :mod:`~ocseg.segfix.encoding.distance_direction` — distance transform + direction per segment,
  encoded as the original's uint8 ``depth`` / ``dir_deg``.
"""
