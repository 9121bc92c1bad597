"""Layers: the core never imports Qt, and front ends reach the core only through the facade.

Front ends (the desktop app in ``app/``, the CLI in ``assistant/cli/``, the API server in ``assistant/server/``) may
import the facade (``assistant.core``), the values it hands out (``assistant.events``, ``assistant.errors``,
``assistant.config``; ``assistant.doctor``, whose Qt check must run before anything else is opened) and
nothing else of the core at run time; imports under ``if TYPE_CHECKING:`` name types only and are allowed.
Benchmark commands measure the core's insides on purpose and may import ``assistant.benchmarks``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "assistant"
FRONT_ENDS = [*(ROOT / "app").rglob("*.py"), *(CORE / "cli").rglob("*.py"), *(CORE / "server").rglob("*.py")]
FACADE = ("assistant.core", "assistant.events", "assistant.errors", "assistant.config", "assistant.cli",
          "assistant.doctor")
MEASURING = ("assistant.benchmarks",)


def _imports(tree: ast.AST) -> list[str]:
    """Module names imported at run time (``if TYPE_CHECKING:`` blocks skipped)."""
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", "")) == "TYPE_CHECKING":
            node.body = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names += [node.module] if node.module != "assistant" else [f"assistant.{a.name}" for a in node.names]
    return names


def test_core_does_not_import_qt() -> None:
    offenders = []
    for path in CORE.rglob("*.py"):
        names = _imports(ast.parse(path.read_text(encoding="utf-8")))
        offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in ("PySide6", "app")]
    assert offenders == []


def test_front_ends_use_only_the_facade() -> None:
    offenders = []
    for path in FRONT_ENDS:
        allowed = FACADE + (MEASURING if "bench" in path.stem else ())
        if path.parent.name == "server":  # the API server's modules use each other
            allowed += ("assistant.server",)
        for name in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if name.split(".")[0] == "assistant" and name != "assistant.__version__" and not name.startswith(allowed):
                offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert offenders == [], "front ends must go through the Assistant facade:\n" + "\n".join(offenders)
