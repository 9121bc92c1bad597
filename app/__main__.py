"""The ``hearth`` entry point: no arguments opens the desktop app; anything else is the CLI."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        from assistant.doctor.qt import check

        # Before Qt is imported: a missing system library makes Qt abort (or the import fail) with no hint.
        qt = check()
        if not qt.ok:
            print(qt.message(), file=sys.stderr)
            return 1
        from app.main_window import run

        return run()
    from assistant.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
