"""Hostile and damaged files for the security and bad-input tests: pickles whose payload would
create a marker file, a MATLAB v7.3 (HDF5) header, a zip member with a bad CRC.

A payload runs ``open(marker, 'w')`` when unpickled (``builtins.exec``), so a test asserts that
the marker does not exist after ocseg read the file, and, where ``trust_checkpoint`` opens the
file, that it does (the payload is live: the first assertion could fail).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np


class Payload:
    """Unpickled, runs Python code that creates ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = Path(marker)

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('ran')",))


def torch_file(path: Path, marker: Path, kind: str = "checkpoint") -> Path:
    """A PyTorch file whose one extra entry is a :class:`Payload`: ``"checkpoint"`` (an ocseg
    training checkpoint's keys), ``"state_dict"`` (a bare state dict, as ImageNet files are) or
    ``"legacy"`` (a plain pickle, as torch < 1.6 wrote)."""
    import pickle

    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {"conv1.weight": torch.zeros(1)}
    if kind == "checkpoint":
        obj = {"state_dict": tensors, "global_step": 1, "loops": {}, "extra": Payload(marker)}
    elif kind == "state_dict":
        obj = {**tensors, "extra": Payload(marker)}
    elif kind == "legacy":
        path.write_bytes(pickle.dumps({"extra": Payload(marker)}, protocol=2))
        return path
    else:
        raise ValueError(kind)
    torch.save(obj, path)
    return path


def pickled_npz(path: Path, marker: Path) -> Path:
    """An ``.npz`` with ocseg's offset keys whose ``code`` array is a pickled object array."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        np.savez(handle, ocseg_offsets_v1=np.array([4, 4]), step=np.zeros(0, np.uint32),
                 code=np.array([Payload(marker)], dtype=object))
    return path


def hdf5_mat(path: Path) -> Path:
    """The first bytes of a MATLAB v7.3 file: its 128-byte MAT header, then an HDF5 signature."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 ."
    path.write_bytes(text.ljust(116, b" ") + b"\0" * 8 + b"\x00\x02" + b"IM" + b"\x89HDF\r\n\x1a\n" + b"\0" * 512)
    return path


def break_crc(archive: Path, member: str) -> None:
    """Flip one byte of ``member``'s stored data inside ``archive`` (stored uncompressed there),
    so reading it fails the CRC check while the archive itself still opens."""
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo(member)
        assert info.compress_type == zipfile.ZIP_STORED, "break_crc needs a stored member"
    data = bytearray(archive.read_bytes())
    header = info.header_offset
    name_len = int.from_bytes(data[header + 26:header + 28], "little")
    extra_len = int.from_bytes(data[header + 28:header + 30], "little")
    start = header + 30 + name_len + extra_len
    data[start + info.file_size // 2] ^= 0xFF
    archive.write_bytes(bytes(data))
