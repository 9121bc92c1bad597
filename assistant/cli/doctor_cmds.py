"""``hearth doctor``: check the install and the data, say what to do, and repair what Hearth can."""

from __future__ import annotations

import argparse

from assistant.cli.context import CliContext, err, print_json

MARKS = {"ok": "✓", "warning": "!", "problem": "✗"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="check models, stores, history, memory, disk and desktop libraries")
    p.add_argument("--repair", action="store_true", help="run the repairs Hearth can do itself, then check again")
    p.add_argument("--json", action="store_true", help="print the findings as JSON on stdout")
    p.set_defaults(func=cmd_doctor)


def cmd_doctor(args: argparse.Namespace, ctx: CliContext) -> int:
    assistant = ctx.open(checking=True)
    findings = assistant.doctor()
    if args.repair:
        for finding in [f for f in findings if f.repair]:
            err(f"repairing: {finding.message}")
            said = ""
            for progress in assistant.repair(finding):  # each step once ("reading" came at every batch)
                if progress.message and progress.message not in ("scanning done", said):
                    said = progress.message
                    err(f"  {said}")
        findings = assistant.doctor()
    if args.json:
        print_json([f.to_dict() for f in findings])
    else:
        for f in findings:
            fix = f"\n    → {f.fix}" if f.fix and f.status != "ok" else ""
            print(f"{MARKS[f.status]} {f.area}: {f.message}{fix}")
        if any(f.repair for f in findings) and not args.repair:
            print("Some of these Hearth can repair itself: `hearth doctor --repair`.")
    return 1 if any(f.status == "problem" for f in findings) else 0
