"""The trust boundary (nn_harness/sandbox/client.py, nn_harness/sandbox/): what crosses it, what the sandbox can see, and how a
lost sandbox is reported. Each test starts a sandbox on a small submission written to tmp_path."""

import json
import os
import sysconfig
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pytest

from nn_harness.checks import finite_diff as fd
from nn_harness.sandbox import wire
from nn_harness.sandbox.client import PROJECT, UID_BASE, Limits, Sandbox, SandboxLost, flush, sandbox_of
from nn_harness.sandbox.student import CheckFailure, call, later

LAYER = '''
import numpy as np

class Scale:
    def __init__(self, n):
        self.w = np.ones(n)
        self.g = np.zeros(n)

    def forward(self, x):
        return x * self.w

    def backward(self, x, grad):
        self.g += (grad * x).sum(axis=0)
        return grad * self.w

    def parameters(self):
        return [self.w]

    def grad_parameters(self):
        return [self.g]

    def zero_grad(self):
        self.g[...] = 0
'''


def sandbox(tmp_path: Path, source: str, **limits) -> Sandbox:
    path = tmp_path / "sub.py"
    path.write_text(textwrap.dedent(source))
    box = Sandbox(str(path), "native", Limits(**limits))
    hello = box.start()
    assert hello.ok, hello.error
    return box


@pytest.fixture
def box(tmp_path):
    box = sandbox(tmp_path, LAYER + '''
def probe(what):
    """What the sandbox can reach, for the tests below: a folder's names, whether a file exists, whether a module
    imports, why a connection fails."""
    import importlib, os
    if what.startswith("/"):
        return os.listdir(what) if os.path.isdir(what) else os.path.exists(what)
    if what == "network":
        import socket
        try:
            socket.create_connection(("192.0.2.1", 80), timeout=2).close()  # TEST-NET-1: no route outside either
        except OSError as error:
            return error.strerror
    try:
        importlib.import_module(what)
        return "imported"
    except ImportError as error:
        return type(error).__name__
''')
    yield box
    box.stop()


# ---------------------------------------------------------------------------------------------------- the wire

def test_an_array_crosses_as_dtype_shape_and_bytes_only():
    blobs = []
    node = wire.array_node(np.arange(6.0).reshape(2, 3), lambda b: blobs.append(b) or len(blobs) - 1)
    assert node["dtype"] == "<f8" and node["shape"] == [2, 3]
    assert np.array_equal(wire.node_array(node, blobs), np.arange(6.0).reshape(2, 3))


@pytest.mark.parametrize("node, reason", [
    ({"array": 0, "dtype": "|O", "shape": [1]}, "only bool, integer and float"),
    ({"array": 0, "dtype": "<U3", "shape": [1]}, "only bool, integer and float"),
    ({"array": 0, "dtype": "<f8", "shape": [1000000]}, "holds 8 bytes"),
    ({"array": 0, "dtype": "<f8", "shape": [-1]}, "shape"),
    ({"array": 5, "dtype": "<f8", "shape": [1]}, "no blob"),
])
def test_what_is_not_a_plain_numeric_array_is_refused(node, reason):
    with pytest.raises(wire.WireError, match=reason):
        wire.node_array(node, [b"\0" * 8])


def test_a_frame_past_the_limit_is_refused_before_it_is_read():
    read, write = os.pipe()
    os.write(write, (1 << 40).to_bytes(8, "big"))
    with pytest.raises(wire.WireError, match="more than the limit"):
        wire.read_frame(read)
    os.close(read)
    os.close(write)


def test_deep_nesting_is_refused():
    tree = [1]
    for _ in range(wire.MAX_DEPTH + 2):
        tree = {"list": [tree]}
    with pytest.raises(wire.WireError, match="nested"):
        wire.decode(tree, [], lambda node: None)


# ------------------------------------------------------------------------------------------- shared arrays

def test_arrays_handed_out_stay_the_live_buffers(box):
    layer = box.root.Scale(3)
    weights, grads = layer.parameters()[0], layer.grad_parameters()[0]
    assert layer.grad_parameters()[0] is grads, "the same buffer twice is the same array here"
    weights[...] = 2.0  # written here: the sandbox's layer computes with it
    x = np.arange(6.0).reshape(2, 3)
    assert np.array_equal(layer.forward(x), 2 * x)
    layer.backward(x, np.ones((2, 3)))
    assert np.array_equal(grads, x.sum(axis=0)), "the sandbox's accumulation shows in the held buffer"
    layer.zero_grad()
    assert not grads.any(), "zero_grad in place there zeroes the buffer held here"


