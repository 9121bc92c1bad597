"""Hearth's PySide6 desktop shell: a thin layer over :mod:`assistant` (all work runs in the core)."""
