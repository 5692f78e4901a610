"""The only thing that crosses the boundary: framed messages of JSON plus raw array bytes, never pickles.

A frame is an 8-byte length and a payload; the payload is a 4-byte header length, a JSON header and the blobs
the header lists. In the header a value is JSON (None, bool, int, float, str) or one tagged object:
  {"list": [...]}, {"tuple": [...]}, {"dict": {str: ...}}
  {"array": i, "dtype": "<f8", "shape": [2, 3], "ref": id | null}   blob i holds the array's bytes, C order
                                    (numeric dtypes only: DTYPES)
  {"array": i, "dtype": ..., "shape": [], "scalar": true}   a NumPy scalar
  {"handle": id, "type": name, "callable": bool}   an object that stays on the side that made it
  {"method": id, "name": name}      a bound method of a handle's object
Both sides use this module; the trusted side reads what the sandbox sends with `decode`, which checks every
length, dtype and shape before it allocates anything, so no payload can run code or exhaust the trusted side.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable
from typing import Any

import numpy as np

MAX_FRAME = 1 << 30  # what the trusted side accepts in one reply (MNIST logits are ~1 MB; the data goes the other way)
MAX_DEPTH = 32
# bool, integers and floats (both byte orders): every dtype a layer computes in, and nothing that could hold code
DTYPES = {np.dtype(t).str: np.dtype(t) for t in (
    "?", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "<i2", ">i2", ">i4", ">i8", ">f4", ">f8")}
_LENGTH = struct.Struct(">Q")
_HEADER = struct.Struct(">I")


class WireError(Exception):
    """A message that breaks the format or the limits: the call that received it fails with this reason."""


# ------------------------------------------------------------------------------------------------------ frames

def write_frame(fd: int, header: dict, blobs: list[bytes], wait: Callable[[], None] | None = None) -> None:
    """One frame; `wait()` is called whenever a non-blocking `fd` is full (the trusted side's deadline)."""
    head = json.dumps(header, allow_nan=True).encode()
    parts = [_HEADER.pack(len(head)), head, *blobs]
    size = sum(len(p) for p in parts)
    view = memoryview(b"".join([_LENGTH.pack(size), *parts]))
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            if wait is None:
                raise
            wait()


def read_exactly(fd: int, size: int, wait: Callable[[], None] | None = None) -> bytes:
    """`size` bytes from `fd`; `wait()` is called before each read (the trusted side's deadline)."""
    chunks, remaining = [], size
    while remaining:
        if wait is not None:
            wait()
        chunk = os.read(fd, min(remaining, 1 << 22))
        if not chunk:
            raise EOFError("the other side closed the channel")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int, wait: Callable[[], None] | None = None, limit: int = MAX_FRAME) -> tuple[dict, list]:
    (size,) = _LENGTH.unpack(read_exactly(fd, _LENGTH.size, wait))
    if size > limit:
        raise WireError(f"a message of {size} bytes (more than the limit of {limit})")
    payload = read_exactly(fd, size, wait)
    if size < _HEADER.size:
        raise WireError("a message without a header")
    (head_size,) = _HEADER.unpack_from(payload)
    if head_size > size - _HEADER.size:
        raise WireError("a message whose header runs past its end")
    try:
        header = json.loads(payload[_HEADER.size:_HEADER.size + head_size])
    except (ValueError, RecursionError) as error:
        raise WireError(f"a header that is not JSON ({type(error).__name__})") from None
    if not isinstance(header, dict):
        raise WireError("a header that is not a JSON object")
    blobs, at, view = [], _HEADER.size + head_size, memoryview(payload)  # slices of a view: no copies
    for length in header.get("blobs", []):
        if not isinstance(length, int) or length < 0 or at + length > size:
            raise WireError("a blob length that does not fit the message")
        blobs.append(view[at:at + length])
        at += length
    return header, blobs


# ------------------------------------------------------------------------------------------------------ arrays

def fingerprint(array: np.ndarray) -> tuple:
    """What must stay equal for an array to count as unchanged: shape, dtype and every byte."""
    return array.shape, array.dtype.str, array.tobytes()


def array_node(array: np.ndarray, blob: Callable[[bytes], int], **extra: Any) -> dict:
    """An array as a node: its dtype and shape in the header, its bytes (C order) in a blob."""
    return {"array": blob(np.ascontiguousarray(array).tobytes()), "dtype": array.dtype.str,
            "shape": list(array.shape), **extra}


def node_array(node: dict, blobs: list[bytes]) -> np.ndarray:
    """A node's array, writeable, refused unless its dtype is numeric and its bytes fit its shape."""
    index, dtype, shape = node.get("array"), node.get("dtype"), node.get("shape")
    if type(index) is not int or not 0 <= index < len(blobs):
        raise WireError("an array that refers to no blob")
    if dtype not in DTYPES:
        raise WireError(f"an array of dtype {str(dtype)[:20]} (only bool, integer and float arrays are accepted)")
    if type(shape) is not list or len(shape) > 32 or not all(type(n) is int and n >= 0 for n in shape):
        raise WireError(f"an array with the shape {str(shape)[:60]}")
    count = 1
    for n in shape:
        count *= n
    data = blobs[index]
    if count * DTYPES[dtype].itemsize != len(data):
        raise WireError(f"an array whose header says {tuple(shape)} {dtype} but which holds {len(data)} bytes")
    return np.frombuffer(data, dtype=DTYPES[dtype], count=count).reshape(shape).copy()


