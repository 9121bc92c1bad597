"""Make the single-file Linux distribution from the one-folder build: ``dist/hearth-VERSION-linux-ARCH.tar.zst``.

    .venv/bin/python packaging/archive.py [--build dist/hearth] [--level 10]

The archive holds one folder, ``hearth-VERSION-linux-ARCH/``: the build (``hearth`` and ``_internal/``) plus
``install.sh``. Symlinks inside the build (PyInstaller links shared libraries to where Python packages expect
them) stay symlinks. Compressed with the ``zstd`` program (multi-threaded) or, without it, the ``zstandard``
Python package. Why not an AppImage: its runtime (the small ELF that mounts the image) is not in any package
registry this project can reach, and building it needs a static libfuse3 + squashfuse; ``packaging/appimage.sh``
builds the AppDir and its squashfs and finishes the AppImage where that runtime or appimagetool is present.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant import __version__  # noqa: E402 - after the path above


def archive_name() -> str:
    return f"hearth-{__version__}-linux-{platform.machine()}"


def build_tar(build: Path, out: Path) -> None:
    name = archive_name()
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(build, arcname=name, recursive=True)  # symlinks are stored as symlinks (dereference=False)
        tar.add(ROOT / "packaging" / "install.sh", arcname=f"{name}/install.sh")


def compress(tar: Path, out: Path, level: int) -> None:
    if shutil.which("zstd"):
        subprocess.run(["zstd", "-q", "-f", f"-{level}", "-T0", str(tar), "-o", str(out)], check=True)
        return
    import zstandard  # the fallback where the zstd program is missing

    with tar.open("rb") as src, out.open("wb") as dst:
        zstandard.ZstdCompressor(level=level, threads=-1).copy_stream(src, dst)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=Path, default=ROOT / "dist" / "hearth")
    parser.add_argument("--level", type=int, default=10, help="zstd level (models barely compress: keep it fast)")
    args = parser.parse_args(argv)
    if not (args.build / "hearth").exists():
        print(f"archive: no build in {args.build}; run pyinstaller first (make package)", file=sys.stderr)
        return 2
    out = args.build.parent / f"{archive_name()}.tar.zst"
    tar = out.with_suffix("")  # .tar next to it, removed after compressing
    build_tar(args.build, tar)
    try:
        compress(tar, out, args.level)
    finally:
        tar.unlink(missing_ok=True)
    print(f"{out} ({out.stat().st_size / 1e6:.0f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
