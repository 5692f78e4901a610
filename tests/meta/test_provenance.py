"""The NumPy-only check names every forbidden import, and only those."""

import textwrap

from nn_harness.report.provenance import forbidden_imports


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_finds_direct_nested_and_from_imports(tmp_path):
    path = write(tmp_path / "alice.py", """\
        import numpy as np
        import torch.nn.functional as F
        def softmax(x):
            from jax import numpy as jnp
            return jnp.exp(x)
        from nn_harness.checks.compare import assert_close
        """)
    assert [(item.line, item.module) for item in forbidden_imports(str(path))] == [
        (2, "torch.nn.functional"), (4, "jax"), (6, "nn_harness.checks.compare")]
    assert "alice.py:2: imports torch.nn.functional (PyTorch)" in str(forbidden_imports(str(path))[0])


def test_package_folder_is_scanned_whole(tmp_path):
    write(tmp_path / "bob" / "__init__.py", "from .layers import Linear\n")
    write(tmp_path / "bob" / "layers.py", "import tensorflow as tf\n")
    assert [item.module for item in forbidden_imports(str(tmp_path / "bob"))] == ["tensorflow"]


def test_own_module_named_like_ours_is_allowed(tmp_path):
    write(tmp_path / "impl" / "__init__.py", "from impl.layers import Linear\n")
    write(tmp_path / "impl" / "layers.py", "import numpy as np\nclass Linear:\n    pass\n")
    assert forbidden_imports(str(tmp_path / "impl")) == []


def test_numpy_only_submissions_pass():
    assert forbidden_imports("impl") == []
    assert forbidden_imports("examples/native_buggy/layers.py") == []
