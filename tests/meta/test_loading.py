"""Loading an implementation: module name, .py file, package folder; broken ones are kept as a reason, not raised."""

import textwrap

import pytest

from nn_harness.checks.compare import CheckFailure
from nn_harness.sandbox.loading import load_implementation


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_module_name():
    impl = load_implementation("impl")
    assert impl.require(("Linear", "Conv2d")).Linear.__name__ == "Linear"


def test_py_file_can_import_its_neighbours(tmp_path):
    write(tmp_path / "helpers_for_alice.py", "SCALE = 3\n")
    path = write(tmp_path / "alice.py", "from helpers_for_alice import SCALE\nclass ReLU:\n    scale = SCALE\n")
    assert load_implementation(str(path)).require(("ReLU",)).ReLU.scale == 3


def test_package_folder_with_relative_imports(tmp_path):
    write(tmp_path / "bob" / "__init__.py", "from .layers import Tanh\n")
    write(tmp_path / "bob" / "layers.py", "class Tanh:\n    pass\n")
    assert load_implementation(str(tmp_path / "bob")).require(("Tanh",)).Tanh.__name__ == "Tanh"


def test_two_submissions_with_one_file_name_do_not_collide(tmp_path):
    first = write(tmp_path / "a" / "submission.py", "WHO = 'a'\n")
    second = write(tmp_path / "b" / "submission.py", "WHO = 'b'\n")
    assert load_implementation(str(first)).module.WHO == "a"
    assert load_implementation(str(second)).module.WHO == "b"


@pytest.mark.parametrize(("source", "reason"), [
    ("def broken(:\n", "SyntaxError"),
    ("raise RuntimeError('boom at import')\n", "boom at import"),
    ("import sys\nsys.exit(3)\n", "SystemExit"),
    ("import no_such_module_anywhere\n", "no_such_module_anywhere"),
])
def test_import_failure_is_kept_and_reported_by_require(tmp_path, source, reason):
    impl = load_implementation(str(write(tmp_path / "broken.py", source)))
    assert impl.module is None
    with pytest.raises(CheckFailure, match=reason):
        impl.require(("Linear",))


def test_missing_layer_is_not_implemented(tmp_path):
    impl = load_implementation(str(write(tmp_path / "partial.py", "class Linear:\n    pass\n")))
    with pytest.raises(CheckFailure, match="does not define Conv2d, MaxPool2d: not implemented"):
        impl.require(("Linear", "Conv2d", "MaxPool2d"))


def test_missing_path_is_reported(tmp_path):
    impl = load_implementation(str(tmp_path / "nowhere.py"))
    with pytest.raises(CheckFailure, match="nowhere.py"):
        impl.require(("Linear",))
