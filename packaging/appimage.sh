#!/bin/sh
# Turn the one-folder build into an AppImage: dist/Hearth-VERSION-ARCH.AppImage.
#
#   packaging/appimage.sh                      (after `make package`)
#
# An AppImage is a small ELF "runtime" followed by a squashfs image of an AppDir; the runtime mounts the image
# (FUSE) and runs its AppRun. This script builds the AppDir (AppRun, hearth.desktop, the icon, the build under
# usr/lib/hearth) and the squashfs (mksquashfs: Debian's squashfs-tools). The runtime itself is not in any package
# registry this project can reach, so it has to be supplied:
#   - appimagetool on PATH: it does the last two steps itself (and embeds its own runtime);
#   - or APPIMAGE_RUNTIME=/path/to/runtime-x86_64 (from the AppImage/type2-runtime releases): it is prepended here.
# Without either, the script stops after the squashfs and says so: not built or tested here (see README.md).
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/dist/hearth}
VERSION=$("$BUILD/hearth" --version | cut -d' ' -f2)
ARCH=$(uname -m)
APPDIR=$ROOT/build/Hearth.AppDir
OUT=$ROOT/dist/Hearth-$VERSION-$ARCH.AppImage

[ -x "$BUILD/hearth" ] || { echo "appimage.sh: no build in $BUILD (run make package)" >&2; exit 2; }
rm -rf "$APPDIR"
mkdir -p "$APPDIR/usr/lib"
cp -a "$BUILD" "$APPDIR/usr/lib/hearth"
cp "$ROOT/resources/icons/hearth.svg" "$APPDIR/hearth.svg"
ln -s hearth.svg "$APPDIR/.DirIcon"
cat > "$APPDIR/AppRun" <<'RUN'
#!/bin/sh
HERE=$(dirname "$(readlink -f "$0")")
exec "$HERE/usr/lib/hearth/hearth" "$@"
RUN
chmod +x "$APPDIR/AppRun"
cat > "$APPDIR/hearth.desktop" <<'DESKTOP'
[Desktop Entry]
Type=Application
Name=Hearth
GenericName=AI Assistant
Comment=A private AI assistant that works offline
Exec=hearth %U
Icon=hearth
Terminal=false
Categories=Utility;
MimeType=inode/directory;
StartupWMClass=hearth
DESKTOP

if command -v appimagetool >/dev/null 2>&1; then
    ARCH=$ARCH appimagetool --no-appstream "$APPDIR" "$OUT"
    echo "$OUT"
    exit 0
fi
command -v mksquashfs >/dev/null 2>&1 || { echo "appimage.sh: needs mksquashfs (apt install squashfs-tools)" >&2; exit 2; }
IMAGE=$ROOT/build/Hearth.squashfs
rm -f "$IMAGE"
nice -n 10 mksquashfs "$APPDIR" "$IMAGE" -root-owned -noappend -comp zstd -quiet -no-progress
if [ -z "${APPIMAGE_RUNTIME:-}" ] || [ ! -f "$APPIMAGE_RUNTIME" ]; then
    echo "appimage.sh: AppDir and squashfs are ready ($IMAGE, $(du -m "$IMAGE" | cut -f1) MB); set" >&2
    echo "APPIMAGE_RUNTIME to an AppImage type-2 runtime (or install appimagetool) to finish $OUT." >&2
    exit 3
fi
cat "$APPIMAGE_RUNTIME" "$IMAGE" > "$OUT"
chmod +x "$OUT"
echo "$OUT"
