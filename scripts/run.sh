#!/usr/bin/env bash
# Set up everything on a fresh Linux machine with Python 3.10+ and launch CIFAR Studio.
# This is the README's run command. Arguments pass through (e.g. image files to classify).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${CIFAR_STUDIO_VENV:-.venv}
# pip runs only when what it installs from changed since the last install into this venv (the
# stamp holds a checksum of pyproject.toml and setup.py): launching takes no network and no
# seconds of pip otherwise. The install is editable, so code changes need none.
# CIFAR_STUDIO_REINSTALL=1 installs anyway.
STAMP="$VENV/.cifar-studio-install"
wanted_stamp() {
  cat pyproject.toml setup.py 2>/dev/null | cksum
}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
if [ "${CIFAR_STUDIO_REINSTALL:-0}" != 0 ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$(wanted_stamp)" ]; then
  # The first time it fetches torch (several GB).
  if "$VENV/bin/python" -m pip install --quiet --upgrade pip &&
    "$VENV/bin/python" -m pip install --quiet -e .; then
    wanted_stamp >"$STAMP"
  elif [ -f "$STAMP" ]; then
    echo "scripts/run.sh: could not update the installation (offline?); starting the installed version" >&2
  else
    echo "scripts/run.sh: installing CIFAR Studio into $VENV failed (see pip's message above)" >&2
    exit 1
  fi
fi
# Qt's X11 plugin needs system libraries that some desktops lack (libxcb-cursor0 first of all):
# stop with the package to install rather than Qt's abort (packaging/system_deps.py).
"$VENV/bin/python" packaging/system_deps.py --check "$@" || exit 1
exec "$VENV/bin/python" -m gui "$@"