# ------------------------------------------------------------------------------------------------- many calls

def stack_calls(values: list) -> Any:
    """What n calls returned, in a few arrays: every array position stacked along a new first axis, when every call
    returned the same structure (an ndarray, or a tuple or list of such, nested) with the same shapes and dtypes;
    else the list as it is. The finite differences' 2n forward outputs are then two arrays on the wire, not 2n, and
    the trusted side reads them back with `unstack_calls`."""
    def stacked(column: list) -> Any:
        first = column[0]
        if type(first) is np.ndarray and first.dtype.str in DTYPES and \
                all(type(v) is np.ndarray and v.shape == first.shape and v.dtype == first.dtype for v in column):
            return np.stack(column)
        if type(first) in (tuple, list) and all(type(v) is type(first) and len(v) == len(first) for v in column):
            parts = [stacked([v[k] for v in column]) for k in range(len(first))]
            return None if any(p is None for p in parts) else [type(first).__name__, parts]
        return None

    tree = stacked(values) if values else None
    return values if tree is None else {"stacked": tree}


def unstack_calls(value: Any, count: int) -> list:
    """The `count` calls' results, one per call, from what `stack_calls` gave (a list is taken as it is): views of the
    stacked arrays. It came from the sandbox, so anything but that format, with `count` calls, raises WireError."""
    if type(value) is list:
        return value
    if type(value) is not dict or set(value) != {"stacked"}:
        raise WireError(f"results of {count} calls that are neither a list nor stacked")

    def unstacked(tree: Any, depth: int) -> list:
        if depth > MAX_DEPTH:
            raise WireError(f"stacked results nested more than {MAX_DEPTH} deep")
        if isinstance(tree, np.ndarray) and tree.ndim >= 1 and len(tree) == count:
            return [tree[i, ...] for i in range(count)]  # a 0-d output stays a 0-d array
        if type(tree) is list and len(tree) == 2 and tree[0] in ("tuple", "list") and type(tree[1]) is list:
            columns = [unstacked(part, depth + 1) for part in tree[1]]
            kind = tuple if tree[0] == "tuple" else list
            return [kind(column[i] for column in columns) for i in range(count)]
        raise WireError(f"stacked results that are not {count} calls'")

    return unstacked(value["stacked"], 0)


# ------------------------------------------------------------------------------------------------------ values

class Encoder:
    """Turns values into a JSON-able tree and blobs; `other(value)` encodes what is not plain data."""

    def __init__(self, other: Callable[[Any, Encoder], Any]) -> None:
        self.blobs: list[bytes] = []
        self.other = other

    def blob(self, data: bytes) -> int:
        self.blobs.append(data)
        return len(self.blobs) - 1

    def __call__(self, value: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise WireError(f"a value nested more than {MAX_DEPTH} deep")
        if value is None or type(value) in (bool, int, float, str):
            return value
        if type(value) in (list, tuple):
            return {type(value).__name__: [self(v, depth + 1) for v in value]}
        if type(value) is dict and all(type(k) is str for k in value):
            return {"dict": {k: self(v, depth + 1) for k, v in value.items()}}
        if isinstance(value, np.generic) and value.dtype.str in DTYPES:
            return array_node(np.asarray(value), self.blob, scalar=True)
        return self.other(value, self)

    @property
    def lengths(self) -> list[int]:
        return [len(b) for b in self.blobs]


def decode(tree: Any, blobs: list[bytes], tagged: Callable[[dict], Any], depth: int = 0) -> Any:
    """The value a tree stands for; `tagged(node)` resolves arrays, handles and methods (each side its own way)."""
    if depth > MAX_DEPTH:
        raise WireError(f"a value nested more than {MAX_DEPTH} deep")
    if tree is None or type(tree) in (bool, int, float, str):
        return tree
    if type(tree) is not dict or len(tree) < 1:
        raise WireError(f"an unknown value {str(tree)[:60]}")
    if "list" in tree or "tuple" in tree:
        items = tree.get("list", tree.get("tuple"))
        if type(items) is not list:
            raise WireError("a list that is not a list")
        values = [decode(v, blobs, tagged, depth + 1) for v in items]
        return values if "list" in tree else tuple(values)
    if "dict" in tree:
        if type(tree["dict"]) is not dict:
            raise WireError("a dict that is not a dict")
        return {k: decode(v, blobs, tagged, depth + 1) for k, v in tree["dict"].items()}
    if tree.get("scalar") is True:
        return node_array(tree, blobs)[()]
    return tagged(tree)
