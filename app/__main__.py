"""The ``hearth`` entry point: the desktop app, or the CLI.

No arguments opens the window. Arguments that are all existing files or folders (or ``file://`` URLs, as a
file manager's "Open with Hearth" passes them through the desktop entry's ``%U``) open the window with those
paths to index, as if they had been dropped on it; when a window is running already they go to it instead
(``app.single_instance``). Anything else is the CLI: a command name always wins over a folder of that name
in the current directory (``hearth ask`` stays a command). The packaged app's single executable serves both.
"""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import unquote, urlparse


def gui_paths(argv: list[str]) -> list[Path] | None:
    """The paths to open the window with, or None when ``argv`` is a CLI command line."""
    paths: list[Path] = []
    for arg in argv:
        if arg.startswith("-"):
            return None
        path = _as_path(arg)
        if not path.exists():
            return None
        paths.append(path)
    if argv and argv[0] in command_names():
        return None
    return paths


def _as_path(arg: str) -> Path:
    """A path as typed, or a ``file://`` URL as a file manager passes it."""
    return Path(unquote(urlparse(arg).path)) if arg.startswith("file://") else Path(arg).expanduser()


def command_names() -> set[str]:
    """The CLI's command names (built only when every argument is an existing path: rare and cheap)."""
    import argparse

    from assistant.cli import build_parser

    actions = build_parser()._actions
    return {name for a in actions if isinstance(a, argparse._SubParsersAction) for name in a.choices}


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(sys.argv[1:] if argv is None else argv)
    except KeyboardInterrupt:  # Ctrl+C while the imports below run (a second or so), before the CLI's own handling
        print("hearth: interrupted", file=sys.stderr)
        return 130


def _missing_path(argv: list[str]) -> str | None:
    """The first argument when it names a file or folder (a path, not a command) that does not exist: `hearth
    ~/Notes` with a typo answered argparse's "invalid choice", as if it were a misspelt command."""
    first = argv[0] if argv else ""
    if not (first.startswith(("/", "~", ".", "file://")) or "/" in first):
        return None
    return None if _as_path(first).exists() else first


def _main(argv: list[str]) -> int:
    paths = gui_paths(argv)
    if paths is None and (missing := _missing_path(argv)) is not None:
        print(f"hearth: There is no file or folder {missing} to open the window with (`hearth --help` lists the "
              "commands).", file=sys.stderr)
        return 2
    if paths is not None:
        from assistant.doctor.qt import check

        # Before Qt is imported: a missing system library makes Qt abort (or the import fail) with no hint.
        qt = check()
        if not qt.ok:
            print(qt.message(), file=sys.stderr)
            return 1
        from app.import_hook import skip_feature_scan

        skip_feature_scan()  # before the window's own imports: each would have its source read (see there)
        from app.main_window import run

        return run(paths)
    from assistant.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
