"""A full disk (simulated with RLIMIT_FSIZE: a write past the limit fails with EFBIG, as ENOSPC would) during
indexing and during a chat: one clear error, no traceback, and every store still consistent afterwards."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from checks import assert_stores_agree
from fakes import FakeEmbedder
from kill import ROOT, start_child

from assistant.chat.history import History
from assistant.config import KnowledgeSettings
from assistant.knowledge import KnowledgeBase
from assistant.paths import get_paths

INDEX = """
    import sys
    from pathlib import Path
    from fakes import FakeEmbedder
    from assistant.config import KnowledgeSettings
    from assistant.errors import HearthError
    from assistant.knowledge import KnowledgeBase
    from assistant.paths import get_paths

    kb = KnowledgeBase(get_paths(), KnowledgeSettings(), embedder=FakeEmbedder())
    print("started", flush=True)
    try:
        for event in kb.index([Path(sys.argv[1])], "notes"):
            pass
    except HearthError as exc:
        print("error:", exc, flush=True)
"""


def test_disk_full_while_indexing(home: Path, tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    for i in range(300):
        (folder / f"note-{i:03}.md").write_text(f"# Note {i}\n\n" + f"Walk {i} went past the mill and the ford. " * 30)
    child = start_child(INDEX, home, str(folder), limit_bytes=400_000)
    out, err = child.communicate(timeout=180)
    assert child.returncode == 0 and "Traceback" not in err, err
    assert "error:" in out and "disk" in out.lower(), out

    monkeypatch.setenv("HEARTH_HOME", str(home))
    kb = KnowledgeBase(get_paths(), KnowledgeSettings(), embedder=FakeEmbedder())
    try:
        assert_stores_agree(kb.store, "notes")  # what was committed is whole; the rest is journalled
        events = list(kb.index([folder], "notes"))  # with space again, the same sync finishes the job
        assert events[-1].message == "done" and events[-1].done == 300
    finally:
        kb.close()


def _history_at_its_limit(home: Path) -> tuple[Path, int]:
    """A first chat saved, then the history's file and the size that leaves no room to save more."""
    env = {**os.environ, "HEARTH_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    first = subprocess.run([sys.executable, "-m", "app", "ask", "--no-memory", "--max-tokens", "8", "Hello."],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    db = home / "data" / "history.sqlite3"
    wal = db.with_name(db.name + "-wal")
    return db, db.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def test_disk_full_while_chatting(home: Path, monkeypatch) -> None:
    db, limit = _history_at_its_limit(home)
    child = start_child("""
        import sys
        from app.__main__ import main
        print("started", flush=True)
        sys.exit(main(["ask", "--no-memory", "--max-tokens", "64", "Tell me about the sea. " * 40]))
    """, home, limit_bytes=max(limit, 4096))
    _out, err = child.communicate(timeout=300)
    assert child.returncode not in (0, None) and "Traceback" not in err, err
    assert err.strip().splitlines()[-1].startswith("hearth: ") and "disk" in err.lower(), err

    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    monkeypatch.setenv("HEARTH_HOME", str(home))
    with History(get_paths().history_db) as history:
        titles = [c.title for c in history.list_conversations()]
        assert "Hello." in titles  # what was saved before the disk filled up is intact


def test_a_full_disk_in_hearth_chat_is_said_and_the_chat_goes_on(home: Path) -> None:
    """`hearth chat` ended with exit 1 once the history could not be written, the question just typed lost: it
    says why, says the question was not kept (typed, the Up arrow brings it back), and takes the next one."""
    _db, limit = _history_at_its_limit(home)
    child = start_child("""
        import io, sys
        from app.__main__ import main
        sys.stdin = io.StringIO("Tell me about the sea. " * 40 + "\\n" + "And the mountains? " * 40 + "\\n/quit\\n")
        sys.exit(main(["chat", "--no-memory", "--max-tokens", "8"]))
    """, home, limit_bytes=max(limit, 4096))
    out, err = child.communicate(timeout=300)
    # each said, the next one taken; at the end the exit status says they went unanswered (it was 0), and no Up
    # arrow is offered for lines read from a file or a pipe
    assert child.returncode == 1 and "Traceback" not in err, err
    assert "Up arrow" not in err and "hearth: 2 questions of this chat went unanswered" in err, err
    assert "disk" in err.lower() and out.count("you> ") == 3, out
