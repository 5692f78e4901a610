"""Imports do not sink a submission (nn_harness/sandbox/imports.py, packages.py, client.py's copy): a framework or a
package the sandbox lacks is a stand-in there, so only what uses it fails; the submission's whole folder is copied;
NumPy's old aliases come back when asked; the packages a course allows are bound read-only from the grader's
environment. Each sandbox test starts a sandbox on a small submission written to tmp_path."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from nn_harness.grading import assignment
from nn_harness.report import provenance
from nn_harness.run.options import OPTIONS
from nn_harness.run.session_sandbox import import_settings
from nn_harness.sandbox import adapters, client, packages
from nn_harness.sandbox.adapters.profile import ProfileError, load
from nn_harness.sandbox.client import Limits, Sandbox
from nn_harness.sandbox.imports import Settings
from nn_harness.sandbox.student import CheckFailure, call
from tests.meta.in_process import FakeConfig

ROOT = Path(__file__).resolve().parents[2]
SCIPY_CONV = Path(__file__).resolve().parent / "allowed_scipy" / "layers.py"

FRAMEWORKS = '''
import numpy as np
import torch
from torch import nn
import torch.nn.functional as F
import tensorflow as tf
import jax.numpy as jnp


class TorchTwin(nn.Module):  # a comparison model the layers never use
    def __init__(self):
        super().__init__()


def relu(x, dtype=torch.float32):
    return np.maximum(x, 0)


def with_torch(x):
    return torch.tensor(x)


def with_functional(x):
    return F.relu(x)


def twin():
    return TorchTwin()


def is_tensor(x):
    return isinstance(x, (torch.Tensor, tf.Tensor))
'''


def start(tmp_path: Path, source: str, settings: Settings | None = None, name: str = "sub.py") -> Sandbox:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    box = Sandbox(str(path), "native", Limits(), settings=settings)
    box.start()
    return box


@pytest.fixture
def sandbox(tmp_path):
    boxes = []

    def started(source: str, settings: Settings | None = None, name: str = "sub.py") -> Sandbox:
        boxes.append(start(tmp_path, source, settings, name))
        return boxes[-1]

    yield started
    for box in boxes:
        box.stop()


@pytest.fixture(autouse=True)
def no_environment(monkeypatch):
    for name in [k for k in os.environ if k.startswith("NN_")]:
        monkeypatch.delenv(name)


# ------------------------------------------------------------------------------------------------ stand-ins

MAPS_A_FILE = '''
import mmap, os

kept = []


def map_file(path):
    """A file of this name mapped into memory, as importing a framework maps its libraries."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(b"\\0" * 4096)
    with open(path, "rb") as f:
        kept.append(mmap.mmap(f.fileno(), 4096, prot=mmap.PROT_READ))
'''


def test_a_mapped_framework_library_is_found_by_its_path(sandbox):
    box = sandbox(MAPS_A_FILE)
    box.root.map_file("lib/numpy_like.so")
    assert box.frameworks() == []
    box.root.map_file("site/jaxlib/xla_extension.so")
    found = box.frameworks()
    assert len(found) == 1 and found[0].startswith("jax (") and found[0].endswith("/site/jaxlib/xla_extension.so)")
    assert box.end() == found and box.lost == f"the sandbox mapped {found[0]}"


def test_a_framework_import_costs_only_what_uses_it(sandbox):
    box = sandbox(FRAMEWORKS)
    assert box.hello.ok, box.hello.error
    assert box.hello.stand_ins == [["torch", "sub.py:3", "a framework"], ["tensorflow", "sub.py:6", "a framework"],
                                   ["jax", "sub.py:7", "a framework"]]
    assert np.array_equal(box.root.relu(np.array([-1.0, 2.0])), [0.0, 2.0])
    assert box.root.is_tensor(np.ones(2)) is False  # nothing in the sandbox is a tensor of a framework it lacks
    with pytest.raises(CheckFailure, match=r"with_torch raised ModuleNotFoundError: torch.tensor: this submission's "
                                           r"sandbox has no torch \(the layers must use NumPy only\)\n  at sub.py:20: "
                                           r"return torch.tensor\(x\)"):
        call("with_torch", box.root.with_torch, np.ones(2))
    with pytest.raises(CheckFailure, match=r"torch.nn.functional.relu: this submission's sandbox has no torch"):
        call("with_functional", box.root.with_functional, np.ones(2))
    with pytest.raises(CheckFailure, match=r"torch.nn.Module: this submission's sandbox has no torch"):
        call("twin", box.root.twin)
    assert box.end() == [], "a stand-in is plain Python: no framework is mapped"


# Chollet's NaiveDense as the book writes it (TensorFlow), and a NumPy port of it that still imports TensorFlow.
TENSORFLOW_ORIGINAL = '''
import tensorflow as tf


