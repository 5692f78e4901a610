"""The visual report (--html): what a mismatch's picture shows, how its arrays travel from the process that ran the
check to the controller, the page (self-contained, every failure with its pictures, the verdict as the terminal
shows it), the page in a real headless browser, and `nn_harness.check` for notebooks.

The fast tests build pieces and pages directly; the slow ones grade examples/native_buggy in a subprocess (under
pytest-xdist, so the arrays cross from a worker to the controller) and open its page in Chromium when one is
installed: that test also writes docs/report.png, the README's picture.
"""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import nn_harness
from nn_harness import notebook_check
from nn_harness.cases.registry import Tolerance
from nn_harness.checks.compare import Mismatch, assert_close, take_mismatch
from nn_harness.report import evidence, html_page
from nn_harness.run import verdicts
from nn_harness.sandbox.student import CheckFailure

ROOT = Path(__file__).resolve().parents[2]
BUGGY = ROOT / "examples" / "native_buggy" / "layers.py"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
DATA_PNG = re.compile(r'<img alt="([^"]*)" src="data:image/png;base64,([A-Za-z0-9+/=]+)">')


def mismatch(expected: np.ndarray, got: np.ndarray) -> Mismatch:
    """The mismatch assert_close keeps for the report when `got` fails against `expected`."""
    take_mismatch()
    with pytest.raises(CheckFailure) as failure:
        assert_close("grad of input", got, expected, Tolerance(1e-6, 1e-9))
    found = take_mismatch()
    assert found is not None and found.message == str(failure.value)
    return found


# ------------------------------------------------------------------------------------------------ what is shown

def test_an_image_batch_shows_the_worst_sample_channel_by_channel() -> None:
    expected = np.random.default_rng(0).normal(size=(3, 2, 5, 6))
    got = expected.copy()
    got[2, 1, 3, 4] += 1.0
    shown = evidence.piece(mismatch(expected, got))
    np.testing.assert_array_equal(shown.expected, expected[2])
    np.testing.assert_array_equal(shown.got, got[2])
    assert shown.worst == (1, 3, 4) and shown.labels == ("channel 0", "channel 1")
    assert shown.shown.startswith("sample 2 of 3 (the worst), channel by channel")


@pytest.mark.parametrize(("shape", "worst", "panel_shape"), [
    ((7,), (5,), (1, 1, 7)),  # a vector: one row
    ((4, 3), (2, 1), (1, 4, 3)),  # a matrix: as it is
    ((2, 3, 4), (1, 2, 3), (1, 3, 4)),  # rank 3: the 2-D slice through the worst element
    ((2, 2, 2, 3, 4), (1, 0, 1, 2, 3), (1, 3, 4)),
])
def test_other_ranks_show_a_row_the_matrix_or_the_worst_slice(shape, worst, panel_shape) -> None:
    expected = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)
    got = expected.copy()
    got[worst] = -100.0
    shown = evidence.piece(mismatch(expected, got))
    assert shown.expected.shape == panel_shape
    assert shown.got[shown.worst] == -100.0 and shown.expected[shown.worst] == expected[worst]


def test_a_large_array_is_cut_around_its_worst_element() -> None:
    expected = np.zeros((2, 10, 300, 200))
    got = expected.copy()
    got[1, 9, 290, 7] = 1.0
    shown = evidence.piece(mismatch(expected, got))
    assert shown.expected.size <= evidence.MAX_ELEMENTS and shown.got[shown.worst] == 1.0
    assert shown.labels == ("channel 6", "channel 7", "channel 8", "channel 9")
    assert "channels 6-9 of 10, rows 172-299 of 300, columns 0-127 of 200" in shown.shown


def test_a_passing_comparison_keeps_nothing() -> None:
    take_mismatch()
    assert_close("output", np.ones(3), np.ones(3), Tolerance(1e-6, 1e-9))
    assert take_mismatch() is None


# ------------------------------------------------------------------------------------------------ the journey

@pytest.fixture
def state(tmp_path: Path) -> Path:
    (tmp_path / verdicts.EVIDENCE).mkdir()
    return tmp_path / verdicts.EVIDENCE


