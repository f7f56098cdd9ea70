"""Office documents: DOCX (python-docx) and PDF (pypdf, page by page)."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from typing import Any

from zhimei.library.text.doc import ExtractedDoc, ExtractError, Paragraph, first_text, language_tag, parse_date
from zhimei.library.text.encoding import clean_text, fix_cjk_radicals, is_cjk, join_lines

__all__ = ["extract_docx", "extract_pdf", "pdf_page_paragraphs"]

Tick = Callable[[float], None]


def _noop(_f: float) -> None:
    return None


def _check_zip(data: bytes, max_expanded: int) -> None:
    """Refuse archives that are corrupt, not Word documents, or expand far beyond their size (zip bombs)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            names = {i.filename for i in infos}
            expanded = sum(i.file_size for i in infos)
    except (zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise ExtractError(f"the DOCX file is corrupt (not a readable ZIP archive: {exc})") from None
    if "word/document.xml" not in names:
        raise ExtractError("the ZIP archive is not a Word document (no word/document.xml)")
    if expanded > max_expanded:
        raise ExtractError(f"the DOCX file expands to {expanded:,} bytes; the limit is {max_expanded:,}")


def extract_docx(data: bytes, *, max_expanded: int = 200 * 1024**2, tick: Tick = _noop) -> ExtractedDoc:
    """Paragraphs and table rows in document order; headings marked; title from core properties or first
    Title/Heading paragraph."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table
    from lxml.etree import LxmlError

    _check_zip(data, max_expanded)
    broken = (PackageNotFoundError, KeyError, ValueError, TypeError, AttributeError, IndexError, LxmlError,
              zipfile.BadZipFile, EOFError)
    try:
        document = docx.Document(io.BytesIO(data))
        doc, first_heading = _docx_blocks(document, Table)
        props = document.core_properties
        title, language, created = props.title, props.language, props.created
        author, subject, comments = props.author, props.subject, props.comments
        keywords, category = props.keywords, props.category
    except broken as exc:
        raise ExtractError(f"the DOCX file is corrupt: {type(exc).__name__}: {exc}") from None
    tick(0.8)
    doc.title = first_text(title, first_heading)
    doc.language = language_tag(language)
    created_at = parse_date(created)  # when the file was made (templates keep theirs), not when it was published
    doc.set_meta("created", created_at.isoformat() if created_at else None)
    doc.set_meta("author", first_text(author))
    doc.set_meta("description", first_text(subject, comments))
    doc.set_meta("keywords", [k.strip() for k in re.split(r"[,，;；]", keywords or "") if k.strip()])
    doc.set_meta("category", first_text(category))
    return doc


def _docx_blocks(document: Any, table_type: type) -> tuple[ExtractedDoc, str | None]:
    doc = ExtractedDoc()
    first_heading: str | None = None
    for block in document.iter_inner_content():
        if isinstance(block, table_type):
            for row in block.rows:
                cells: list[str] = []
                for cell in row.cells:
                    t = join_lines(clean_text(cell.text))
                    if t and (not cells or cells[-1] != t):  # merged cells repeat their text
                        cells.append(t)
                if cells:
                    doc.paragraphs.append(Paragraph(" | ".join(cells), {"table": True}))
            continue
        text = join_lines(clean_text(block.text))
        if not text:
            continue
        meta: dict[str, Any] = {}
        style = (block.style.name if block.style is not None else "") or ""
        if style == "Title" or style.startswith("Heading"):
            level = int(style.rsplit(" ", 1)[-1]) if style.rsplit(" ", 1)[-1].isdigit() else 1
            meta["heading"] = level
            if first_heading is None:
                first_heading = text
        doc.paragraphs.append(Paragraph(text, meta))
    return doc, first_heading


_TERMINAL = tuple(".!?。！？…:：”’\"')）】」』")


def _split_on_sentence_ends(lines: list[str]) -> list[str]:
    """Uniformly spaced lines: a line clearly shorter than the others that ends a sentence ends a paragraph."""
    if len(lines) < 3:
        return [join_lines("\n".join(lines))] if lines else []
    width = max(len(ln) for ln in lines)
    out: list[str] = []
    current: list[str] = []
    for i, ln in enumerate(lines):
        current.append(ln)
        ratio = 0.85 if any(is_cjk(c) for c in ln[:3]) else 0.75
        if i < len(lines) - 1 and len(ln) < ratio * width and ln.endswith(_TERMINAL):
            out.append(join_lines("\n".join(current)))
            current = []
    if current:
        out.append(join_lines("\n".join(current)))
    return out


def pdf_page_paragraphs(text: str, ys: list[float | None] | None = None) -> list[str]:
    """A page's text lines → paragraphs. Blank lines split; with line positions `ys` (one per line), a vertical
    gap clearly wider than the page's usual line spacing splits too; without any such gap, a short line that
    ends a sentence does."""
    lines = clean_text(text).split("\n")
    if ys is None or len(ys) != len(lines):
        ys = [None] * len(lines)
    steps = sorted(a - b for a, b in zip(ys, ys[1:], strict=False) if a is not None and b is not None and a > b)
    typical = steps[len(steps) // 4] if steps else None  # lower quartile: line spacing, not paragraph gaps
    blocks: list[list[str]] = [[]]
    gap_breaks = False
    prev_y: float | None = None
    for ln, y in zip(lines, ys, strict=True):
        if not ln.strip():
            if blocks[-1]:
                blocks.append([])
            continue
        if typical and prev_y is not None and y is not None and blocks[-1]:
            step = prev_y - y
            if step > 1.45 * typical or step < -typical:
                blocks.append([])
                gap_breaks = True
        blocks[-1].append(ln.strip())
        prev_y = y if y is not None else prev_y
    out: list[str] = []
    for block in blocks:
        if not block:
            continue
        out.extend(_split_on_sentence_ends(block) if not gap_breaks else [join_lines("\n".join(block))])
    return [p for p in out if p]


def _page_text(page: Any) -> tuple[str, list[float | None] | None]:
    """The page's text and, where pypdf reports it, the baseline height of each line."""
    parts: list[str] = []
    ys: list[float | None] = []
    line_y: list[float | None] = [None]

    def visit(text: str, cm: Any, tm: Any, _font: Any, _size: Any) -> None:
        if not text:
            return
        try:
            y = float(tm[4]) * float(cm[1]) + float(tm[5]) * float(cm[3]) + float(cm[5])
        except (TypeError, ValueError, IndexError):
            y = None
        pieces = text.split("\n")
        for k, piece in enumerate(pieces):
            if piece.strip() and line_y[0] is None:
                line_y[0] = y
            parts.append(piece)
            if k < len(pieces) - 1:
                parts.append("\n")
                ys.append(line_y[0])
                line_y[0] = None

    text = page.extract_text(visitor_text=visit) or ""
    ys.append(line_y[0])
    joined = "".join(parts)
    if clean_text(joined).strip() != clean_text(text).strip():
        return text, None  # the visitor saw something else than the text; positions cannot be trusted
    return joined, ys


def extract_pdf(data: bytes, *, tick: Tick = _noop) -> ExtractedDoc:
    """Text-layer PDFs, page by page (segment meta carries the page). A scan without text gives no paragraphs
    and a note; encrypted or corrupt files raise ExtractError."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError, PdfStreamError

    broken = (PdfReadError, PdfStreamError, ValueError, KeyError, TypeError, AttributeError, IndexError,
              AssertionError, OverflowError, RecursionError, EOFError, OSError, ZeroDivisionError)
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        encrypted = reader.is_encrypted
    except broken as exc:
        raise ExtractError(f"the PDF is corrupt or truncated: {exc}") from None
    if encrypted:
        try:
            opened = reader.decrypt("")
        except (DependencyError, NotImplementedError) as exc:
            raise ExtractError(f"the PDF is encrypted with a method that cannot be opened here: {exc}") from None
        except broken as exc:
            raise ExtractError(f"the PDF is encrypted and cannot be opened: {exc}") from None
        if not opened:
            raise ExtractError("the PDF is encrypted (password-protected); remove the password and ingest it again")
    try:
        pages = reader.pages
        n_pages = len(pages)
    except (FileNotDecryptedError, *broken) as exc:
        raise ExtractError(f"the PDF is corrupt or truncated (cannot read its page tree: {exc})") from None
    if n_pages == 0:
        raise ExtractError("the PDF has no pages")
    doc = ExtractedDoc()
    bad_pages: list[int] = []
    for i in range(n_pages):
        try:
            text, ys = _page_text(pages[i])
        except (FileNotDecryptedError, *broken):
            bad_pages.append(i + 1)
            continue
        for para in pdf_page_paragraphs(fix_cjk_radicals(text), ys):
            doc.paragraphs.append(Paragraph(para, {"page": i + 1}))
        tick((i + 1) / n_pages)
    if len(bad_pages) == n_pages:
        raise ExtractError("the PDF is corrupt: no page could be read")
    doc.meta["pages"] = n_pages
    doc.set_meta("unreadable_pages", bad_pages[:100])
    info = _pdf_info(reader)
    doc.title = info.get("title")
    doc.language = info.get("language")
    created = info.get("created")  # when the PDF was generated, which is not a publication time
    doc.set_meta("created", created.isoformat() if created else None)
    for key in ("author", "description", "keywords"):
        doc.set_meta(key, info.get(key))
    if not doc.paragraphs:
        doc.meta["note"] = "no text layer (scanned?)"
    return doc


def _pdf_info(reader: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        info = reader.metadata
    except Exception:  # a broken info dictionary never blocks the text
        info = None
    if info is not None:
        def get(key: str) -> str | None:
            try:
                v = info.get(key)
            except Exception:
                return None
            return join_lines(clean_text(fix_cjk_radicals(str(v)))) if v else None

        out["title"] = get("/Title")
        out["author"] = get("/Author")
        out["description"] = get("/Subject")
        kw = get("/Keywords")
        out["keywords"] = [k.strip() for k in re.split(r"[,，;；]", kw) if k.strip()] if kw else None
        try:
            out["created"] = parse_date(info.creation_date)
        except Exception:
            out["created"] = None
    try:
        root = reader.trailer["/Root"]
        out["language"] = language_tag(str(root.get("/Lang"))) if root.get("/Lang") else None
    except Exception:
        out["language"] = None
    return out