def test_a_write_into_an_array_dropped_since_still_reaches_the_sandbox(box):
    layer = box.root.Scale(2)
    layer.parameters()[0][...] = 5.0  # the list and the array are dropped at once
    assert np.array_equal(layer.forward(np.ones((1, 2))), [[5.0, 5.0]])


def test_an_array_still_held_stays_shared_when_a_dropped_one_had_its_id(box):
    """An array dropped here is forgotten at the next request; by then Python may have given its id to an array still
    held (memory reused). Forgetting the dropped one must not forget the held one: it would go to the sandbox as a
    copy, and the finite differences would move the copy instead of the layer's parameter."""
    layer = box.root.Scale(2)
    (held,), (dropped,) = layer.parameters(), layer.grad_parameters()
    gone = box.arrays[box.ids[id(dropped)]]
    del dropped
    gone.key = id(held)  # the dropped array's id, as the held one's when its memory was reused
    held[...] = 3.0
    layer.zero_grad()  # a request: the dropped array is forgotten here
    jacobian, _ = fd.numerical_jacobian(layer.forward, (np.array([[1.0, 2.0]]),), held)  # moves the layer's weights
    np.testing.assert_allclose(jacobian, np.diag([1.0, 2.0]), atol=1e-8)


def test_an_input_modified_in_place_by_the_submission_is_modified_here(tmp_path):
    box = sandbox(tmp_path, "def negate(x):\n    x *= -1\n    return None\n")
    x = np.ones(3)
    box.root.negate(x)
    assert np.array_equal(x, -np.ones(3))
    box.stop()


def test_a_key_error_of_the_submission_is_its_own(tmp_path):
    box = sandbox(tmp_path, "def f():\n    return {}['missing']\n")
    with pytest.raises(CheckFailure, match=r"f raised KeyError: 'missing'\n  at .*sub.py:2"):
        call("f", box.root.f)
    box.stop()


def test_what_the_submission_raises_names_its_line(box):
    layer = box.root.Scale(2)
    with pytest.raises(CheckFailure, match=r"Scale.forward raised ValueError: .*\n  at .*sub.py:\d+: return x \* self.w"):
        call("Scale.forward", layer.forward, np.ones((2, 3)))


def test_a_deferred_call_goes_with_the_next_request_and_its_failure_names_it(tmp_path):
    box = sandbox(tmp_path, LAYER + '''
class Broken(Scale):
    calls = 0

    def forward(self, x):
        Broken.calls += 1
        return super().forward(x)

    def train(self):
        raise ValueError("no mode here")
''')
    layer = box.root.Scale(2)
    grad = layer.g  # the live buffer, shared
    grad[...] = 5
    later("Scale.zero_grad()", layer.zero_grad)  # not sent yet: one request fewer
    assert np.array_equal(grad, [5, 5])
    call("Scale.forward", layer.forward, np.ones((1, 2)))
    assert np.array_equal(grad, [0, 0])  # made before the forward, with it

    broken = box.root.Broken(2)
    later("Broken.train()", broken.train)
    with pytest.raises(CheckFailure, match=r"^Broken.train\(\) raised ValueError: no mode here\n  at .*sub.py:\d+"):
        call("Broken.forward", broken.forward, np.ones((1, 2)))
    assert box.root.Broken.calls == 0, "the request after a failed deferred call is not made"
    later("Broken.train()", broken.train)
    with pytest.raises(CheckFailure, match=r"^Broken.train\(\) raised ValueError"):  # a check's last call too
        flush(broken)
    box.stop()


def test_promised_calls_go_with_the_next_request_and_may_name_each_others_results(box):
    scale = box.root.Scale
    before = box.requests
    with box.pipelined("constructing Scale(2)"):
        layer = scale(2)  # not made yet: a promise
    assert sandbox_of(layer) is box and sandbox_of(layer.forward) is box  # beside() and flush() find its sandbox
    parameters = call("Scale.parameters()", layer.parameters)  # the request: the constructor, then parameters()
    assert box.requests == before + 1
    assert [p.tolist() for p in parameters] == [[1.0, 1.0]]
    layer = layer.value  # the object, as a handle
    parameters[0][...] = 3  # shared, as a request's own result is
    assert np.array_equal(call("Scale.forward", layer.forward, np.ones((1, 2))), [[3.0, 3.0]])


