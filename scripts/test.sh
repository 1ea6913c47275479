#!/usr/bin/env bash
# Set up everything on a fresh Linux machine with Python 3.10+ and run the whole test suite.
# This is the README's test command and what CI (.ci/run) runs.
#   scripts/test.sh            everything, including the slow end-to-end checks and the bundle build
#   scripts/test.sh -m "not slow and not bundle"    quick local run (any pytest arguments pass through)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${CIFAR_STUDIO_VENV:-.venv}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
# torch/torchvision come from the registry (CUDA builds; they run on the CPU when no GPU is present).
"$VENV/bin/python" -m pip install --quiet -e ".[dev,pyinstaller]"
# Qt's xcb platform plugin needs these system libraries even offscreen on a bare machine; install
# them when we can (root + apt), otherwise carry on: the tests use the offscreen platform.
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  missing=""
  for pkg in libegl1 libgl1 libxkbcommon0 libfontconfig1 libdbus-1-3 xvfb; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
  done
  if [ -n "$missing" ]; then
    apt-get install -y -qq $missing >/dev/null 2>&1 || (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq $missing >/dev/null 2>&1) || echo "note: could not install$missing"
  fi
fi
export QT_QPA_PLATFORM=${QT_QPA_PLATFORM:-offscreen}
"$VENV/bin/ruff" check engine gui tests packaging benchmarks scripts
"$VENV/bin/ruff" format --check engine gui tests packaging benchmarks scripts
"$VENV/bin/lint-imports"
exec "$VENV/bin/python" -m pytest "$@"