class NaiveDense:
    def __init__(self, input_size, output_size, activation):
        self.activation = activation
        self.W = tf.Variable(tf.random.uniform((input_size, output_size), minval=0, maxval=1e-1))
        self.b = tf.Variable(tf.zeros((output_size,)))

    def __call__(self, inputs):
        return self.activation(tf.matmul(inputs, self.W) + self.b)

    @property
    def weights(self):
        return [self.W, self.b]


class NaiveSequential:
    def __init__(self, layers):
        self.layers = layers

    def __call__(self, inputs):
        for layer in self.layers:
            inputs = layer(inputs)
        return inputs
'''
PORT_IMPORTING_TENSORFLOW = TENSORFLOW_ORIGINAL \
    .replace("import tensorflow as tf", "import numpy as np\nimport tensorflow as tf") \
    .replace("tf.Variable(tf.random.uniform((input_size, output_size), minval=0, maxval=1e-1))",
             "np.random.uniform(0, 0.1, (input_size, output_size))") \
    .replace("tf.Variable(tf.zeros((output_size,)))", "np.zeros(output_size)").replace("tf.matmul(", "np.matmul(")


def test_layers_written_in_a_framework_are_refused_in_one_line(sandbox):
    """The TensorFlow original (tf.Variable, tf.matmul, none of it NumPy) is refused at the import, one line naming
    the framework, also when its import builds a model (the stand-in's call is read from the import's error); the
    same layers ported to NumPy that still import TensorFlow are graded."""
    box = sandbox(TENSORFLOW_ORIGINAL)
    assert not box.hello.ok
    assert box.hello.error == ("uses TensorFlow (in NaiveDense; none of its code uses NumPy): this harness grades NumPy "
                               "implementations; port the layers to NumPy")
    notebook = sandbox(TENSORFLOW_ORIGINAL + "\n\nmodel = NaiveSequential([NaiveDense(784, 512, tf.nn.relu)])\n",
                       name="notebook.py")  # the book's notebook builds its model at the top level
    assert notebook.hello.error == ("uses TensorFlow when imported (tensorflow.random.uniform): this harness grades "
                                    "NumPy implementations; port the layers to NumPy")
    port = sandbox(PORT_IMPORTING_TENSORFLOW, name="port.py")
    assert port.hello.ok, port.hello.error
    assert port.hello.stand_ins == [["tensorflow", "port.py:3", "a framework"]]
    assert "tf." not in PORT_IMPORTING_TENSORFLOW.split("class")[1] + PORT_IMPORTING_TENSORFLOW.split("class")[2]


def test_the_numpy_only_check_still_names_each_framework_import(sandbox):
    box = sandbox(FRAMEWORKS)
    found = [str(item) for item in provenance.forbidden_imports(box.target, box.loaded_files())]
    assert [line.rsplit("/", 1)[-1] for line in found] == [
        "sub.py:3: imports torch (PyTorch)", "sub.py:4: imports torch (PyTorch)",
        "sub.py:5: imports torch.nn.functional (PyTorch)", "sub.py:6: imports tensorflow (TensorFlow)",
        "sub.py:7: imports jax.numpy (JAX)"]


def test_an_import_the_submission_handles_keeps_its_fallback(sandbox):
    box = sandbox('''
        import importlib

        try:
            import torch
        except ImportError:
            torch = None

        try:
            from scipy.signal import correlate2d
        except (OSError, ModuleNotFoundError):
            correlate2d = "fallback"


        def _by_name():
            return importlib.import_module("tensorflow")  # no try here: its caller has one


        def optional():
            try:
                return _by_name()
            except Exception:
                return "fallback"
    ''')
    assert box.hello.ok and box.hello.stand_ins == [], box.hello
    assert box.root.torch is None and box.root.correlate2d == "fallback"
    assert box.root.optional() == "fallback"


def test_a_package_the_sandbox_lacks_fails_only_its_users_and_says_why(sandbox):
    box = sandbox('''
        import numpy as np
        import scipy.signal
        from d2l import plot


        def with_scipy(x):
            return scipy.signal.correlate2d(x, x)


        def with_d2l():
            return plot()


        def numpy_own():
            import numpy.no_such_module  # a real package's missing module: its own error, at once
    ''')
    assert box.hello.ok, box.hello.error
    assert box.hello.stand_ins == [["scipy", "sub.py:3", "not allowed"], ["d2l", "sub.py:4", "not installed"]]
    with pytest.raises(CheckFailure, match=r"scipy.signal.correlate2d: the submission imports scipy, which this "
                                           r"assignment does not allow \(add it to `allow`\)"):
        call("with_scipy", box.root.with_scipy, np.ones((2, 2)))
    with pytest.raises(CheckFailure, match=r"d2l.plot: No module named 'd2l' where the submission is graded"):
        call("with_d2l", box.root.with_d2l)
    with pytest.raises(CheckFailure, match=r"No module named 'numpy.no_such_module'"):
        call("numpy_own", box.root.numpy_own)


# ---------------------------------------------------------------------------------------------- allowed packages

def test_an_allowed_package_is_importable_and_read_only(sandbox):
    pytest.importorskip("scipy")
    box = sandbox('''
        from scipy.signal import correlate2d


        def correlate(x, k):
            return correlate2d(x, k, "valid")


        def read_only(name):
            import os
            import scipy
            folder = os.path.join(os.path.dirname(os.path.dirname(scipy.__file__)), name)
            return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    ''', Settings(allow=("scipy",)))
    assert box.hello.ok and box.hello.stand_ins == [], box.hello
    assert np.array_equal(box.root.correlate(np.eye(3), np.ones((2, 2))), [[2.0, 1.0], [1.0, 2.0]])
    if "own root" in box.hello.view:  # bound read-only (without root they are linked: nothing is bound or hidden)
        assert all(box.root.read_only(name) for name in ("scipy", "scipy.libs", "numpy"))


def test_allowed_packages_bring_what_they_need_and_never_a_framework():
    pytest.importorskip("skimage")
    allowed = packages.resolve(("skimage",))
    assert {"skimage", "scipy", "lazy_loader"} <= set(allowed.folders)
    assert any(name.startswith("scikit_image-") and name.endswith(".dist-info") for name in allowed.folders)
    assert "numpy" not in allowed.folders, "NumPy is every sandbox's already"
    assert "scipy" in allowed.shown["skimage"]
    for name, why in [("torch", "'torch' is a framework"), ("impl", "'impl' is the grader's own code"),
                      ("no_such_package_anywhere", "is not installed in the grader's environment"),
                      ("scikit-image", "not a package's import name")]:
        with pytest.raises(ValueError, match=why):
            packages.resolve((name,))


def test_skimage_util_pad_is_there_where_a_newer_scikit_image_dropped_it(sandbox):
    """practical_dl's template suggests skimage.util.pad (np.pad under another name, gone from scikit-image 0.19):
    a Conv2d that follows the hint is graded on its padding, not on the grader's scikit-image."""
    pytest.importorskip("skimage")
    source = '''
        import numpy as np
        import skimage


        def padded(x):
            return skimage.util.pad(x, ((1, 1), (0, 0)))
    '''
    box = sandbox(source, Settings(allow=("skimage",)))
    assert box.hello.ok, box.hello.error
    assert np.array_equal(box.root.padded(np.ones((1, 2))), [[0.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    not_allowed = sandbox(source, name="not_allowed.py")  # a stand-in skimage's util stays a stand-in
    assert not_allowed.hello.stand_ins == [["skimage", "not_allowed.py:3", "not allowed"]]
    with pytest.raises(CheckFailure, match="does not allow"):
        call("padded", not_allowed.root.padded, np.ones((1, 2)))


# ------------------------------------------------------------------------------------------------ numpy aliases

OLD_NUMPY = '''
import numpy as np

