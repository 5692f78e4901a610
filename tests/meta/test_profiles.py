"""Course profiles (nn_harness/sandbox/adapters/profile.py): validation naming the key, inheritance, narrowing, rules in scope,
the docstring's dropout convention, errors attributed to the student's method, and the worked example of
docs/adapters.md graded end to end with no harness change."""

import dataclasses
import json
import os
import re
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings

from nn_harness.cases.layer_case import layer_cases
from nn_harness.cases.narrowing import narrowed
from nn_harness.cases.registry import SPECS
from nn_harness.checks.compare import CheckFailure
from nn_harness.grading import points
from nn_harness.sandbox import adapters
from nn_harness.sandbox.adapters.base import flatten
from nn_harness.sandbox.adapters.profile import ProfileError, load, parse
from nn_harness.sandbox.student import add_into, call

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "adapters.md"


def write(tmp_path, text, name="p.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


# ------------------------------------------------------------------------------------------------- validation

@pytest.mark.parametrize(("text", "message"), [
    ('name = "x"\n', "driver: required"),
    ('name = "x"\ndriver = "torch7"\ncolour = 1\n', "colour: unknown key"),
    ('name = "x"\ndriver = "torch7"\n[rules]\ngradients = "add"\n', 'rules.gradients: must be "accumulate" or "overwrite"'),
    ('name = "x"\ndriver = "torch7"\n[rules]\nfloat32 = "no"\n', "rules.float32: must be true or false"),
    ('name = "x"\ndriver = "torch7"\n[rules]\nspeed = 1\n', "rules.speed: unknown rule"),
    ('name = "x"\ndriver = "torch7"\n[rules.ranges.LeakyReLU]\nnegative_slope = [1, 0]\n',
     "rules.ranges.LeakyReLU.negative_slope: must be [low, high]"),
    ('name = "x"\ndriver = "torch7"\n[rules.spreads]\nCrossEntropyLoss = 0\n',
     "rules.spreads.CrossEntropyLoss: must be a positive number"),
    ('name = "x"\ndriver = "cs231n"\n[rules.zero_inputs]\nLSTM = "c0"\n', "rules.zero_inputs.LSTM: must be a list"),
    ('name = "x"\ndriver = "cs231n"\n[rules.zero_inputs]\nRNN = ["input"]\n', "rules.zero_inputs.RNN: must be a list"),
    ('name = "x"\ndriver = "update-only"\n[rules.omitted_gradients]\nConv2d = "input"\n',
     "rules.omitted_gradients.Conv2d: must be a list"),
    ('name = "x"\ndriver = "forward-only"\n[rules]\nbackward = "no"\n', "rules.backward: must be true or false"),
    ('name = "x"\ndriver = "forward-only"\n[rules]\nbackward = false\n', "evidence.backward: every rule cites its evidence"),
    ('name = "x"\ndriver = "torch7"\n[narrow.Conv2d]\nstride = 1\n', "narrow.Conv2d.stride: must be a non-empty list"),
    ('name = "x"\ndriver = "torch7"\n[names]\nLinear = 3\n', "names.Linear: must be a name or a list of names"),
    ('name = "x"\ndriver = "torch7"\n[detect]\nfiles = ["a"]\n', "detect.files: unknown"),
    ('name = "x"\ndriver = "torch7"\nnames = [\n', "not valid TOML"),
    ('name = "x"\ndriver = "torch7"\n[rules]\nfloat32 = false\n', "evidence.float32: every rule cites its evidence"),
    ('name = "x"\ndriver = "torch7"\n[rules.ranks]\nDropout = [2]\n[evidence]\nfloat32 = "t"\n',
     "evidence.ranks.Dropout: every rule cites its evidence"),
    ('name = "x"\ndriver = "torch7"\n[evidence]\nfloat32 = "the tests"\n', "evidence.float32: cites no rule"),
    ('name = "x"\ndriver = "torch7"\n[rules]\nvalue_bound = -1\n', "rules.value_bound: must be a positive number"),
    ('name = "x"\ndriver = "torch7"\n[rules]\nbeyond = "hide"\n', 'rules.beyond: must be "show" or "score"'),
])
def test_invalid_profile_names_the_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ProfileError, match=re.escape(message)):
        adapters.adapter_for(load(path))


