"""Small real documents (PDF, DOCX, EPUB) written by code, for the knowledge tests and the bad-input corpus."""

from __future__ import annotations

from pathlib import Path


def build_pdf(pages: list[list[str]]) -> bytes:
    """A minimal valid PDF with one text line per string (Helvetica), so pypdf has real text to extract."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [%s] /Count %d >>"
               % (" ".join(f"{4 + 2 * i} 0 R" for i in range(len(pages))).encode(), len(pages)),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    for i, lines in enumerate(pages):
        shown = b"".join(b"(%s) Tj T* " % line.encode() for line in lines)
        stream = b"BT /F1 12 Tf 14 TL 72 720 Td " + shown + b"ET"
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                       b"/Resources << /Font << /F1 3 0 R >> >> >>" % (5 + 2 * i))
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out


def build_docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_heading("Quarterly Report", level=1)
    document.add_paragraph("Revenue grew because the otter sanctuary sold more tickets.")
    document.add_heading("Risks", level=2)
    document.add_paragraph("The main risk is a shortage of fish for the otters.")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "region", "north"
    document.save(str(path))
    return path


def build_epub(path: Path) -> Path:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("hearth-test")
    book.set_title("Lighthouse Tales")
    book.set_language("en")
    chapter = epub.EpubHtml(title="Keeper", file_name="keeper.xhtml", lang="en")
    chapter.content = ("<html><body><h1>The Keeper</h1>"
                       "<p>The lighthouse keeper polished the lens at dusk.</p></body></html>")
    book.add_item(chapter)
    book.toc = (chapter,)
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", chapter]
    epub.write_epub(str(path), book)
    return path
