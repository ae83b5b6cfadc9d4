"""Hypothesis strategies for the property-based bad-input harness (``tests/test_bad_input_properties.py``,
``tests/test_api_properties.py``): damaged and odd files, odd arrays and hostile names, plus the
settings every harness test runs under.

Runs are reproducible: :func:`harness_settings` derandomises (the examples are a function of the
test alone), keeps no example database and has no deadline (a tool run takes seconds). Each
harness test says how many examples it runs; docs/troubleshooting.md ("Security") gives the total.
``OCSEG_PROPERTY_SCALE=10`` runs ten times as many (a longer search, locally).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

__all__ = ["harness_settings", "Damage", "damaged", "odd_arrays", "png_of", "odd_png", "hostile_names",
           "HOSTILE_LINES", "snapshot"]


def harness_settings(examples: int) -> settings:
    """``examples`` derandomised examples (times ``$OCSEG_PROPERTY_SCALE``, 1 unless set: a
    longer local search), no deadline, no database."""
    scale = max(1, int(os.environ.get("OCSEG_PROPERTY_SCALE", "1")))
    return settings(max_examples=examples * scale, deadline=None, derandomize=True, database=None,
                    print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


# ---- damaged bytes ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Damage:
    """One way to damage a file's bytes: ``truncate`` (keep a fraction), ``flip`` (invert the
    bytes at some positions), ``append`` (garbage after the end) or ``random`` (other bytes)."""

    how: str
    value: Any

    def __call__(self, data: bytes) -> bytes:
        if self.how == "truncate":
            return data[: int(len(data) * self.value)]
        if self.how == "flip":
            out = bytearray(data)
            for p in self.value:
                if out:
                    out[p % len(out)] ^= 0xFF
            return bytes(out)
        if self.how == "append":
            return data + self.value
        return self.value

    def __repr__(self) -> str:
        value = self.value if not isinstance(self.value, bytes) else f"{len(self.value)} bytes {self.value[:16]!r}…"
        return f"Damage({self.how}, {value})"


def damaged() -> st.SearchStrategy[Damage]:
    """How a valid file is damaged: truncated anywhere (0 bytes included), a few bytes flipped,
    garbage appended, or replaced by random bytes (see :class:`Damage`)."""
    return st.one_of(
        st.floats(0, 0.999).map(lambda f: Damage("truncate", f)),
        st.lists(st.integers(0, 2**31), min_size=1, max_size=8).map(lambda ps: Damage("flip", tuple(ps))),
        st.binary(min_size=1, max_size=64).map(lambda b: Damage("append", b)),
        st.binary(max_size=2048).map(lambda b: Damage("random", b)),
    )


# ---- odd arrays (and the images they make) ---------------------------------------------------
DTYPES = [np.uint8, np.uint16, np.int8, np.int32, np.int64, np.float32, np.float64, np.bool_]


@st.composite
def odd_arrays(draw, max_side: int = 40) -> np.ndarray:
    """Arrays of any common dtype, 0 to 4 dimensions, sides 0..``max_side`` (channels 1..5)."""
    ndim = draw(st.integers(0, 4))
    shape = [draw(st.integers(0, max_side)) for _ in range(min(ndim, 2))]
    shape += [draw(st.integers(1, 5)) for _ in range(max(0, ndim - 2))]
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    rng = np.random.RandomState(draw(st.integers(0, 2**16)))
    if dtype.kind == "f":
        values = rng.uniform(-300, 300, shape)
        if draw(st.booleans()):
            values.flat[: max(1, values.size // 7)] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        return values.astype(dtype)
    if dtype.kind == "b":
        return rng.randint(0, 2, shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.randint(max(info.min, -2**31), min(info.max, 2**31 - 1), shape, dtype=np.int64).astype(dtype)


def png_of(array: np.ndarray) -> bytes | None:
    """PNG bytes of ``array`` as OpenCV writes it, or None when OpenCV cannot."""
    try:
        ok, data = cv2.imencode(".png", array)
    except cv2.error:
        return None
    return data.tobytes() if ok else None


@st.composite
def odd_png(draw, height: int, width: int) -> bytes:
    """A valid PNG of an odd kind at or near ``height``×``width``: 8/16-bit, grey, grey+alpha,
    RGB, RGBA, palette, 1×1, another size."""
    kind = draw(st.sampled_from(["grey8", "grey16", "rgb8", "rgb16", "rgba8", "la8", "palette", "other size",
                                 "1x1"]))
    rng = np.random.RandomState(draw(st.integers(0, 2**16)))
    h, w = {"other size": (height + 3, width - 5), "1x1": (1, 1)}.get(kind, (height, width))
    from PIL import Image

    if kind in ("la8", "palette"):
        mode = "LA" if kind == "la8" else "P"
        shape = (h, w, 2) if kind == "la8" else (h, w)
        image = Image.fromarray(rng.randint(0, 8, shape).astype(np.uint8), mode=mode)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue()
    channels = {"rgb8": 3, "rgb16": 3, "rgba8": 4}.get(kind, 1)
    dtype = np.uint16 if kind.endswith("16") else np.uint8
    shape = (h, w, channels) if channels > 1 else (h, w)
    return png_of(rng.randint(0, 8, shape).astype(dtype))


# ---- hostile names ---------------------------------------------------------------------------
#: File names a folder can hold that break naive code: Hydra's override characters, spaces,
#: leading dashes and dots, non-ASCII, very long, a second extension.
HOSTILE_FILE_NAMES = ["-x", "=x", "a b", "a,b", "a=b", "$x", "${oc.env:HOME}", "'q'", '"q"', "ü", "日本",
                      "x" * 200, "x.png", ".x", "~x", "%2e%2e", "x\\y", "x\ny", "x:y", "[x]", "*"]


def hostile_names() -> st.SearchStrategy[str]:
    """Names that must not leave their folder or break a tool: ``..`` chains, absolute paths,
    NULs, empty strings, and the file names above."""
    escape = st.builds(lambda k, tail: "../" * k + tail, st.integers(1, 4), st.sampled_from(["x", "x/y.png", ""]))
    absolute = st.sampled_from(["/etc/passwd", "/tmp", "/", "//x", "/proc/self/environ"])
    odd = st.sampled_from(["", " ", ".", "..", "./..", "a/../../b", "a/./b", "\x00", "a\x00b"])
    return st.one_of(escape, absolute, odd, st.sampled_from(HOSTILE_FILE_NAMES),
                     st.text(st.characters(codec="utf-8", exclude_characters="\x00/"), min_size=1, max_size=20))


#: Lines of an instance submission list (``<mask.png> <classId> <score>``) that are hostile or odd.
HOSTILE_LINES = st.one_of(
    st.builds(lambda name, cls, score: f"{name} {cls} {score}",
              hostile_names().filter(lambda n: n.strip() and not any(c.isspace() for c in n)),
              st.sampled_from(["26", "-1", "x", "99999999999"]), st.sampled_from(["0.5", "nan", "-3", "x"])),
    st.text(max_size=40),
)


# ---- the file system -------------------------------------------------------------------------
def snapshot(folder: Path, skip: tuple[Path, ...] = ()) -> dict[str, tuple[int, int]]:
    """Every file and link under ``folder`` (except under ``skip``) with size and mtime."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        here = Path(dirpath)
        if any(here == s or s in here.parents for s in skip):
            dirnames[:] = []
            continue
        for name in filenames + [d for d in dirnames if (here / d).is_symlink()]:
            p = here / name
            st_ = p.lstat()
            out[str(p.relative_to(folder))] = (st_.st_size, st_.st_mtime_ns)
    return out