def test_unknown_driver_and_unbindable_names_are_refused(tmp_path):
    with pytest.raises(ProfileError, match="driver: unknown driver 'keras'"):
        adapters.adapter_for(load(write(tmp_path, 'name = "x"\ndriver = "keras"\n')))
    with pytest.raises(ProfileError, match="names.GRU: the torch7 driver cannot build it"):
        adapters.adapter_for(load(write(tmp_path, 'name = "x"\ndriver = "torch7"\n[names]\nGRU = "GRU"\n')))


def test_unknown_api_names_the_choices():
    with pytest.raises(ProfileError, match="unknown api 'keras': one of .*practical_dl.*, or a path"):
        adapters.profile_for("keras")


def test_extends_merges_tables_and_refuses_cycles(tmp_path):
    child = load(write(tmp_path, 'extends = "practical_dl"\nname = "mine"\n[names]\nLinear = "Dense"\n'))
    assert child.driver == "torch7" and child.names["Linear"] == ("Dense",)
    assert child.names["ReLU"] == ("ReLU",) and child.rules.gradients == "overwrite"  # inherited twice over
    write(tmp_path, 'extends = "b.toml"\nname = "a"\ndriver = "torch7"\n', "a.toml")
    write(tmp_path, 'extends = "a.toml"\nname = "b"\ndriver = "torch7"\n', "b.toml")
    with pytest.raises(ProfileError, match="extends itself"):
        load(tmp_path / "a.toml")
    with pytest.raises(ProfileError, match="extends: no shipped profile 'nowhere'"):
        load(write(tmp_path, 'extends = "nowhere"\nname = "x"\n'))


def test_every_shipped_profile_loads_and_binds():
    for name, profile in adapters.profiles().items():
        assert profile.name == name
        adapters.adapter_for(profile)


# ----------------------------------------------------------------------------------------- rules and narrowing

def test_rules_put_checks_beyond_the_course_citing_their_evidence():
    """A check the course's rules do not ask for still runs, for 0 points, and says why with the course's own text;
    graded over the whole contract, or with rules.beyond = "score", it counts as any other."""
    course = adapters.profile_for("practical_dl")
    accumulate = points.beyond(course, "Linear", "gradients accumulate", "expressible")
    assert "beyond the course" in accumulate and "overwrites parameter gradients" in accumulate
    assert "homework_test_modules.ipynb" in accumulate, "the rule cites its evidence"
    assert "float64" in points.beyond(course, "Linear", "float32 preserved", "expressible")
    assert "+-10" in points.beyond(course, "CrossEntropyLoss", "stable for large logits", "expressible")
    assert "kink" in points.beyond(course, "ELU", "subgradient at kink", "expressible")
    assert points.beyond(course, "Linear", "gradients accumulate", "contract") is None
    assert points.beyond(course, "Linear", "backward matches torch", "expressible") is None
    assert points.not_graded(course, "Linear", "gradients accumulate") is None, "it runs"
    scored = dataclasses.replace(course, rules=dataclasses.replace(course.rules, beyond="score"))
    assert points.beyond(scored, "Linear", "gradients accumulate", "expressible") is None
    assert "course-supplied" in points.not_graded(course, "ReLU", "forward matches torch")
    assert points.not_graded(course, "Linear", "backward matches torch") is None
    assert points.not_graded(course, "MLP end to end", "reaches target accuracy") is None  # supplied ReLU is fine
    native = adapters.profile_for("native")
    assert all(points.not_graded(native, spec, "gradients accumulate") is None for spec in SPECS)


