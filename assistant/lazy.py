"""Packages that import their public names on first use (PEP 562), so a command pays only for what it uses."""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Callable
from typing import Any

#: Held while chromadb, mem0 or the API server's packages are imported, and while Chroma or mem0 open (both
#: import their parts at that moment). They share pydantic, whose modules import each other, and when two
#: threads import such a cycle at once CPython hands one of them a partially initialised module: "cannot
#: import name 'import_string' from partially initialized module 'pydantic._internal._validators'", seen once
#: in about seventeen window start-ups, when the start-up check and the two warm-ups opened Chroma and mem0
#: together. Torch is not imported under it: its import takes 10 s and more on two cores, shares no module
#: with these, and the first answer must not wait for it.
PYDANTIC_IMPORTS = threading.RLock()


def _marks_only() -> None:
    """chromadb marks its methods with the ``overrides`` package's ``@override``, which compares each one's
    signature with its base class's as the class is made: 0.2-0.35 s of chromadb's 0.65-0.9 s import on two
    cores, paid by every command that opens a knowledge or memory store and by the window's start. That check
    serves chromadb's own development; here ``@override`` only marks the method, which is all that
    ``EnforceOverrides`` reads. Done when this module is first imported, before anything imports chromadb."""
    try:
        import overrides
    except ImportError:  # a chromadb that no longer uses it
        return

    def override(method: Any = None, *, check_signature: bool = True, check_at_runtime: bool = False) -> Any:
        if method is None:  # @override(check_signature=False)
            return override
        method.__override__ = True
        return method

    overrides.override = overrides.overrides = override


_marks_only()


def lazy_exports(package: str, exports: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``exports`` maps a public name to the submodule defining it.

    The first lookup imports the submodule and stores the value in the package, so later ones are plain
    attribute reads."""

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{exports[name]}"), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
