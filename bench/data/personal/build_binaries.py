#!/usr/bin/env python3
"""Render the PDF and DOCX files of the personal test folder from their Markdown sources.

Each file in binary-sources/ starts with a small front matter block:

    ---
    output: documents/manuals/Some-Manual.pdf     (path under folder/; .pdf or .docx)
    title: Document title                          (PDF/DOCX metadata)
    footer: Text printed at the foot of each PDF page (optional)
    ---

The body uses a small Markdown subset: '#', '##', '###' headings, paragraphs (consecutive
lines are kept as separate lines of one block), '- ' bullets, '1. ' numbered items,
pipe tables (a first row of empty cells means "no header row"), **bold** inline, and a
line '\\pagebreak' for a hard page break.

PDFs use fpdf2 with the core Helvetica font (text must be Latin-1), DOCX files use
python-docx with Word's built-in heading, list and table styles.

Usage (needs fpdf2 and python-docx, e.g. in a throwaway venv):

    python3 -m venv /tmp/pdfgen && /tmp/pdfgen/bin/pip install fpdf2 python-docx pypdf
    /tmp/pdfgen/bin/python bench/data/personal/build_binaries.py
"""
from __future__ import annotations

import io
import re
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "binary-sources"
FOLDER = HERE / "folder"

# Characters outside Latin-1 that may slip into the sources, and their Latin-1 stand-ins.
REPLACEMENTS = {"\u2014": "-", "\u2013": "-", "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                "\u2026": "...", "\u2212": "-", "\u2022": "-", "\u00a0": " "}
FIXED_DATE = (2025, 2, 24)  # creation date written into the files, so rebuilds are reproducible


@dataclass
class Block:
    kind: str                      # h1 h2 h3 para bullet number table pagebreak
    lines: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    header: bool = True


def latin1(text: str) -> str:
    for bad, good in REPLACEMENTS.items():
        text = text.replace(bad, good)
    text.encode("latin-1")  # raises on anything the core fonts cannot show
    return text


def parse(path: Path) -> tuple[dict[str, str], list[Block]]:
    text = latin1(path.read_text(encoding="utf-8"))
    m = re.match(r"---\n(.*?)\n---\n", text, re.S)
    if not m:
        raise SystemExit(f"{path.name}: missing front matter")
    meta = dict(line.split(":", 1) for line in m.group(1).splitlines() if line.strip())
    meta = {k.strip(): v.strip() for k, v in meta.items()}
    blocks: list[Block] = []
    para: Block | None = None
    table: Block | None = None
    for raw in text[m.end():].splitlines():
        line = raw.rstrip()
        if not line.startswith("|"):
            table = None
        if not line:
            para = None
            continue
        if line == "\\pagebreak":
            para = None
            blocks.append(Block("pagebreak"))
            continue
        if h := re.match(r"(#{1,3}) (.*)", line):
            para = None
            blocks.append(Block(f"h{len(h.group(1))}", [h.group(2)]))
            continue
        if line.startswith("- "):
            para = None
            blocks.append(Block("bullet", [line[2:]]))
            continue
        if n := re.match(r"\d+\. (.*)", line):
            para = None
            blocks.append(Block("number", [n.group(1)]))
            continue
        if line.startswith("|"):
            para = None
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if all(re.fullmatch(r":?-+:?", c) for c in cells):
                continue  # separator row
            if table is None:
                table = Block("table", header=any(cells))
                blocks.append(table)
            table.rows.append(cells)
            continue
        if para is None:
            para = Block("para")
            blocks.append(para)
        para.lines.append(line)
    return meta, blocks


def runs(text: str) -> list[tuple[str, bool]]:
    """Split '**bold**' markup into (text, is_bold) runs."""
    parts = text.split("**")
    return [(p, i % 2 == 1) for i, p in enumerate(parts) if p]


def plain(text: str) -> str:
    return text.replace("**", "")


# ---------------------------------------------------------------- PDF

def build_pdf(meta: dict[str, str], blocks: list[Block], out: Path) -> int:
    from datetime import datetime, timezone

    from fpdf import FPDF

    footer_text = meta.get("footer", meta["title"])

    class Doc(FPDF):
        def footer(self) -> None:
            self.set_y(-13)
            self.set_font("Helvetica", "", 8)
            self.cell(0, 5, f"{footer_text} - Page {self.page_no()} of {{nb}}", align="C")

    pdf = Doc(format="A4")
    pdf.set_title(meta["title"])
    pdf.set_author("Hearth personal test set (fictional)")
    pdf.set_creation_date(datetime(*FIXED_DATE, tzinfo=timezone.utc))
    pdf.set_margins(20, 18, 20)
    pdf.set_auto_page_break(True, margin=20)
    pdf.add_page()
    body = 10.5
    line_h = 5.2

    def md(text: str) -> str:
        """Escape fpdf2's other markdown markers so that only **bold** is interpreted."""
        for marker in ("__", "--", "~~"):
            text = text.replace(marker, "\\" + marker)
        return text

    def col_widths(rows: list[list[str]]) -> list[float]:
        """Each column gets at least its longest word, the rest of the width goes by text length."""
        ncols = len(rows[0])
        pad = 2 * 1.2 + 1
        minw = [max(pdf.get_string_width(w) for r in rows for w in (plain(r[c]).split() or [""])) + pad
                for c in range(ncols)]
        want = [max(pdf.get_string_width(plain(r[c])) for r in rows) + pad for c in range(ncols)]
        spare = pdf.epw - sum(minw)
        extra = [max(0.0, w - m) for w, m in zip(want, minw)]
        if spare <= 0 or sum(extra) == 0:
            return minw
        if sum(extra) <= spare:  # everything fits on one line: share the leftover evenly
            return [m + e + (spare - sum(extra)) / ncols for m, e in zip(minw, extra)]
        return [m + spare * e / sum(extra) for m, e in zip(minw, extra)]

    for b in blocks:
        if b.kind == "pagebreak":
            # A hard break right after an automatic one would leave a nearly empty page: skip it.
            if pdf.get_y() > pdf.h * 0.3:
                pdf.add_page()
        elif b.kind in ("h1", "h2", "h3"):
            size = {"h1": 18, "h2": 14, "h3": 12}[b.kind]
            if pdf.get_y() > pdf.h - 45:  # keep a heading with the text that follows it
                pdf.add_page()
            pdf.ln(2 if b.kind == "h3" else 4)
            pdf.set_font("Helvetica", "B", size)
            pdf.multi_cell(0, size * 0.5, plain(b.lines[0]), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1.5)
        elif b.kind == "para":
            pdf.set_font("Helvetica", "", body)
            for line in b.lines:
                pdf.multi_cell(0, line_h, md(line), markdown=True, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
        elif b.kind in ("bullet", "number"):
            marker = "-" if b.kind == "bullet" else f"{_number_of(b, blocks)}."
            pdf.set_font("Helvetica", "", body)
            pdf.set_x(pdf.l_margin + 2)
            pdf.cell(6, line_h, marker)
            pdf.multi_cell(pdf.epw - 8, line_h, md(b.lines[0]), markdown=True, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1)
        elif b.kind == "table":
            ncols = max(len(r) for r in b.rows)
            rows = [r + [""] * (ncols - len(r)) for r in b.rows]
            if not b.header:
                rows = rows[1:]  # drop the empty placeholder header row
            pdf.set_font("Helvetica", "", 9)
            widths = col_widths(rows)
            total = min(sum(widths), pdf.epw - 0.01)
            pdf.ln(1)
            with pdf.table(col_widths=widths, text_align="LEFT", first_row_as_headings=b.header,
                           line_height=4.6, padding=1.2, width=total, align="LEFT") as table:
                for row in rows:
                    tr = table.row()
                    for cell in row:
                        tr.cell(plain(cell))
            pdf.ln(3)
    out.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(out))
    return pdf.pages_count


def _number_of(block: Block, blocks: list[Block]) -> int:
    """1-based position of a numbered item within its run of consecutive numbered items."""
    i = blocks.index(block)
    n = 1
    while i - n >= 0 and blocks[i - n].kind == "number":
        n += 1
    return n


# ---------------------------------------------------------------- DOCX

def build_docx(meta: dict[str, str], blocks: list[Block], out: Path) -> int:
    from datetime import datetime

    import docx
    from docx.enum.text import WD_BREAK
    from docx.shared import Pt

    d = docx.Document()
    d.core_properties.title = meta["title"]
    d.core_properties.author = "Hearth personal test set (fictional)"
    d.core_properties.created = datetime(*FIXED_DATE)
    d.core_properties.modified = datetime(*FIXED_DATE)
    d.styles["Normal"].font.name = "Calibri"
    d.styles["Normal"].font.size = Pt(11)

    def add_runs(par, text: str) -> None:
        for chunk, bold in runs(text):
            par.add_run(chunk).bold = bold

    tables = 0
    for b in blocks:
        if b.kind == "pagebreak":
            d.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        elif b.kind in ("h1", "h2", "h3"):
            d.add_heading(plain(b.lines[0]), level=int(b.kind[1]))
        elif b.kind == "para":
            par = d.add_paragraph()
            for i, line in enumerate(b.lines):
                if i:
                    par.add_run().add_break()
                add_runs(par, line)
        elif b.kind in ("bullet", "number"):
            par = d.add_paragraph(style="List Bullet" if b.kind == "bullet" else "List Number")
            add_runs(par, b.lines[0])
        elif b.kind == "table":
            ncols = max(len(r) for r in b.rows)
            rows = b.rows if b.header else b.rows[1:]
            t = d.add_table(rows=len(rows), cols=ncols)
            t.style = "Table Grid"
            for r, row in enumerate(rows):
                for c in range(ncols):
                    cell = t.cell(r, c)
                    cell.text = ""
                    add_runs(cell.paragraphs[0], row[c] if c < len(row) else "")
                    if r == 0 and b.header:
                        for run in cell.paragraphs[0].runs:
                            run.bold = True
            tables += 1
            d.add_paragraph()
    out.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    d.save(buf)
    _write_zip_with_fixed_dates(buf.getvalue(), out)
    return tables


def _write_zip_with_fixed_dates(data: bytes, out: Path) -> None:
    """Re-pack a DOCX with fixed member timestamps, so that rebuilding gives byte-identical files."""
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            info = zipfile.ZipInfo(item.filename, date_time=(*FIXED_DATE, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            dst.writestr(info, src.read(item.filename))


def main() -> None:
    sources = sorted(SOURCES.glob("*.md"))
    if not sources:
        raise SystemExit(f"no sources in {SOURCES}")
    for src in sources:
        meta, blocks = parse(src)
        out = FOLDER / meta["output"]
        if out.suffix == ".pdf":
            pages = build_pdf(meta, blocks, out)
            print(f"{src.name:32} -> {out.relative_to(HERE)} ({pages} pages)")
        elif out.suffix == ".docx":
            tables = build_docx(meta, blocks, out)
            print(f"{src.name:32} -> {out.relative_to(HERE)} ({tables} tables)")
        else:
            raise SystemExit(f"{src.name}: output must be .pdf or .docx, not {out.suffix}")


if __name__ == "__main__":
    sys.exit(main())
