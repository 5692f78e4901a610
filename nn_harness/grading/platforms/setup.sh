#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (its base images are Ubuntu):
# Python 3.11 (from the deadsnakes PPA when the image has none), a virtual environment in $AUTOGRADER_ROOT/venv,
# and nn-harness with the pinned CPU torch in it (install.sh). docs/classroom.md, "Gradescope".
#
# AUTOGRADER_ROOT (default /autograder) lets a test lay the autograder out elsewhere; NN_VENV_ARGS adds options
# to `python3.11 -m venv` (the meta-test uses --system-site-packages to reuse the packages already installed).
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
HERE="$(cd "$(dirname "$0")" && pwd)"

python311() {
  if ! command -v python3.11 >/dev/null; then
    {
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -q
      apt-get install -y -q software-properties-common
      add-apt-repository -y ppa:deadsnakes/ppa
      apt-get install -y -q python3.11 python3.11-venv
    } >&2
  fi
  command -v python3.11
}

# shellcheck disable=SC2086  # NN_VENV_ARGS is a list of options
"$(python311)" -m venv ${NN_VENV_ARGS:-} "$ROOT/venv"
bash "$HERE/install.sh" "$ROOT/venv/bin/python"
