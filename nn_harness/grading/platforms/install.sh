#!/usr/bin/env bash
# Install nn-harness from the sdist beside this script into PYTHON's environment (default: python), with the
# pinned CPU build of torch first: from PyPI, `pip install nn-harness` would pull torch's multi-GB CUDA build.
# Shared by Gradescope's setup.sh and GitHub Classroom's workflow (docs/classroom.md).
#
# TORCH_INDEX_URL: the index torch comes from (default: PyTorch's CPU index); set it empty to use pip's own index.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
PYTHON="${1:-python}"
TORCH_INDEX_URL="${TORCH_INDEX_URL-https://download.pytorch.org/whl/cpu}"

"$PYTHON" -m pip install --disable-pip-version-check "@TORCH@" ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}
# Editable, from the unpacked sdist: the harness runs the suite in tests/ beside harness/ with the pytest settings
# of its pyproject.toml, which an installed wheel would not have.
SDIST="$HERE/@SDIST@"
tar -xzf "$SDIST" -C "$HERE"
"$PYTHON" -m pip install --disable-pip-version-check -e "${SDIST%.tar.gz}"
