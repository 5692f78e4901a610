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


def test_a_folder_of_scripts_without_init_is_one_namespace(tmp_path):
    """A student's folder as they run it: files importing each other by name, a training script needing its data."""
    folder = tmp_path / "carol"
    write(folder / "layer.py", "class Layer:\n    pass\n")
    write(folder / "dense.py", "import numpy as np\nfrom layer import Layer\n\n\nclass Dense(Layer):\n    pass\n")
    write(folder / "train.py", "import numpy as np\n\ndata = np.load('mnist.npz')\n\n\ndef fit(model):\n    pass\n")
    impl = load_implementation(str(folder))
    assert impl.error is None, impl.error
    namespace = impl.require(("Dense", "Layer"))
    assert [base.__name__ for base in namespace.Dense.__mro__] == ["Dense", "Layer", "object"]
    assert not hasattr(namespace, "np"), "only what the files define, not what they import"
    with pytest.raises(CheckFailure, match=r"fit: train.py failed to import \(FileNotFoundError"):
        impl.require(("fit",))


def test_a_package_with_an_empty_init_is_graded_on_its_files(tmp_path):
    """CS231n's cs231n/: an empty __init__.py, the layers in layers.py, a setup.py that builds when run."""
    write(tmp_path / "dave" / "__init__.py", "")
    write(tmp_path / "dave" / "helpers.py", "def double(x):\n    return 2 * x\n")
    write(tmp_path / "dave" / "layers.py", "from .helpers import double\n\n\ndef relu_forward(x):\n    return double(x)\n")
    write(tmp_path / "dave" / "setup.py", "raise SystemExit('building the Cython extension')\n")
    write(tmp_path / "dave" / "absolute.py", "from dave.helpers import double as twice\n\n\ndef quadruple(x):\n"
                                              "    return twice(twice(x))\n")
    namespace = load_implementation(str(tmp_path / "dave")).require(("relu_forward", "quadruple"))
    assert namespace.relu_forward(3) == 6 and namespace.quadruple(1) == 4
    assert namespace.__missing__ == {}, "setup.py is never run"


def test_a_folder_none_of_whose_files_imports_is_the_error(tmp_path):
    write(tmp_path / "erin" / "a.py", "import no_such_module_anywhere\n\n\nclass Linear:\n    pass\n")
    write(tmp_path / "erin" / "b.py", "raise RuntimeError('boom at import')\n")
    impl = load_implementation(str(tmp_path / "erin"))
    assert impl.module is None
    with pytest.raises(CheckFailure, match=r"no file of .*erin imports: a.py failed .*; b.py failed .*boom at import"):
        impl.require(("Linear",))
