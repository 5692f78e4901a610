"""What a failed check shows in the visual report (--html), carried from the process that ran it to the controller.

Under pytest-xdist the check runs in a worker and the report is written by the controller, another process. So the
worker writes what the page shows into the run's evidence folder (in its state folder, run/verdicts.py): a mismatch's
expected and got
arrays as an .npz of plain float64 arrays, already cut to the part the picture shows (at most MAX_ELEMENTS each),
and the end-to-end checks' learning curves as a PNG; the report then names the file in a user property, which xdist
sends to the controller with the report. The arrays come from the submission: the controller reads them as data
(`np.load(allow_pickle=False)`), checks their shapes, and reads only files of this folder named as written here.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from nn_harness.checks.compare import Mismatch, take_mismatch

MISMATCH = "mismatch"  # user property: JSON {"file", "what", "shown", "labels"}
CURVES = "learning curves"  # user property: a PNG's file name
MAX_PANELS = 4  # channels shown of an image batch
MAX_SIDE = 128  # rows and columns of a panel; a single row may be MAX_ROW long
MAX_ROW = 4096
MAX_ELEMENTS = MAX_PANELS * MAX_SIDE * MAX_SIDE  # 64k: the most a piece can hold
_NAME = re.compile(r"[0-9a-f]{20}(-[a-z0-9-]+)?\.(npz|png)")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class Piece:
    """The part of a mismatch a picture shows: (panels, rows, cols) arrays, the worst element's place in them, and
    what part of the whole it is."""

    what: str
    expected: np.ndarray
    got: np.ndarray
    worst: tuple[int, int, int]
    shown: str
    labels: tuple[str, ...]  # a panel's name (its channel), or "" when there is only the one


def _window(n: int, at: int, size: int) -> slice:
    """`size` consecutive indices of range(n) around `at` (all of them when n <= size)."""
    start = min(max(at - size // 2, 0), max(n - size, 0))
    return slice(start, start + size)


def _span(name: str, part: slice, n: int) -> str:
    return f"{name} {part.start}-{min(part.stop, n) - 1} of {n}" if part.stop - part.start < n else ""


def _panels(a: np.ndarray, worst: tuple[int, ...]) -> tuple[np.ndarray, tuple[int, int, int], str]:
    """`a` as (panels, rows, cols), the worst element's place there, and what part of `a` that is."""
    if a.ndim == 4:
        return a[worst[0]], worst[1:], f"sample {worst[0]} of {a.shape[0]} (the worst), channel by channel"
    if a.ndim <= 1:
        return a.reshape(1, 1, -1), (0, 0, *worst[-1:]) if worst else (0, 0, 0), \
            "a scalar" if a.ndim == 0 else f"a vector of {a.size}, as one row"
    if a.ndim == 2:
        return a[None], (0, *worst), "the matrix"
    lead = tuple(worst[:-2])
    return a[lead][None], (0, *worst[-2:]), f"the slice [{', '.join(map(str, lead))}, :, :] through the worst element"


def piece(mismatch: Mismatch) -> Piece:
    """What to show of a mismatch: an image batch (N, C, H, W) channel by channel for the sample with the worst
    element, a matrix as it is, a vector as one row, any other rank as the 2-D slice through the worst element;
    cut around the worst element to at most MAX_PANELS x MAX_SIDE x MAX_SIDE (a single row: MAX_ROW)."""
    worst = mismatch.worst_index or (0,) * mismatch.expected.ndim
    expected, at, shown = _panels(mismatch.expected, worst)
    got = _panels(mismatch.got, worst)[0]
    panels, rows, cols = expected.shape
    parts = (_window(panels, at[0], MAX_PANELS), _window(rows, at[1], MAX_SIDE),
             _window(cols, at[2], MAX_ROW if rows == 1 else MAX_SIDE))
    cut = [text for text in (_span("channels", parts[0], panels), _span("rows", parts[1], rows),
                             _span("columns", parts[2], cols)) if text]
    expected, got = np.ascontiguousarray(expected[parts]), np.ascontiguousarray(got[parts])
    labels = tuple(f"channel {c}" for c in range(parts[0].start, parts[0].start + len(expected))) \
        if mismatch.expected.ndim == 4 else ("",)
    return Piece(mismatch.what, expected, got, tuple(int(i - part.start) for i, part in zip(at, parts, strict=True)),
                 shown + (f"; {', '.join(cut)}" if cut else "") + f" (shape {mismatch.expected.shape})", labels)


# ---------------------------------------------------------------------------------------------- the worker's side

def _file(nodeid: str, suffix: str) -> str:
    return hashlib.sha1(nodeid.encode()).hexdigest()[:20] + suffix


def attach(folder: Path | None, item: pytest.Item, report: pytest.TestReport) -> None:
    """At the end of a check: the latest failed comparison, when the check failed with its message, saved for the
    report in `folder` (None: no --html, nothing kept). Always taken, so none is left over for the next check."""
    mismatch = take_mismatch()
    if folder is None or mismatch is None or not report.failed or mismatch.message not in report.longreprtext:
        return
    folder.mkdir(exist_ok=True)
    shown = piece(mismatch)
    name = _file(item.nodeid, ".npz")
    tmp = folder / f".{name}.{os.getpid()}"
    with tmp.open("wb") as out:
        np.savez(out, expected=shown.expected, got=shown.got, worst=np.array(shown.worst))
    os.replace(tmp, folder / name)
    report.user_properties.append((MISMATCH, json.dumps({"file": name, "what": shown.what, "shown": shown.shown,
                                                         "labels": shown.labels})))


def keep_curves(folder: Path | None, item: pytest.Item, results: dict, name: str) -> None:
    """An end-to-end check's learning curves (training.plot_curves), as a PNG for the report in `folder` (None: no
    --html, nothing kept)."""
    if folder is None:
        return
    from nn_harness.training.recipes import plot_curves

    folder.mkdir(exist_ok=True)
    file = _file(item.nodeid, f"-{name}.png")
    plot_curves(results, folder / file)
    item.user_properties.append((CURVES, file))


# ---------------------------------------------------------------------------------------------- the controller's side

def _path(folder: Path, file: str) -> Path | None:
    return folder / file if _NAME.fullmatch(file) else None


def load_piece(folder: Path, value: str) -> Piece | None:
    """The piece a worker saved in `folder` (from its MISMATCH property); None when it is missing or not what was
    written."""
    try:
        meta = json.loads(value)
        path = _path(folder, str(meta["file"]))
        if path is None:
            return None
        with np.load(path, allow_pickle=False) as saved:
            expected, got, worst = saved["expected"], saved["got"], saved["worst"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if (expected.ndim != 3 or expected.shape != got.shape or expected.size > MAX_ELEMENTS or worst.shape != (3,)
            or expected.dtype != np.float64 or got.dtype != np.float64 or worst.dtype.kind != "i"
            or len(meta["labels"]) != len(expected)):
        return None
    return Piece(str(meta["what"]), expected, got, tuple(int(i) for i in worst), str(meta["shown"]),
                 tuple(map(str, meta["labels"])))


def load_png(folder: Path, file: str) -> bytes | None:
    """A learning-curve PNG a worker wrote in `folder`; None when it is missing or not a PNG."""
    path = _path(folder, file)
    try:
        data = path.read_bytes() if path is not None else b""
    except OSError:
        return None
    return data if data.startswith(PNG_SIGNATURE) else None