def test_a_promised_result_is_as_it_was_when_its_call_returned(box):
    layer = box.root.Scale(2)
    x = np.ones((1, 2))
    with box.pipelined("Scale.backward"):
        first = layer.backward(x, np.ones((1, 2)))
    with box.pipelined("Scale.grad_parameters()"):
        once = layer.grad_parameters()
        layer.backward(x, np.ones((1, 2)))  # adds into the very array `once` holds
        twice = layer.grad_parameters()
    before = box.requests
    assert np.array_equal(once.value[0], [1.0, 1.0])  # a copy, as it was then
    assert box.requests == before + 1
    assert np.array_equal(first.value, [[1.0, 1.0]])
    held = twice.value[0]
    assert np.array_equal(held, [2.0, 2.0])  # the shared array, as it is now
    held[...] = 7  # and it is still shared: the write reaches the sandbox
    assert np.array_equal(call("Scale.grad_parameters()", layer.grad_parameters)[0], [7.0, 7.0])


def test_a_promised_call_that_fails_names_itself_and_fails_the_promises_of_its_request(tmp_path):
    box = sandbox(tmp_path, LAYER + '''
class Broken(Scale):
    def __init__(self, n):
        raise ValueError("no layer here")
''')
    with box.pipelined("constructing Broken(2)"):
        broken = box.root.Broken(2)
    with pytest.raises(CheckFailure, match=r"^constructing Broken\(2\) raised ValueError: no layer here\n  at .*sub.py"):
        call("Broken.parameters()", broken.parameters)
    with pytest.raises(CheckFailure, match="no layer here"):
        _ = broken.value
    box.stop()


# ------------------------------------------------------------------------------------------------ the view

def test_torch_and_the_graders_packages_are_not_importable(box):
    for name in ("torch", "impl", "reference", "hypothesis", "nn_harness.run.plugin"):
        assert box.root.probe(name) in ("ModuleNotFoundError", "ImportError"), name
    assert box.root.probe("numpy") == "imported"


@pytest.mark.skipif(os.geteuid() != 0, reason="a root of its own and a uid of its own need root")
def test_as_root_the_sandbox_sees_only_its_folder_and_the_libraries_and_has_its_own_uid(box):
    assert "own root" in box.hello.view, box.hello.view
    # The checkout's parent folder too, unless it holds the sandbox's own folder (a checkout in /tmp).
    parent = [] if Path(tempfile.gettempdir()).resolve().is_relative_to(PROJECT.parent) else [str(PROJECT.parent)]
    for path in (str(PROJECT), *parent, "/home", "/etc/passwd", "/proc/1"):
        assert box.root.probe(path) is False, f"{path} is visible in the sandbox"
    # site-packages (torch): an empty folder where it lies inside the standard library's, absent where it does not
    # (a virtual environment's lies beside the project).
    assert box.root.probe(sysconfig.get_paths()["purelib"]) in ([], False), "site-packages is visible"
    assert "os.py" in box.root.probe(sysconfig.get_paths()["stdlib"]) and box.root.probe("/dev/null") is True
    if "no network" in box.hello.view:  # a network namespace of its own: only a loopback, down
        assert box.root.probe("network") == "Network is unreachable"
    assert box.hello.uid >= UID_BASE


# -------------------------------------------------------------------------------------------- lost sandboxes

@pytest.mark.parametrize("source, reason", [
    # The stack is sampled wherever the loop is: on its `while` line or its body's.
    ("def f():\n    while True:\n        pass\n",
     r"timed out after 1 s .*\n  was running: .*sub.py:(2: while True:|3: pass)"),
    ("def f():\n    import ctypes\n    ctypes.string_at(0)\n", "killed by signal SIGSEGV"),
    ("def f():\n    import os\n    os._exit(7)\n", "exited with code 7"),
])
def test_a_lost_sandbox_fails_the_check_with_the_reason_and_is_replaced(tmp_path, source, reason):
    box = sandbox(tmp_path, source)
    box.begin(1.0)
    with pytest.raises(SandboxLost, match=reason):
        box.root.f()
    with pytest.raises(SandboxLost):  # the rest of that check fails at once
        box.root.f()
    box.begin(1.0)  # the next check: a new sandbox
    assert callable(box.root.f)
    box.stop()


