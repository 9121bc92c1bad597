#!/bin/sh
# Install Hearth for this user from the unpacked archive (no root, no Python, no compiler needed):
#
#   tar --zstd -xf hearth-0.1.0-linux-x86_64.tar.zst && ./hearth-0.1.0-linux-x86_64/install.sh
#   ./install.sh --uninstall        (removes the app, the `hearth` command and the menu entry; keeps your data)
#
# The app goes to ~/.local/share/hearth-app (HEARTH_PREFIX overrides), the `hearth` command to ~/.local/bin
# (HEARTH_BIN_DIR), and the menu entry, icon and "Open with Hearth" for folders through `hearth install-desktop`.
# Your data is never inside the app folder: it lives in ~/.config/hearth, ~/.local/share/hearth and
# ~/.cache/hearth (or $HEARTH_HOME), so an update or an uninstall leaves it alone.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
DATA_HOME=${XDG_DATA_HOME:-$HOME/.local/share}
PREFIX=${HEARTH_PREFIX:-$DATA_HOME/hearth-app}
BIN_DIR=${HEARTH_BIN_DIR:-$HOME/.local/bin}

uninstall() {
    if [ -x "$PREFIX/hearth" ]; then
        "$PREFIX/hearth" install-desktop --remove || true
    fi
    if [ -L "$BIN_DIR/hearth" ]; then
        rm -f "$BIN_DIR/hearth"
    fi
    rm -rf "$PREFIX" "$PREFIX.new" "$PREFIX.old"
    echo "Hearth is uninstalled. Your data is still in ~/.config/hearth, $DATA_HOME/hearth and ~/.cache/hearth;"
    echo "delete those folders to remove it too."
}

if [ "${1:-}" = "--uninstall" ]; then
    uninstall
    exit 0
fi
if [ ! -x "$HERE/hearth" ] || [ ! -d "$HERE/_internal" ]; then
    echo "install.sh: run me from the unpacked Hearth folder (hearth and _internal/ next to me)." >&2
    exit 1
fi

# Copy next to the old version, then swap: a failed copy leaves the installed app as it was.
mkdir -p "$(dirname "$PREFIX")" "$BIN_DIR"
rm -rf "$PREFIX.new" "$PREFIX.old"
cp -a "$HERE/." "$PREFIX.new/"
if [ -e "$PREFIX" ]; then
    mv "$PREFIX" "$PREFIX.old"
fi
mv "$PREFIX.new" "$PREFIX"
rm -rf "$PREFIX.old"
ln -sfn "$PREFIX/hearth" "$BIN_DIR/hearth"

"$PREFIX/hearth" install-desktop --exec "$PREFIX/hearth"
echo "Installed Hearth $("$PREFIX/hearth" --version | cut -d' ' -f2) in $PREFIX; the command is $BIN_DIR/hearth."
case ":$PATH:" in
    *":$BIN_DIR:"*) ;;
    *) echo "Note: $BIN_DIR is not on your PATH; add it (e.g. in ~/.profile) to type \`hearth\` in a terminal." ;;
esac
echo "Start it from the application menu, or run \`hearth\`. Uninstall: $PREFIX/install.sh --uninstall"