def test_saved_arrays_are_read_back_as_data_only(state: Path) -> None:
    shown = evidence.piece(mismatch(np.eye(3), np.eye(3).T * 2))
    np.savez(state / ("a" * 20 + ".npz"), expected=shown.expected, got=shown.got, worst=np.array(shown.worst))
    meta = {"file": "a" * 20 + ".npz", "what": shown.what, "shown": shown.shown, "labels": shown.labels}
    loaded = evidence.load_piece(state, json.dumps(meta))
    assert loaded is not None and loaded.worst == shown.worst
    np.testing.assert_array_equal(loaded.got, shown.got)
    # A pickled object array is refused (allow_pickle=False), and so is any name this module did not write.
    np.savez(state / ("b" * 20 + ".npz"), expected=np.array([object()], dtype=object), got=shown.got, worst=np.zeros(3))
    assert evidence.load_piece(state, json.dumps({**meta, "file": "b" * 20 + ".npz"})) is None
    for name in ("../" + "a" * 20 + ".npz", "/etc/passwd", "x.npz"):
        assert evidence.load_piece(state, json.dumps({**meta, "file": name})) is None
    assert evidence.load_piece(state, "not json") is None


# ------------------------------------------------------------------------------------------------ the page

def assert_self_contained(page: str) -> None:
    """Nothing loaded from anywhere: every src and href a data: URI or an anchor (no http(s) URL, no file), no
    script, no stylesheet link, frame or embedded object, nothing imported by the style sheet. (The messages are
    escaped text: a tag or attribute in them is not one of the page's.)"""
    links = re.findall(r"""\b(?:src|href)\s*=\s*["']?([^"'\s>]*)""", page, re.IGNORECASE)
    assert links and all(link.startswith(("data:image/png;base64,", "#")) for link in links), links
    assert not re.search(r"<(script|link|iframe|object|embed)\b", page, re.IGNORECASE)
    style = re.search(r"<style>(.*?)</style>", page, re.DOTALL)[1]
    assert "url(" not in style and "@import" not in style


def test_the_page_shows_each_failure_with_its_pictures_and_loads_nothing() -> None:
    shown = evidence.piece(mismatch(np.arange(6.0).reshape(2, 3), np.arange(6.0).reshape(2, 3)[::-1]))
    failure = html_page.Failure("Linear: backward matches torch", "grad of weight differs <&>", [shown])
    page = html_page.page(title="nn-harness: 1 / 2 points", header=["implementation: layers.py"],
                          table=[("Linear   0 / 1 passed", "failed"), ("TOTAL    0 / 1 passed", "total")],
                          failures=[failure], curves=[("MLP end to end", b"\x89PNG\r\n\x1a\nfake")])
    assert "grad of weight differs &lt;&amp;&gt;" in page
    assert '<span class="failed">Linear   0 / 1 passed</span>' in page
    images = DATA_PNG.findall(page)
    assert [alt for alt, _ in images] == ["expected, got and difference of grad of input", "learning curves of MLP end to end"]
    assert base64.b64decode(images[0][1]).startswith(evidence.PNG_SIGNATURE)
    assert_self_contained(page)


def test_pictures_are_capped_per_page(monkeypatch: pytest.MonkeyPatch) -> None:
    """A submission failing everything gets its messages, but only the first pictures (each takes a second)."""
    monkeypatch.setattr(html_page, "MAX_PICTURES", 2)
    shown = evidence.piece(mismatch(np.zeros((1, 2)), np.ones((1, 2))))
    failures = [html_page.Failure(f"Layer{i}: forward matches torch", f"message {i}", [shown]) for i in range(3)]
    page = html_page.page(title="t", header=[], table=[], failures=failures, curves=[])
    assert len(DATA_PNG.findall(page)) == 2
    assert "message 2" in page and "pictures are drawn for the first 2 mismatches" in page


# ------------------------------------------------------------------------------------------------ a real run

