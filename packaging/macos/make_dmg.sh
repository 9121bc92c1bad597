#!/bin/sh
# macOS: build Hearth.app with the same spec (its BUNDLE step) and wrap it in a disk image. Not tested: no Mac here.
#
#   packaging/macos/make_dmg.sh          -> dist/Hearth.app, dist/Hearth-VERSION.dmg
#
# Needs: a Mac with Xcode's command-line tools, `make setup models` done (llama-cpp-python builds with Metal by
# default on Apple silicon), and optionally packaging/macos/hearth.icns (see packaging/README.md for making it from
# resources/icons/hearth.svg). Signing and notarisation (codesign --deep --options runtime, notarytool) need an
# Apple developer identity and are left to whoever releases: an unsigned app must be opened with right-click > Open.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
.venv/bin/pip install -q -e '.[package]'
.venv/bin/pyinstaller --noconfirm --distpath dist --workpath build/pyinstaller packaging/hearth.spec
VERSION=$(dist/hearth/hearth --version | cut -d' ' -f2)
STAGE=build/dmg
rm -rf "$STAGE" && mkdir -p "$STAGE"
cp -R dist/Hearth.app "$STAGE/"
ln -s /Applications "$STAGE/Applications"
hdiutil create -volname "Hearth $VERSION" -srcfolder "$STAGE" -ov -format UDZO "dist/Hearth-$VERSION.dmg"
echo "dist/Hearth-$VERSION.dmg"
