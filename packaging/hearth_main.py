"""The packaged app's entry point: one ``hearth`` executable for the window and every CLI command.

It runs ``app.__main__.main`` like the ``hearth`` script of a source install. One extra: ``hearth -c CODE``
runs Python code as ``python -c`` would, because the core starts helper processes with
``[sys.executable, "-c", ...]`` (``hearth models draft`` quantizes in a child) and in the packaged app
``sys.executable`` is this program, not a Python interpreter.
"""

from __future__ import annotations

import sys


def _run_code(code: str, args: list[str]) -> int:
    sys.argv = ["-c", *args]
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    exec(compile(code, "<string>", "exec"), namespace)  # the python -c contract, for our own children
    return 0


if __name__ == "__main__":
    if getattr(sys, "frozen", False) and len(sys.argv) > 2 and sys.argv[1] == "-c":
        raise SystemExit(_run_code(sys.argv[2], sys.argv[3:]))
    from app.__main__ import main

    raise SystemExit(main())
