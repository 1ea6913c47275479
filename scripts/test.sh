#!/usr/bin/env bash
# Set up everything on a fresh Linux machine with Python 3.10+ and run the whole test suite.
# This is the README's test command and what CI (.ci/run) runs.
#   scripts/test.sh            everything, including the slow end-to-end checks and the bundle build
#   scripts/test.sh -m "not slow and not bundle"    quick local run (any pytest arguments pass through)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${CIFAR_STUDIO_VENV:-.venv}

# System packages the tests need: Qt's libraries (offscreen and X11: the bundle opens its window
# under Xvfb), Xvfb itself, binutils for PyInstaller; packaging/system_deps.py lists them. Installed
# with apt when we are root or have password-less sudo; otherwise the missing ones are named.
system_packages() {
  command -v dpkg >/dev/null 2>&1 || return 0
  local wanted missing="" sudo=""
  wanted=$("$PY" packaging/system_deps.py)
  "$PY" -c "import venv, ensurepip" >/dev/null 2>&1 || wanted="$wanted python3-venv"
  for pkg in $wanted; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
  done
  [ -n "$missing" ] || return 0
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; else
      echo "scripts/test.sh: missing system packages:$missing (install them: sudo apt-get install$missing)" >&2
      return 0
    fi
  fi
  echo "scripts/test.sh: installing system packages:$missing" >&2
  if ! { $sudo apt-get update -qq >/dev/null &&
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null; }; then
    echo "scripts/test.sh: could not install$missing; the tests that need them will fail" >&2
  fi
}
system_packages

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
# torch/torchvision come from the registry (CUDA builds; they run on the CPU when no GPU is present).
"$VENV/bin/python" -m pip install --quiet -e ".[dev,pyinstaller,export,bench]"
export QT_QPA_PLATFORM=${QT_QPA_PLATFORM:-offscreen}
"$VENV/bin/ruff" check engine gui tests packaging benchmarks scripts
"$VENV/bin/ruff" format --check engine gui tests packaging benchmarks scripts
"$VENV/bin/lint-imports"
exec "$VENV/bin/python" -m pytest "$@"