def test_narrowing_states_only_what_the_course_can():
    course = adapters.profile_for("practical_dl")
    seen = []

    @settings(max_examples=40, database=None)
    @given(case=layer_cases(SPECS["LeakyReLU"].__class__(**{
        **SPECS["LeakyReLU"].__dict__, **narrowed(course, SPECS["LeakyReLU"], "forward matches torch")})))
    def slopes(case):
        seen.append(case.args.get("negative_slope", 0.01))

    slopes()
    assert seen and max(seen) <= 1.0

    ranks = []
    fields = narrowed(course, SPECS["Dropout"], "forward matches torch")

    @settings(max_examples=30, database=None)
    @given(case=layer_cases(SPECS["Dropout"].__class__(**{**SPECS["Dropout"].__dict__, **fields})))
    def dropout(case):
        ranks.append(case.x.ndim)

    dropout()
    assert set(ranks) == {2}
    assert narrowed(course, SPECS["BatchNorm1d"], "backward matches torch")["modes"] == ("train",)
    assert "modes" not in narrowed(course, SPECS["BatchNorm1d"], "forward matches torch")


def test_a_criterions_scores_are_scaled_down_to_the_spread_the_course_computes_exactly():
    """module-grad's CrossEntropy clips probabilities below 1e-15: no case may have scores more than 30 apart."""
    course = adapters.profile_for("module-grad")
    spec = SPECS["CrossEntropyLoss"]
    spreads = []

    @settings(max_examples=60, database=None)
    @given(pair=narrowed(course, spec, "loss matches torch")["inputs"])
    def scores(pair):
        spreads.append(float(np.ptp(pair[0], axis=1).max()))

    scores()
    assert max(spreads) <= 30.0 + 1e-9
    assert "inputs" not in narrowed(adapters.profile_for("native"), spec, "loss matches torch")


def test_zero_inputs_are_drawn_as_zeros_and_not_graded(tmp_path):
    """[rules.zero_inputs]: the named further inputs of a layer are narrowed to zeros, their gradients not compared."""
    course = load(write(tmp_path, 'name = "x"\ndriver = "cs231n"\n[rules.zero_inputs]\nLSTMCell = ["hx", "cx"]\n'
                                  '[evidence]\n"zero_inputs.LSTMCell" = "the course\'s lstm_step takes no state"\n'))
    assert course.rules.zero_inputs == {"LSTMCell": ("hx", "cx")}
    spec = SPECS["LSTMCell"].__class__(**{**SPECS["LSTMCell"].__dict__,
                                          **narrowed(course, SPECS["LSTMCell"], "backward matches torch")})
    assert spec.zero_inputs == ("hx", "cx") and spec.graded_gradient("input") and not spec.graded_gradient("cx")
    states = []

    @settings(max_examples=20, database=None)
    @given(case=layer_cases(spec))
    def run(case):
        states.append(case.state)

    run()
    assert states and all(not np.any(a) for state in states for a in state)
    assert "zero_inputs" not in narrowed(course, SPECS["LSTM"], "backward matches torch")
    assert adapters.profile_for("native").rules.zero_inputs == {}


def test_same_padding_and_copied_arguments():
    torch7 = adapters.profile_for("torch7")
    fields = narrowed(torch7, SPECS["MaxPool2d"], "forward matches torch")
    conv = narrowed(torch7, SPECS["Conv2d"], "forward matches torch")

    @settings(max_examples=30, database=None)
    @given(pool=fields["configs"], conv_args=conv["configs"])
    def run(pool, conv_args):
        assert pool["stride"] == pool["kernel_size"] and pool["padding"] == 0
        assert conv_args["padding"] == conv_args["kernel_size"] // 2 and conv_args["stride"] == 1

    run()


# ------------------------------------------------------------------------------------------ dropout convention

@pytest.mark.parametrize(("doc", "keeps"), [
    ("- p: Dropout parameter. We drop each neuron output with probability p.", False),
    ("- p: Dropout parameter. We keep each neuron output with probability p.", True),
    ("p is the probability of keeping a unit", True),
    ("p: the probability of zeroing an element", False),
    ("Inverted dropout.", True),  # the docstring does not say: the profile's default
])
def test_dropout_p_read_from_the_docstring(doc, keeps):
    def dropout_forward(x, dropout_param):
        pass

    dropout_forward.__doc__ = doc
    got, how = adapters.profile_for("cs231n").dropout_keeps(dropout_forward)
    assert got is keeps
    assert ("docstring" in how) and (("keep" if keeps else "drop") in how)


