"""`nn-harness` / `python -m harness`: grade an implementation (default: impl/) with the whole layer suite.

Any argument it does not know is passed on to pytest, e.g. `nn-harness --impl alice.py -m Conv2d -x`.
`nn-harness grade-all SUBMISSIONS --out RESULTS` grades a class's folder and `nn-harness gradebook RESULTS...`
merges results folders (harness/batch.py, docs/classroom.md).
"""

import argparse
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["grade-all"], ["gradebook"]):
        from harness import batch

        return batch.main(argv)
    parser = argparse.ArgumentParser(prog="nn-harness", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--impl", default=None, help="module name, .py file or package folder (default: impl)")
    parser.add_argument("-n", "--workers", default="auto", help="pytest-xdist workers (default: auto; 0 for none)")
    args, pytest_args = parser.parse_known_args(argv)
    command = [str(ROOT / "tests"), "--ignore", str(ROOT / "tests" / "meta"), "--rootdir", str(ROOT),
               "-q", "-n", args.workers, *(["--impl", args.impl] if args.impl else []), *pytest_args]
    return int(pytest.main(command))


if __name__ == "__main__":
    sys.exit(main())
