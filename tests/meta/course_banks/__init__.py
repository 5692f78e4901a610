"""Class-like banks of practical_dl homeworks, one per template year of yandexdataschool/Practical_DL homework01,
written the way real students write them (tests/meta/test_course_banks.py grades each bank as a class).

A year is one of OUR OWN correct examples turned into that year's template by exact text edits (`Year.template`:
the classes the template does not have removed, the template's own supplied code put back); each member is that
template with a few more exact text edits (the Mutant format of tests/meta/mutants.py, on modules.py). CORRECT
members are written differently, with the habits students have (gradients assigned, float64 outputs, scipy loops,
NumPy's old aliases, an unused `import torch`, the template's asserts kept) and must get full marks over what the
course grades; BUGGY members hold one realistic mistake in one course class (`Mutant.layer`: the contract row of that
class) and must fail checks of that class only.

An edit whose old text does not occur exactly once is an error of the bank (LookupError), never a silent pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from tests.meta.mutants import Mutant

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
FILE = "modules.py"


def replace_once(text: str, old: str, new: str, where: str) -> str:
    count = text.count(old)
    if count != 1:
        raise LookupError(f"{where}: the edit's old text occurs {count} times (expected once): {old[:200]!r}")
    return text.replace(old, new)


class Source:
    """One example's modules.py after the year's template edits: the text members edit, and exact pieces of it."""

    def __init__(self, example: str, edits: tuple[tuple[str, str], ...] = ()) -> None:
        self.example = example
        text = (EXAMPLES / example / FILE).read_text()
        for old, new in edits:
            text = replace_once(text, old, new, f"examples/{example}/{FILE} (template edit)")
        self.text = text

    def cls(self, name: str) -> str:
        """The whole `class name(...)` block, up to the next top-level statement or comment."""
        found = re.search(rf"^class {name}\(.*?(?=^\S)", self.text, re.MULTILINE | re.DOTALL)
        if found is None:
            raise LookupError(f"examples/{self.example}/{FILE} has no class {name}")
        return found.group(0).rstrip("\n") + "\n"

    def method(self, cls: str, method: str) -> str:
        """One method of one class, as an exact text to replace."""
        found = re.search(rf"^    def {method}\(.*?(?=^    \S|\Z)", self.cls(cls), re.MULTILINE | re.DOTALL)
        if found is None:
            raise LookupError(f"class {cls} of examples/{self.example}/{FILE} has no method {method}")
        return found.group(0).rstrip("\n") + "\n"

    def apply(self, member: Mutant) -> str:
        """The member's modules.py."""
        text = self.text
        for file, old, new in member.edits:
            assert file == FILE, (member.name, file)
            text = replace_once(text, old, new, f"bank member {member.name} on examples/{self.example}/{FILE}")
        return text


def edits(*pairs: tuple[str, str]) -> tuple[tuple[str, str, str], ...]:
    return tuple((FILE, old, new) for old, new in pairs)


IMPORT_TORCH = ("import numpy as np\n", "import numpy as np\nimport torch  # left over from comparing with torch\n")


@dataclass(frozen=True)
class Year:
    name: str
    templates: str  # which template versions of /tmp/research/practical_dl.md §0 it stands for
    source: Source
    correct: list[Mutant]
    buggy: list[Mutant]
    variants: dict[str, str] = field(default_factory=dict)  # layer -> the header's "variant <layer>: ..." text
    imports_torch: frozenset[str] = frozenset()  # members with an (unused) `import torch`
    absent: tuple[str, ...] = ()  # layers its template has no class for (the profile's [optional]): not graded

    def members(self) -> list[Mutant]:
        return [*self.correct, *self.buggy]