def test_drop_probability_submission_is_graded_with_its_own_convention(tmp_path):
    path = tmp_path / "old_cs231n.py"
    path.write_text(textwrap.dedent('''
        import numpy as np
        def dropout_forward(x, dropout_param):
            """- p: Dropout parameter. We drop each neuron output with probability p."""
            p, mode = dropout_param["p"], dropout_param["mode"]
            mask = (np.random.rand(*x.shape) >= p) / (1 - p) if mode == "train" else None
            return (x * mask if mode == "train" else x), (dropout_param, mask)
        def dropout_backward(dout, cache):
            dropout_param, mask = cache
            return dout * mask if dropout_param["mode"] == "train" else dout
    '''))
    from nn_harness.sandbox.loading import load_implementation

    impl = load_implementation(str(path))
    layer = adapters.adapt(impl, "cs231n").module.Dropout(0.9)
    x = np.ones((200, 100))
    assert 0.85 < np.mean(layer.forward(x) == 0) < 0.95  # torch's p = 0.9 drops 90%, the course's p read as drop
    assert any("p is the drop probability (its docstring" in line for line in adapters.describe(impl, "cs231n"))


# --------------------------------------------------------------------------------- errors attributed right

def test_adapter_errors_name_the_students_method():
    with pytest.raises(CheckFailure, match=r"Dropout.getParameters\(\) returned a list of 2: \[float 0.5, an array of "
                                           r"shape \(3,\).*expected a list of parameter arrays"):
        flatten([0.5, np.zeros(3)], what="Dropout.getParameters()")
    with pytest.raises(CheckFailure, match=r"batchnorm_backward returned an array of shape \(1, 4\) and dtype float64 "
                                           r"for a parameter of shape \(4,\)"):
        add_into(np.zeros(4), np.zeros((1, 4)), "batchnorm_backward")


def test_traceback_location_is_the_students_deepest_frame(tmp_path):
    path = tmp_path / "student_code.py"
    path.write_text("import numpy as np\ndef forward(x):\n    return np.dot(x, np.ones((5, 2)))  # wrong shape\n")
    namespace = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)  # noqa: S102 - the test's own file
    with pytest.raises(CheckFailure) as failure:
        call("Linear.forward", namespace["forward"], np.ones((2, 3)))
    assert f"at {path}:3: return np.dot(x, np.ones((5, 2)))" in str(failure.value)


# ---------------------------------------------------------------- the worked example of docs/adapters.md

SUBMISSION = '''
import numpy as np

class Dense:
    def __init__(self, n_in, n_out):
        self.W, self.b = np.random.randn(n_out, n_in) * 0.1, np.zeros(n_out)
        self.dW, self.db = np.zeros_like(self.W), np.zeros_like(self.b)
        self.training = True
    def fprop(self, x):
        return x @ self.W.T + self.b
    def bprop(self, x, dy):
        self.dW, self.db = dy.T @ x, {db}   # overwritten, as the course's template does
        return dy @ self.W
    def params(self):      return [self.W, self.b]
    def grads(self):       return [self.dW, self.db]
    def clear_grads(self): self.dW[...] = 0; self.db[...] = 0
    def train_mode(self):  self.training = True
    def eval_mode(self):   self.training = False

class Rectifier:
    training = True
    def fprop(self, x):    return np.maximum(x, 0)
    def bprop(self, x, dy): return dy * (x > 0)
    def params(self):      return []
    def grads(self):       return []
    def train_mode(self):  self.training = True
    def eval_mode(self):   self.training = False
'''


def run_worked_example(tmp_path, db):
    profile = tmp_path / "mycourse.toml"
    profile.write_text(re.search(r"```toml\n(# mycourse.toml\n.*?)```", DOCS.read_text(), re.S).group(1))
    student = tmp_path / "student.py"
    student.write_text(SUBMISSION.format(db=db))
    xml, grade = tmp_path / "junit.xml", tmp_path / "results.json"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(ROOT / "tests"), "--ignore", str(ROOT / "tests" / "meta"), "--rootdir",
         str(ROOT), "-p", "no:cacheprovider", "-n", "2", "--profile", "dev", f"--impl={student}",
         f"--api={profile}", "-m", "Linear or ReLU or Conv2d", f"--junitxml={xml}", f"--grade-json={grade}"],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    outcomes = {}
    for case in ET.parse(xml).getroot().iter("testcase"):
        status = "failed" if case.find("failure") is not None else "skipped" if case.find("skipped") is not None \
            else "passed"
        outcomes[case.get("name")] = status
    return result, outcomes, json.loads(grade.read_text())


