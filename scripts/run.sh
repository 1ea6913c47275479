#!/usr/bin/env bash
# Set up everything on a fresh Linux machine with Python 3.10+ and launch CIFAR Studio.
# This is the README's run command. Arguments pass through (e.g. image files to classify).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${CIFAR_STUDIO_VENV:-.venv}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
# Installing is quick when nothing changed; the first time it fetches torch (several GB).
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e .
# Qt's X11 plugin needs system libraries that some desktops lack (libxcb-cursor0 first of all):
# stop with the package to install rather than Qt's abort (packaging/system_deps.py).
"$VENV/bin/python" packaging/system_deps.py --check "$@" || exit 1
exec "$VENV/bin/python" -m gui "$@"
