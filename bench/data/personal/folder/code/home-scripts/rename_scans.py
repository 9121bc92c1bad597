#!/usr/bin/env python3
"""Tidy up files from the scanner app.

The app names files like "Scan 2025-01-21 at 10.14.33.pdf". This moves them into
~/Documents/Scans/<year>/ as "2025-01-21_<label>.pdf", where the label is typed in
(or "scan" by default). Duplicates get -2, -3, ... appended.

Usage: rename_scans.py [--dry-run] [--label LABEL] [FILES...]
"""
import argparse
import re
import shutil
from pathlib import Path

INBOX = Path.home() / "Downloads"
DEST_ROOT = Path.home() / "Documents" / "Scans"
DEFAULT_LABEL = "scan"
SCAN_RE = re.compile(r"^Scan (\d{4})-(\d{2})-(\d{2}) at (\d{2})\.(\d{2})\.(\d{2})\.(pdf|jpg|png)$", re.I)


def slugify(label: str) -> str:
    """Lower-case, spaces to hyphens, drop anything that isn't a letter, digit or hyphen."""
    label = re.sub(r"\s+", "-", label.strip().lower())
    return re.sub(r"[^a-z0-9-]", "", label) or DEFAULT_LABEL


def target_for(path: Path, label: str) -> Path | None:
    m = SCAN_RE.match(path.name)
    if not m:
        return None
    year, month, day, *_rest, ext = m.groups()
    base = DEST_ROOT / year / f"{year}-{month}-{day}_{slugify(label)}"
    candidate = base.with_suffix(f".{ext.lower()}")
    n = 2
    while candidate.exists():
        candidate = base.with_name(f"{base.name}-{n}").with_suffix(f".{ext.lower()}")
        n += 1
    return candidate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", type=Path)
    ap.add_argument("--label", default=DEFAULT_LABEL)
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args()
    files = args.files or sorted(INBOX.glob("Scan *"))
    for f in files:
        dest = target_for(f, args.label)
        if dest is None:
            print(f"skip (not a scanner file): {f.name}")
            continue
        print(f"{f.name} -> {dest.relative_to(DEST_ROOT)}")
        if not args.dry_run:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(f), dest)


if __name__ == "__main__":
    main()