@pytest.mark.slow
def test_worked_example_grades_a_new_course_with_no_harness_change(tmp_path):
    result, outcomes, data = run_worked_example(tmp_path, "dy.sum(0)")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "api: mycourse (mycourse.toml) (requested)" in data["output"]  # by its name: never a path of the grader
    # overwrite, float64: beyond the course, run for 0 points (JUnit keeps their outcome; the exit code does not)
    beyond = {test["name"]: test for test in data["tests"] if "beyond the course" in test.get("tags", ())}
    assert beyond["Linear: gradients accumulate"]["max_score"] == 0
    assert beyond["Linear: float32 preserved"]["max_score"] == 0
    assert outcomes["test_backward_matches_torch[Linear]"] == "passed"
    assert outcomes["test_forward_matches_torch[Conv2d]"] == "skipped"  # not expressible
    assert data["score"] == data["max_score"] > 0 and data["extra_data"]["max_contract"] > data["max_score"]


@pytest.mark.slow
def test_worked_example_finds_a_bug_on_its_own_layer(tmp_path):
    result, outcomes, data = run_worked_example(tmp_path, "dy[0]")
    assert result.returncode == 1
    failed = {name for name, status in outcomes.items() if status == "failed"}
    assert failed and all(name.endswith("[Linear]") for name in failed)
    assert "a parameter gradient sums over the batch" in result.stdout
    assert "reproduce: pytest" in result.stdout and "--api mycourse.toml" not in result.stdout.replace(
        str(tmp_path / "mycourse.toml"), "")  # the reproduce line names the profile by the path given
    linear = next(test for test in data["tests"] if test["name"] == "Linear: backward matches torch")
    assert "reproduce: pytest --impl student.py --api mycourse.toml " in linear["output"], linear["output"]  # by names


def test_parse_keeps_what_the_data_says():
    profile = parse({"name": "x", "driver": "torch7", "names": {"Linear": "Dense"},
                     "constructors": {"Linear": ["in_features", "out_features"]}}, "inline")
    assert profile.arguments("Linear", (3, 2), {}) == [3, 2]
    with pytest.raises(adapters.NotExpressible, match=r"Linear\(bias=False\)"):
        profile.arguments("Linear", (3, 2), {"bias": False})


def test_a_driver_registered_through_the_entry_point_group_works_like_a_shipped_one(tmp_path):
    """A third party's package (here: a dist-info folder on the path) registers a driver for course functions."""
    (tmp_path / "fndriver.py").write_text(textwrap.dedent('''
        from nn_harness.sandbox.adapters import Adapter, Layer

        class Relu(Layer):
            def __init__(self, fn):
                self.fn = fn

            def _forward(self, input):
                return self.fn(input)

        class Functions(Adapter):
            binders = {"ReLU": lambda m, names, profile: lambda: Relu(getattr(m, names[0]))}
    '''))
    info = tmp_path / "fndriver-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fndriver\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[nn_harness.drivers]\nfunctions = fndriver:Functions\n")
    profile = write(tmp_path, 'name = "fn"\ndriver = "functions"\n[names]\nReLU = "relu"\n')
    script = (f"import sys, types, numpy as np; from nn_harness.sandbox import adapters; "
              f"p = adapters.profile_for({str(profile)!r}); m = types.ModuleType('course'); "
              f"m.relu = lambda x: np.maximum(x, 0); ns = adapters.adapter_for(p).namespace(m); "
              f"print(ns.ReLU().forward(np.array([-1.0, 2.0])).tolist())")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": f"{tmp_path}:{ROOT}"})
    assert done.stdout.strip() == "[0.0, 2.0]", done.stderr[-2000:]
