#!/usr/bin/env bash
# Install (or remove) the CIFAR Studio bundle for the current user, no root needed:
#   bundle   -> ~/.local/opt/cifar-studio/          (+ ~/.local/bin/cifar-studio link)
#   launcher -> ~/.local/share/applications/cifar-studio.desktop  (menu entry, "Open with" for images)
#   icons    -> ~/.local/share/icons/hicolor/<size>/apps/cifar-studio.png
#
#   packaging/linux/install.sh [BUNDLE_DIR]     default BUNDLE_DIR: packaging/dist/CIFARStudio
#   packaging/linux/install.sh --uninstall
#
# PREFIX (default ~/.local) and XDG_DATA_HOME (default $PREFIX/share) move the targets.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
PREFIX=${PREFIX:-$HOME/.local}
DATA=${XDG_DATA_HOME:-$PREFIX/share}
APP_ID=cifar-studio
target="$PREFIX/opt/$APP_ID"
desktop="$DATA/applications/$APP_ID.desktop"

refresh() {
  command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$DATA/applications" || true
  # Icon caches are optional; refresh one only where it exists, so we never leave a stale one behind.
  touch "$DATA/icons/hicolor" 2>/dev/null || true
  if [ -f "$DATA/icons/hicolor/icon-theme.cache" ] && command -v gtk-update-icon-cache >/dev/null 2>&1; then
    gtk-update-icon-cache -q -f -t "$DATA/icons/hicolor" || true
  fi
}

if [ "${1:-}" = "--uninstall" ]; then
  rm -rf "$target"
  rm -f "$desktop" "$PREFIX/bin/$APP_ID"
  find "$DATA/icons/hicolor" -path "*/apps/$APP_ID.png" -delete 2>/dev/null || true
  refresh
  echo "Removed CIFAR Studio from $PREFIX"
  exit 0
fi

bundle="$(cd "${1:-$repo/packaging/dist/CIFARStudio}" && pwd)"
[ -x "$bundle/CIFARStudio" ] || { echo "no executable at $bundle/CIFARStudio: build with packaging/build.sh first" >&2; exit 2; }

# The bundle: copied next to the old one, then swapped, so a failed copy leaves the old one working.
mkdir -p "$PREFIX/opt" "$PREFIX/bin" "$DATA/applications"
rm -rf "$target.new"
cp -a "$bundle" "$target.new"
rm -rf "$target"
mv "$target.new" "$target"
ln -sfn "$target/CIFARStudio" "$PREFIX/bin/$APP_ID"

# Icons: from the bundle's resources (the same files as resources/icons/hicolor in the repository).
icons="$target/_internal/resources/icons/hicolor"
[ -d "$icons" ] || icons="$repo/resources/icons/hicolor"
for png in "$icons"/*/apps/$APP_ID.png; do
  size="$(basename "$(dirname "$(dirname "$png")")")"
  install -D -m 644 "$png" "$DATA/icons/hicolor/$size/apps/$APP_ID.png"
done

# The launcher, pointing at the installed executable by absolute path (~/.local/bin may not be on
# the desktop session's PATH).
sed "s|^Exec=.*|Exec=\"$target/CIFARStudio\" %F|" "$here/$APP_ID.desktop" > "$desktop"
chmod 644 "$desktop"
refresh
echo "Installed CIFAR Studio to $target"
echo "Menu entry: $desktop (it also appears under \"Open with\" for JPEG, PNG, WebP, BMP, TIFF and GIF images)"
