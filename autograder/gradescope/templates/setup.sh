#!/usr/bin/env bash
# nnzoo's Gradescope set-up (made by `nnzoo gradescope build`; assignment: @@ASSIGNMENT@@).
# Gradescope runs it once, as root, while it builds the image: the zip is in $ROOT/source.
#
# It installs a Python >= 3.11 of nnzoo's own beside the system python3 (which Gradescope's
# harness needs, unchanged: Ubuntu 22.04's is 3.10), a venv in /opt (not under /root: the
# sandbox's workers run as another user and must read the interpreter), the CPU-only
# torch from PyTorch's own index (PyPI's default build pulls CUDA: gigabytes), and nnzoo
# from source/nnzoo.  NNZOO_GS_SKIP_INSTALL=1 skips the installs (tests use their own venv).
set -euo pipefail

ROOT="${NNZOO_GS_ROOT:-/autograder}"
VENV="${NNZOO_GS_VENV:-/opt/nnzoo/venv}"
TORCH_VERSION="@@TORCH@@"
TORCH_INDEX="${NNZOO_GS_TORCH_INDEX:-https://download.pytorch.org/whl/cpu}"

if [ "${NNZOO_GS_SKIP_INSTALL:-0}" != 1 ]; then
    export DEBIAN_FRONTEND=noninteractive
    PY=""
    for version in 3.13 3.12 3.11; do
        if command -v "python$version" >/dev/null; then PY="python$version"; break; fi
    done
    apt-get update -qq
    if [ -z "$PY" ]; then
        # Ubuntu 22.04 has no released 3.11 package: the deadsnakes PPA builds it
        apt-get install -y -qq software-properties-common
        add-apt-repository -y ppa:deadsnakes/ppa
        apt-get update -qq
        PY=python3.11
        apt-get install -y -qq "$PY"
    fi
    apt-get install -y -qq "$PY-venv" libseccomp2
    umask 022  # everything installed readable by the workers' uids
    mkdir -p "$(dirname "$VENV")"
    "$PY" -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -q --index-url "$TORCH_INDEX" "torch==$TORCH_VERSION"
    "$VENV/bin/pip" install -q -e "$ROOT/source/nnzoo"
    # the data folders of packages the judge evaluates on (scikit-learn's digits: the transfer
    # task's held-out set) are closed to the workers; the packages themselves stay importable
    "$VENV/bin/python" -c "from autograder.worker.isolation import data_folders; print(*data_folders(), sep='\n')" \
        | while read -r folder; do chmod o-rwx "$folder"; done
fi

PYTHON="${NNZOO_GS_PYTHON:-$VENV/bin/python}"
# fail the build, not every submission, when the install cannot grade
NNZOO_ROOT="$ROOT/source/nnzoo" PYTHONPATH="$ROOT/source/nnzoo" "$PYTHON" -c \
    "import torch, autograder.gradescope.run; from autograder.course import assignment; assignment('@@ASSIGNMENT@@')"
echo "nnzoo: ready to grade @@ASSIGNMENT@@ with $PYTHON"