DTYPE = np.float


def zeros(n):
    return np.zeros(n, dtype=np.int)


def bool_is_numpys():
    return np.bool is np.bool_
'''


def test_numpy_aliases_restore_what_older_code_uses(sandbox):
    assert not sandbox(OLD_NUMPY).hello.ok, "without them, np.float fails the import"
    box = sandbox(OLD_NUMPY, Settings(numpy_aliases=True), "old.py")
    assert box.hello.ok, box.hello.error
    assert {"object", "float", "int", "complex", "str"} <= set(box.hello.aliases)
    assert box.root.zeros(2).dtype == np.dtype(int)
    if "bool" in vars(np):  # NumPy 2 has np.bool again, as its own boolean type: it stays
        assert box.root.bool_is_numpys() is True and "bool" not in box.hello.aliases


def test_the_practical_dl_profiles_turn_the_aliases_on():
    for name in ("torch7", "practical_dl", "practical_dl_snake"):
        assert adapters.profile_for(name).sandbox.numpy_aliases, name
    assert adapters.profile_for("native").sandbox == Settings()


@pytest.mark.parametrize(("table", "key"), [
    ('numpy_aliases = "yes"', "sandbox.numpy_aliases: must be true or false"),
    ('allow = "scipy"', "sandbox.allow: must be a list"),
    ('allow = ["torch"]', "sandbox.allow: 'torch' is a framework"),
    ('allow = ["nn_harness"]', "sandbox.allow: 'nn_harness' is the grader's own code"),
    ("speed = 1", "sandbox.speed: unknown key"),
])
def test_a_profiles_sandbox_table_is_validated_naming_the_key(tmp_path, table, key):
    path = tmp_path / "course.toml"
    path.write_text(f'name = "course"\ndriver = "torch7"\n[sandbox]\n{table}\n')
    with pytest.raises(ProfileError, match=f"profile {path}: {key}"):
        load(path)


# -------------------------------------------------------------------------------------------- options and files

def test_the_options_override_the_aliases_and_add_to_what_the_profile_allows(tmp_path):
    pytest.importorskip("scipy")
    course = tmp_path / "course.toml"
    course.write_text('extends = "torch7"\nname = "course"\n[sandbox]\nallow = ["scipy"]\n')
    assert import_settings(FakeConfig(api="torch7")) == Settings(numpy_aliases=True)
    assert import_settings(FakeConfig(api="torch7", numpy_aliases="false")) == Settings()
    assert import_settings(FakeConfig(api="practical_dl")) == Settings(True, ("scipy", "skimage"))
    assert import_settings(FakeConfig(numpy_aliases="true", allow="scipy")) == Settings(True, ("scipy",))
    assert import_settings(FakeConfig(api=str(course), allow="scipy")) == Settings(True, ("scipy",))
    # under auto, the import that chooses the profile gets what any profile auto may choose offers; then the chosen one's
    assert import_settings(FakeConfig(api="auto")) == Settings(True, ("scipy", "skimage"))
    assert import_settings(FakeConfig(api="auto"), "native") == Settings()
    assert import_settings(FakeConfig(api="auto", allow="scipy"), "native") == Settings(False, ("scipy",))


@pytest.mark.parametrize(("flags", "message"), [
    ({"numpy_aliases": "maybe"}, "--numpy-aliases / NN_NUMPY_ALIASES: 'maybe' is not true or false"),
    ({"allow": "scipy,torch"}, "--allow / NN_ALLOW: 'torch' is a framework"),
    ({"allow": "no_such_package_anywhere"}, "--allow / NN_ALLOW: 'no_such_package_anywhere' is not installed"),
])
def test_an_unusable_option_is_a_usage_error(flags, message):
    with pytest.raises(pytest.UsageError, match=message):
        import_settings(FakeConfig(**flags))


def test_a_profiles_package_that_is_not_installed_is_a_usage_error_naming_the_profile(tmp_path):
    course = tmp_path / "course.toml"
    course.write_text('name = "course"\ndriver = "torch7"\n[sandbox]\nallow = ["no_such_package_anywhere"]\n')
    with pytest.raises(pytest.UsageError, match=f"profile {course}: sandbox.allow: 'no_such_package_anywhere' is not"):
        import_settings(FakeConfig(api=str(course)))


def test_an_assignment_file_sets_both(tmp_path):
    pytest.importorskip("scipy")
    path = tmp_path / "hw.toml"
    path.write_text('[assignment]\nnumpy_aliases = true\nallow = ["scipy"]\n')
    assert assignment.load(path, OPTIONS).options == {"numpy_aliases": "true", "allow": "scipy"}
    for text, key in [("numpy_aliases = 'maybe'", "numpy_aliases"), ("allow = ['torch']", "allow"),
                      ("allow = [3]", "allow")]:
        path.write_text(f"[assignment]\n{text}\n")
        with pytest.raises(pytest.UsageError, match=rf"{path}: \[assignment\] {key}"):
            assignment.load(path, OPTIONS)


# ----------------------------------------------------------------------------------------------- the whole folder

def test_the_whole_folder_is_copied_within_the_budget_never_the_graders(tmp_path, monkeypatch):
    folder = tmp_path / "student"
    files = {"layers.py": "x = 1\n", "ns/helpers.py": "SCALE = 3\n", "ns/deep/more.py": "", "data/w.npy": "0" * 10,
             "big.bin": "0" * 5000, ".venv/lib/torch.py": "", "__pycache__/layers.pyc": "", "impl/linear.py": ""}
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    (folder / "etc").symlink_to("/etc")
    monkeypatch.setattr(client, "COPY_LIMIT", 1000)
    monkeypatch.setattr(client, "PROJECT", folder)  # as if the file were given from the grader's checkout
    into = tmp_path / "copy"
    into.mkdir()
    entry, left_out = client.copy_submission(folder / "layers.py", into)
    copied = sorted(p.relative_to(into).as_posix() for p in into.rglob("*") if p.is_file())
    assert entry == into / "layers.py" and left_out == ["big.bin"]
    assert copied == ["data/w.npy", "layers.py", "ns/deep/more.py", "ns/helpers.py"]


def test_a_namespace_package_and_data_beside_the_submission_are_there(tmp_path, sandbox):
    (tmp_path / "ns").mkdir()
    (tmp_path / "ns" / "helpers.py").write_text("SCALE = 3\n")
    np.save(tmp_path / "weights.npy", np.arange(3.0))
    box = sandbox('''
        import os

        import numpy as np
        from ns.helpers import SCALE

        WEIGHTS = np.load(os.path.join(os.path.dirname(__file__), "weights.npy")) * SCALE
    ''')
    assert box.hello.ok, box.hello.error
    assert np.array_equal(box.root.WEIGHTS, [0.0, 3.0, 6.0])


# ---------------------------------------------------------------------------------------------------- graded

def grade(tmp_path: Path, *options: str) -> tuple[subprocess.CompletedProcess, dict]:
    out = tmp_path / f"results{len(list(tmp_path.glob('results*.json')))}.json"
    command = [sys.executable, "-m", "nn_harness", "--impl", str(SCIPY_CONV), "-m", "Conv2d or ReLU or Submission",
               "-k", "matches_torch or numpy_only", "--profile", "dev", "-n", "0", "-p", "no:cacheprovider",
               "--grade-json", str(out), *options]
    env = {k: v for k, v in os.environ.items() if not k.startswith("NN_")}
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert out.is_file(), result.stdout[-3000:] + result.stderr[-3000:]
    return result, json.loads(out.read_text())


def test_a_scipy_conv2d_passes_when_allowed_and_fails_alone_when_not(tmp_path):
    pytest.importorskip("scipy")
    result, report = grade(tmp_path, "--numpy-aliases", "--allow", "scipy")
    assert result.returncode == 0 and report["score"] == report["max_score"] > 0, result.stdout[-3000:]
    assert "allowed packages: scipy" in report["output"].splitlines()
    assert any(line.startswith("numpy aliases: ") for line in report["output"].splitlines())

    # not allowed: named, or chosen by auto (whose first import, allowing what practical_dl allows, chose native)
    for options in ((), ("--api", "auto")):
        result, report = grade(tmp_path, *options)
        by_layer = {}
        for test in report["tests"]:
            by_layer.setdefault(test["tags"][0], []).append(test)
        assert {"Conv2d", "ReLU", "Submission"} <= set(by_layer), sorted(by_layer)
        assert all(test["status"] == "passed" for test in by_layer["ReLU"] + by_layer["Submission"]), result.stdout[-3000:]
        assert by_layer["Conv2d"] and all(test["status"] == "failed" and "scipy.signal.correlate2d: the submission "
                                          "imports scipy, which this assignment does not allow (add it to `allow`)"
                                          in test["output"] for test in by_layer["Conv2d"]), result.stdout[-3000:]
        assert ("imports the sandbox has no module for (only what uses them fails): scipy (layers.py:5, not allowed)"
                in report["output"].splitlines())
