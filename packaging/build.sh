#!/usr/bin/env bash
# Build CIFAR Studio's one-folder bundle with PyInstaller: packaging/dist/CIFARStudio/
#
#   packaging/build.sh                 (from any folder; extra arguments go to PyInstaller)
#
# Uses $CIFAR_STUDIO_PYTHON when set, else the active virtual environment ($VIRTUAL_ENV), else
# the repository's .venv, else python3, and installs the project's `pyinstaller` extra there when
# PyInstaller is missing. Takes 5-8 minutes on 2 cores. The bundle runs on machines without
# Python; it carries whatever torch the environment has (the registry's CUDA build: CUDA when
# present, CPU otherwise; a CPU-only torch gives a much smaller bundle, see packaging/README.md).
#
# Environment:
#   CIFAR_STUDIO_DIST        output folder (default packaging/dist)
#   CIFAR_STUDIO_WORK        PyInstaller's work folder (default packaging/build)
#   CIFAR_STUDIO_BUNDLE_TRIM=0  keep everything the hooks collect (for size comparisons)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -n "${CIFAR_STUDIO_PYTHON:-}" ]; then
  PY=$CIFAR_STUDIO_PYTHON
elif [ -n "${VIRTUAL_ENV:-}" ] && [ -x "$VIRTUAL_ENV/bin/python" ]; then
  PY="$VIRTUAL_ENV/bin/python"
elif [ -x .venv/bin/python ]; then
  PY=.venv/bin/python
elif [ -x .venv/Scripts/python.exe ]; then
  PY=.venv/Scripts/python.exe
else
  PY=python3
fi
DIST=${CIFAR_STUDIO_DIST:-packaging/dist}
WORK=${CIFAR_STUDIO_WORK:-packaging/build}

if ! "$PY" -c "import PyInstaller" >/dev/null 2>&1; then
  echo "Installing the pyinstaller extra into $("$PY" -c 'import sys; print(sys.prefix)')"
  "$PY" -m pip install --quiet -e ".[pyinstaller]"
fi
[ -f resources/models/cifar10_fastnet.pt ] \
  || echo "WARNING: resources/models/cifar10_fastnet.pt is missing; the bundle will have no default model" >&2

start=$(date +%s)
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath "$DIST" --workpath "$WORK" packaging/cifar_studio.spec "$@"

bundle="$DIST/CIFARStudio"
[ -d "$DIST/CIFAR Studio.app" ] && bundle="$DIST/CIFAR Studio.app"
echo "Built $bundle in $(( $(date +%s) - start )) s"
echo "Size: $(du -sh "$bundle" | cut -f1)"