def text_of(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", page))


# With --dist loadgroup (CI's), xdist runs the tests of a group on one worker: the module fixture runs once, not per worker.
ONE_REPORT = pytest.mark.xdist_group("buggy_report")


@pytest.fixture(scope="module")
def buggy_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict, str]:
    """examples/native_buggy graded on Linear and ReLU, under xdist (-n 1: a worker runs the checks, the controller
    writes the page): the page, results.json and the terminal output."""
    folder = tmp_path_factory.mktemp("html")
    page, grade = folder / "report.html", folder / "results.json"
    run = subprocess.run([sys.executable, "-m", "nn_harness", "--impl", str(BUGGY), "-m", "Linear or ReLU", "-n", "1",
                          "--profile", "dev", "--html", str(page), "--grade-json", str(grade), "-p", "no:cacheprovider"],
                         capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert run.returncode == 1, run.stdout + run.stderr
    return page.read_text(encoding="utf-8"), json.loads(grade.read_text()), run.stdout


@pytest.mark.slow
@ONE_REPORT
def test_a_buggy_submissions_page_has_every_failure_and_its_heat_maps(buggy_report) -> None:
    page, results, stdout = buggy_report
    failed = [test for test in results["tests"] if test.get("status") == "failed"]
    assert len(failed) >= 4
    for test in failed:  # every failure's message, as results.json gives it
        assert html.escape(test["output"]) in page, test["name"]
    images = dict(DATA_PNG.findall(page))
    assert "expected, got and difference of grad of bias" in images  # the bias gradient taken from sample 0 only
    assert all(base64.b64decode(data).startswith(evidence.PNG_SIGNATURE) for data in images.values())
    verdict = stdout.split(" verdict per layer ")[1].splitlines()[1:]
    for line in verdict[:verdict.index(next(line for line in verdict if line.startswith("TOTAL"))) + 1]:
        assert line in text_of(page)  # the verdict table, as the terminal shows it
    assert_self_contained(page)


def browser() -> str | None:
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


@pytest.mark.slow
@ONE_REPORT
def test_the_page_renders_in_a_headless_browser_without_console_errors(buggy_report, tmp_path: Path) -> None:
    executable = browser()
    if executable is None:
        pytest.skip(f"no headless browser to render the page with: none of {', '.join(BROWSERS)} is on PATH "
                    "(apt-get install chromium)")
    page = tmp_path / "report.html"
    page.write_text(buggy_report[0], encoding="utf-8")
    shot = tmp_path / "report.png"
    common = [executable, "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars",
              f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0"]
    dom = subprocess.run([*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr
    assert dom.stdout.count("<img") == buggy_report[0].count("<img") >= 3
    assert "Verdict per layer" in dom.stdout and "grad of bias differs" in dom.stdout
    drawn = subprocess.run([*common, f"--screenshot={shot}", "--window-size=1100,1500", page.as_uri()],
                           capture_output=True, text=True, timeout=120)
    assert drawn.returncode == 0 and shot.is_file(), drawn.stderr
    for log in (dom.stderr, drawn.stderr):  # the page's console: nothing logged, no error
        assert not [line for line in log.splitlines() if ":CONSOLE" in line], log
    from matplotlib.image import imread

    pixels = imread(shot)[..., :3]
    colourful = (pixels.max(axis=-1) - pixels.min(axis=-1)) > 0.3  # the heat maps (text is grey, red or green)
    assert pixels.std() > 0.05 and colourful.sum() > 2000, "the screenshot shows no picture"
    shutil.copy(shot, ROOT / "docs" / "report.png")  # the README's picture


# ------------------------------------------------------------------------------------------------ nn_harness.check

def test_check_takes_a_path_or_a_module_and_refuses_what_it_cannot_grade(tmp_path: Path) -> None:
    module = ModuleType("layers")
    module.__file__ = str(BUGGY)
    assert notebook_check._target(module) == str(BUGGY) == notebook_check._target(BUGGY)
    package = ModuleType("pkg")
    package.__file__ = str(ROOT / "impl" / "__init__.py")
    assert notebook_check._target(package) == str(ROOT / "impl")
    with pytest.raises(TypeError, match="pass the path of the .py file or notebook"):
        notebook_check._target(ModuleType("__main__"))
    with pytest.raises(FileNotFoundError):
        notebook_check._target(tmp_path / "missing.py")
    assert notebook_check._marker(["Linear", "ReLU"]) == "Linear or ReLU" and notebook_check._marker("Conv2d") == "Conv2d"
    for bad in ([], ["Linear or not ReLU"], [3]):
        with pytest.raises(ValueError, match="names as in the registry"):
            notebook_check._marker(bad)


@pytest.mark.slow
def test_check_grades_one_layer_and_shows_the_report() -> None:
    result = nn_harness.check(BUGGY, layers=["ReLU"], args=["--profile", "dev"])
    assert not result.passed and 0 < result.score < result.max_score == result.results["max_score"]
    assert str(result) == repr(result) and str(result).splitlines()[0].startswith("ReLU ")
    assert "FAILED: backward matches finite differences; inputs not modified" in str(result)
    assert "TOTAL" in str(result).splitlines()[-1]
    assert result._repr_html_().startswith("<!DOCTYPE html>") and "ReLU: inputs not modified" in result._repr_html_()
    with pytest.raises(RuntimeError, match="no check was collected"):
        nn_harness.check(BUGGY, layers=["NoSuchLayer"])
