"""The harness's pytest entry point (pyproject.toml, `pytest11`): loaded by every pytest run where it is installed.

It only adds the harness's options (so pytest knows `--impl` however it is invoked) and, for a run given `--impl` that
pytest did not root in the harness's checkout (`pytest --impl /abs/layers.py` with a space, whose path pytest takes for
a test path before it knows the option, or any run from the student's folder), runs the harness's suite as
`nn-harness` builds it: its tests, its rootdir and conftest, node ids such as `tests/test_layers.py::...` resolved
against the harness. In the checkout, pytest runs as it always did. The suite's own plugins (nn_harness/run/plugin.py,
nn_harness/run/verdicts.py) are loaded by the checkout's conftest.py, only in runs of its tests.
"""

import pytest

from nn_harness.run.options import FLAGS, OPTIONS
from nn_harness.run.suite import ROOT, in_suite, run_suite, running


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("nn-harness", "NumPy layer verification")
    for name, (env, _, text) in OPTIONS.items():
        flag = {"nargs": "?", "const": "true"} if name in FLAGS else {}
        group.addoption(f"--{name.replace('_', '-')}", dest=name, default=None, help=f"{text} [env {env}]", **flag)


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    if config.getoption("impl") is None or config.getoption("help", False) or running():
        return None  # not a harness run, or the suite's own run (which roots itself in the checkout)
    here = config.invocation_params.dir
    if config.rootpath == ROOT and any(in_suite(arg, here) for arg in config.args):
        return None  # pytest found the suite itself (in the checkout)
    # This process may have imported the suite's plugins already (a conftest.py above the folder it was started in):
    # the run below cannot rewrite their asserts, and they have none to rewrite.
    return run_suite(["-W", "ignore::pytest.PytestAssertRewriteWarning", *config.invocation_params.args], workers=None)
