"""Direction bins of the original: upper edges inclusive, angle 0 → bin 4 → (0, 1)."""

import numpy as np
import torch

from ocseg.segfix.encoding.directions import DIRECTION_OFFSETS, angle_to_bin, bin_to_offset

EDGE_CASES = [(-180.0, 0), (-157.5, 0), (-157.49, 1), (-112.5, 1), (-112.49, 2), (-90.0, 2),
              (0.0, 4), (22.5, 4), (22.51, 5), (90.0, 6), (157.5, 7), (157.51, 0), (180.0, 0)]


def test_angle_to_bin_edges_torch_and_numpy_agree():
    angles = [a for a, _ in EDGE_CASES]
    expected = [b for _, b in EDGE_CASES]
    assert angle_to_bin(torch.tensor(angles, dtype=torch.float64)).tolist() == expected
    assert angle_to_bin(torch.tensor(angles, dtype=torch.float32)).tolist() == expected
    assert angle_to_bin(np.array(angles)).tolist() == expected


def test_bin_to_offset_table():
    assert bin_to_offset(torch.arange(8)).tolist() == [list(o) for o in DIRECTION_OFFSETS]
    assert bin_to_offset(np.array([[4, 6]])).tolist() == [[[0, 1], [1, 0]]]
