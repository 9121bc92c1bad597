"""Imports at their own speed once PySide6 is loaded.

Importing PySide6 replaces Python's ``__import__`` with one that, after every module imported from then on,
asks whether the module uses PySide's opt-in ``from __feature__ import snake_case, true_property``, by reading
its whole source with :func:`inspect.getsource`. The window imports the core, Chroma and mem0 after Qt, about a
thousand modules: importing them took 2.23 s with the scan, 1.81 s without it and 1.72 s with no PySide6 at all
(median of three runs each, alternating). Hearth uses no such feature, so every module is taken as one that
does not, which is what the answer would be for all but Hearth's own (and for those the answer only picks the
feature set that Hearth never switches on). Called once, before the rest of the app is imported; harmless where
PySide6 has no such hook.
"""

from __future__ import annotations

import sys


def skip_feature_scan() -> None:
    import PySide6.QtCore  # noqa: F401 - loads the hook this replaces the scan of

    feature = sys.modules.get("PySide6.support.feature")
    if feature is not None and callable(getattr(feature, "_mod_uses_pyside", None)):
        feature._mod_uses_pyside = lambda module: False