def test_a_framework_mapped_in_the_sandbox_is_found(tmp_path):
    box = sandbox(tmp_path, '''
        import mmap
        def map_library():
            with open("libtorch_cpu.so", "wb") as f:
                f.write(b"\\0" * 4096)
            global KEEP
            with open("libtorch_cpu.so", "rb") as f:
                KEEP = mmap.mmap(f.fileno(), 4096, prot=mmap.PROT_READ)
    ''')
    assert box.end() == []
    box.root.map_library()
    found = box.end()
    assert found and found[0].startswith("torch (") and box.lost, "it is replaced before the next check"


def test_a_huge_allocation_is_a_memory_error_not_a_dead_machine(tmp_path):
    box = sandbox(tmp_path, "import numpy as np\ndef f():\n    return np.ones((40000, 40000))\n", memory_mb=1024)
    with pytest.raises(CheckFailure, match="MemoryError"):
        call("f", box.root.f)
    box.stop()


def test_hello_is_plain_data(box):
    assert json.loads(json.dumps(box.hello.__dict__))["ok"] is True


# ------------------------------------------------------------------------------------- counted in the sandbox

LINEAR = '''
import numpy as np

class Linear:
    def __init__(self, in_features, out_features, bias=True):
        self.weight, self.bias = np.zeros((out_features, in_features)), np.zeros(out_features)
        self.grads = [np.zeros_like(self.weight), np.zeros_like(self.bias)]
        self.training = True

    def forward(self, x):
        return x @ self.weight.T + self.bias

    def __call__(self, x):
        return self.forward(x)

    def backward(self, x, grad):
        self.grads[0] += grad.T @ x
        self.grads[1] += grad.sum(axis=0)
        return grad @ self.weight

    def parameters(self):
        return [self.weight, self.bias]

    def grad_parameters(self):
        return self.grads

    def zero_grad(self):
        for g in self.grads:
            g[...] = 0

    def train(self, mode=True):
        self.training = mode

    def eval(self):
        self.training = False


class NumericalLinear(Linear):
    def backward(self, x, grad):
        x, grad_input, h = x.copy(), np.zeros_like(x), 1e-5
        for tensor, into in ((x, grad_input), (self.weight, self.grads[0]), (self.bias, self.grads[1])):
            for i in np.ndindex(tensor.shape):
                original = tensor[i]
                tensor[i] = original + h
                up = self(x)  # through __call__: one call, as forward alone would be
                tensor[i] = original - h
                down = self(x)
                tensor[i] = original
                into[i] += np.vdot(grad, up - down) / (2 * h)
        return grad_input
'''


def test_the_forward_calls_in_a_backward_are_counted_in_the_sandbox_and_judged_here(tmp_path):
    from types import SimpleNamespace

    from nn_harness.cases.layer_case import LayerCase
    from nn_harness.cases.registry import SPECS
    from nn_harness.checks import layer as checks
    from nn_harness.sandbox.client import beside

    box = sandbox(tmp_path, LINEAR)
    x, g = np.random.default_rng(0).standard_normal((4, 3)), np.ones((4, 2))
    case = LayerCase(SPECS["Linear"], {"in_features": 3, "out_features": 2, "bias": True}, x, 5, "train")
    numerical = box.root.NumericalLinear(3, 2)
    count = beside(numerical, "helpers").forward_calls_in_backward(numerical, (x,), (g,))
    assert type(count) is int and count == 2 * (12 + 6 + 2), "a plain number: two per input and parameter element"
    checks.backward_is_derived_not_numerical(SimpleNamespace(Linear=box.root.Linear), case)
    with pytest.raises(CheckFailure, match=r"Linear.backward called forward 40 times for an input of 4x3 and "
                                           r"parameters weight 2x3, bias 2 \(at most 2 allowed\)"):
        checks.backward_is_derived_not_numerical(SimpleNamespace(Linear=box.root.NumericalLinear), case)
    box.stop()
