"""``ocseg.compat`` and the public routes that replaced private third-party names.

Each private name is checked against the pinned version of its library (a pin bump that moves it
fails here, not at a user's resume); each public replacement is checked to cover what the
private name covered.
"""

from __future__ import annotations

import pickle
import re
from importlib.metadata import version

import fsspec.utils
import numpy as np
import pytest
import torch
from torch import nn

from helpers.config import REPO
from ocseg.compat import NUMPY_SCALAR, WRITTEN_FOR, private_name
from ocseg.lightning.checkpoint_io import is_local
from ocseg.models.layers.norm_act import BATCH_NORMS


def test_compat_was_written_for_the_pinned_versions():
    pins = dict(re.findall(r'"([\w-]+)==([\w.]+)"', (REPO / "pyproject.toml").read_text()))
    for package, written_for in WRITTEN_FOR.items():
        assert pins[package] == written_for == version(package), package


def test_a_missing_private_name_is_one_import_error_naming_it_and_the_versions():
    with pytest.raises(ImportError, match=r"numpy \S+ has no numpy\._core\.gone \(ocseg was written "
                                          r"for numpy 2\.3\.5\).*pyproject\.toml"):
        private_name("numpy._core.gone", "numpy")


def test_numpy_scalar_is_what_a_pickled_numpy_scalar_calls():
    rebuild, _ = np.float64(80.6).__reduce__()
    assert rebuild is NUMPY_SCALAR
    assert b"_core.multiarray" in pickle.dumps(np.float64(80.6))


def test_batch_norms_cover_every_batchnorm_class_of_torch_nn():
    """What the private ``_BatchNorm`` base covered: every non-lazy BatchNorm of torch.nn (a
    lazy one turns into one of these on its first call)."""
    found = {cls for name, cls in vars(nn).items()
             if isinstance(cls, type) and "BatchNorm" in name and not name.startswith("Lazy")}
    assert found == set(BATCH_NORMS)
    lazy = nn.LazyBatchNorm2d()
    lazy(torch.zeros(2, 3, 4, 4))
    assert isinstance(lazy, BATCH_NORMS)


@pytest.mark.parametrize("path", ["/runs/x/last.ckpt", "runs/last.ckpt", "file:///runs/last.ckpt",
                                  "s3://bucket/last.ckpt", "gs://b/last.ckpt", "memory://last.ckpt",
                                  "simplecache::s3://bucket/last.ckpt", "C:\\runs\\last.ckpt"])
def test_local_paths_are_what_fsspec_calls_the_file_protocol(path):
    assert is_local(path) == (fsspec.utils.get_protocol(path) == "file")
