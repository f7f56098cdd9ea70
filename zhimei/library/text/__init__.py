"""Text extraction for articles: one function per format, all returning an ExtractedDoc.

`extract(data, mime)` picks the reader by MIME type. Readers never touch the database or the network.
"""

from __future__ import annotations

from collections.abc import Callable

from zhimei.library.text.doc import ExtractedDoc, ExtractError, Paragraph, parse_date

__all__ = ["extract", "ExtractedDoc", "ExtractError", "Paragraph", "parse_date", "SUPPORTED_MIMES"]

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
SUPPORTED_MIMES = ("text/html", "text/plain", "text/markdown", "application/pdf", DOCX,
                   "application/ninjs+json", "application/vnd.iptc.g2.newsitem+xml")


def extract(data: bytes, mime: str, *, max_expanded: int = 200 * 1024**2,
            tick: Callable[[float], None] | None = None) -> ExtractedDoc:
    """Paragraphs and metadata of a document of the given MIME type; ExtractError when it cannot be read."""
    if not data:
        raise ExtractError("the document is empty (0 bytes)")
    try:
        return _dispatch(data, mime, max_expanded, tick or (lambda _f: None))
    except RecursionError:
        raise ExtractError("the document is nested too deeply to read") from None


def _dispatch(data: bytes, mime: str, max_expanded: int, tick: Callable[[float], None]) -> ExtractedDoc:
    from zhimei.library.text import docs, html, newsml, ninjs, plain

    mime = (mime or "").split(";")[0].strip().lower()
    if mime in ("text/html", "application/xhtml+xml"):
        return html.extract_html(data)
    if mime == "text/markdown":
        return plain.extract_markdown(data)
    if mime == "text/plain":
        return plain.extract_txt(data)
    if mime == DOCX:
        return docs.extract_docx(data, max_expanded=max_expanded, tick=tick)
    if mime == "application/pdf":
        return docs.extract_pdf(data, tick=tick)
    if mime == "application/ninjs+json":
        return ninjs.extract_ninjs(data)
    if mime == "application/vnd.iptc.g2.newsitem+xml":
        return newsml.extract_newsml(data)
    raise ExtractError(f"no text reader for {mime or 'unknown type'}")
