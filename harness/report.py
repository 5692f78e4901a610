"""The verdict per layer at the end of every run (works under pytest-xdist: it reads the reports' properties)."""

from collections import defaultdict

import pytest

from harness.registry import SPECS


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tag each check with its layer (from its `spec` parameter or its layer marker) and a readable name;
    mark it with the layer's name, so `-m Conv2d` selects one layer."""
    for item in items:
        spec = item.callspec.params.get("spec") if hasattr(item, "callspec") else None
        model = item.callspec.params.get("model") if hasattr(item, "callspec") else None
        layer = spec.name if spec else next((m.name for m in item.iter_markers() if m.name in SPECS), None)
        if model:
            layer = f"{model.upper()} end to end"
            item.add_marker(pytest.mark.end_to_end)
        elif layer is None:
            continue
        else:
            item.add_marker(getattr(pytest.mark, layer))
        check = item.originalname.removeprefix("test_").replace("_", " ")
        extra = [f"{k}={v}" for k, v in getattr(item, "callspec", None).params.items() if k != "spec"] \
            if hasattr(item, "callspec") else []
        item.user_properties += [("layer", layer), ("check", check + (f" ({', '.join(extra)})" if extra else ""))]


class Verdicts:
    def __init__(self) -> None:
        self.results: dict[str, dict[str, bool]] = defaultdict(dict)

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        if "layer" not in props or (report.when != "call" and not report.failed):
            return
        layer = self.results[props["layer"]]
        layer[props["check"]] = layer.get(props["check"], True) and report.passed

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.results:
            return
        terminalreporter.section("verdict per layer")
        order = [name for name in SPECS if name in self.results] + sorted(set(self.results) - set(SPECS))
        for name in order:
            checks = self.results[name]
            failed = [check for check, ok in checks.items() if not ok]
            line = f"{name:<18} {len(checks) - len(failed):>3} / {len(checks):<3} passed"
            terminalreporter.write_line(line + (f"   FAILED: {'; '.join(failed)}" if failed else ""),
                                        red=bool(failed), green=not failed)


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(Verdicts(), "nn-harness-verdicts")
