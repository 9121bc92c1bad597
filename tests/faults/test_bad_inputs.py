"""A folder of hostile files indexed in one real `hearth index` run: the good files are searchable, every
bad one is listed with its own reason, nothing aborts the job, and memory stays bounded (peak RSS reported)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pypdf
import pytest
from documents import build_docx, build_pdf
from kill import ROOT

# Peak RSS from the kernel's high-water mark of this process's own memory (VmHWM): getrusage's ru_maxrss
# survives exec on Linux, so a child of a big pytest process would report the parent's size.
MEASURED = """
import re, sys
from pathlib import Path
from app.__main__ import main
code = main(sys.argv[1:])
print("peak-rss-kb", re.search(r"VmHWM:\\s+(\\d+)", Path("/proc/self/status").read_text())[1], file=sys.stderr)
sys.exit(code)
"""


def corpus(root: Path) -> dict[str, str]:
    """Write the corpus; returns bad file name -> a phrase its skip reason must contain."""
    root.mkdir()
    (root / "notes.md").write_text("# Lighthouse\n\nThe lighthouse door code is K7-REEF.\n")
    (root / "menu-latin1.txt").write_bytes("Le café crème est servi au garçon à Noël.\n".encode("latin-1"))
    (root / "umbrella-utf16.txt").write_bytes("The umbrella stand is in the hall.\n".encode("utf-16"))
    # PowerShell's `>` and some exporters write UTF-16 with no byte-order mark: it was skipped as "binary"
    (root / "coats-utf16le.txt").write_bytes("The duffel coats hang by the stairs.\r\n".encode("utf-16-le"))
    (root / "日本語のメモ.md").write_text("# Tokyo\n\nThe Tokyo garden has a koi pond.\n")
    # short legacy files: charset-normalizer read these as Mac Icelandic ("Ä100", "ƒrger") and Shift-JIS, and
    # UTF-8 with a pasted Latin-1 line as Windows-1250 ("BÃ¤ckerei")
    (root / "price-cp1252.txt").write_bytes("Price: €100 for the Ärger bundle.\n".encode("cp1252"))
    (root / "privet-koi8.txt").write_bytes("Привет, как дела? Всё хорошо.\n".encode("koi8-r"))
    (root / "bakery-mixed.txt").write_bytes("Die Bäckerei heißt Sonnenschein.\n".encode() +
                                            "Le gâteau est délicieux.\n".encode("latin-1"))
    (root / ("a-very-long-file-name-" * 10 + ".md")).write_text("The long name file mentions walruses.\n")
    build_docx(root / "report.docx")
    good_pdf = build_pdf([["Page one talks about volcanoes."], ["Page two explains glaciers."]])
    (root / "paper.pdf").write_bytes(good_pdf)

    (root / "binary.txt").write_bytes(bytes(range(256)) * 64)
    (root / "empty.txt").write_bytes(b"")
    (root / "truncated.pdf").write_bytes(good_pdf[: len(good_pdf) // 3])
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(good_pdf)))
    writer.encrypt("secret")
    with (root / "locked.pdf").open("wb") as fh:
        writer.write(fh)
    with zipfile.ZipFile(root / "bomb.docx", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open("word/document.xml", "w", force_zip64=True) as part:  # 600 MB of zeros, ~600 KB packed
            block = b"\0" * 2**20
            for _ in range(600):
                part.write(block)
    with (root / "huge.txt").open("wb") as fh:
        fh.truncate(50 * 2**20 + 1)  # sparse: one byte over the 50 MB limit, nothing actually written
    (root / "loop").symlink_to(root, target_is_directory=True)
    deep = root
    for _ in range(120):
        deep = deep / "d"
    deep.mkdir(parents=True)
    (deep / "bottom.txt").write_text("Too deep to reach.\n")
    return {"binary.txt": "binary", "empty.txt": "empty", "truncated.pdf": "PDF", "locked.pdf": "password",
            "bomb.docx": "zip bomb", "huge.txt": "larger than", "d": "nested more than"}


@pytest.mark.slow
def test_a_hostile_folder_indexes_what_it_can_and_says_why_for_the_rest(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    reasons = corpus(root)
    env = {**os.environ, "HEARTH_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", MEASURED, "index", str(root), "-c", "corpus", "--json"], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    result = json.loads(out.stdout)
    skipped = {Path(s["path"]).name: s["reason"] for s in result["skipped"]}
    for name, phrase in reasons.items():
        assert phrase in skipped.get(name, ""), (name, skipped)
    assert result["files"] == 11, result
    peak_mb = int(out.stderr.split("peak-rss-kb")[1].split()[0]) / 1024
    print(f"peak RSS while indexing the hostile corpus: {peak_mb:.0f} MB")
    assert peak_mb < 1500  # the 600 MB bomb is never unpacked, the 50 MB file never read

    expected = {"K7-REEF": "notes.md", "crème": "menu-latin1.txt", "umbrella": "umbrella-utf16.txt",
                "duffel coats": "coats-utf16le.txt", "koi pond": "日本語のメモ.md",
                "walruses": "a-very-long-file-name-", "otter": "report.docx", "glaciers": "paper.pdf",
                "Ärger": "price-cp1252.txt", "как дела": "privet-koi8.txt", "gâteau": "bakery-mixed.txt"}
    queries = "".join(json.dumps({"id": q, "text": q}) + "\n" for q in expected)
    found = subprocess.run([sys.executable, "-m", "app", "search", "--queries", "-", "-c", "corpus", "-k", "1"],
                           cwd=ROOT, env=env, input=queries, capture_output=True, text=True, timeout=300)
    answered = [json.loads(line) for line in found.stdout.splitlines()]
    assert [a["id"] for a in answered] == list(expected), found.stderr
    for a in answered:
        assert a["hits"] and Path(a["hits"][0]["path"]).name.startswith(expected[a["id"]]), a
    texts = {a["id"]: a["hits"][0]["text"] for a in answered}
    assert "Price: €100 for the Ärger bundle." in texts["Ärger"]
    assert "Привет, как дела? Всё хорошо." in texts["как дела"]
    assert "Die Bäckerei heißt Sonnenschein.\nLe gâteau est délicieux." in texts["gâteau"]
