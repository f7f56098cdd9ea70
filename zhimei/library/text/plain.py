"""Plain text and Markdown articles."""

from __future__ import annotations

import re

from zhimei.library.text.doc import ExtractedDoc, Paragraph, first_text, language_tag, parse_date
from zhimei.library.text.encoding import clean_text, decode_text, join_lines, split_paragraphs
from zhimei.library.text.html import html_fragment_paragraphs

__all__ = ["extract_txt", "extract_markdown"]


def extract_txt(data: bytes) -> ExtractedDoc:
    """Plain text: paragraphs are separated by blank lines; wrapped lines are joined (without spaces in Chinese)."""
    return ExtractedDoc(paragraphs=[Paragraph(t) for t in split_paragraphs(decode_text(data))])


_FRONT = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    """Simple `key: value` front matter (Jekyll/Hugo style) and the text after it."""
    m = _FRONT.match(text)
    if not m:
        return {}, text
    fields: dict[str, str] = {}
    for line in m.group(1).splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() and not key.startswith((" ", "\t", "-")):
            fields[key.strip().lower()] = value.strip().strip("'\"")
    return fields, text[m.end():]


# python-markdown takes ~5 µs a byte; beyond this, a line-based reading keeps big files to seconds
FULL_MARKDOWN_CHARS = 1_000_000
_MD_LINK = re.compile(r"!\[[^\]]*\]\([^)]*\)|\[([^\]]*)\]\([^)]*\)")
_MD_PREFIX = re.compile(r"^\s{0,3}(?:#{1,6}\s+|>\s?|[-*+]\s+|\d{1,9}[.)]\s+)+")
_MD_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+")
_MD_EMPHASIS = re.compile(r"(\*{1,3}|_{2,3}|`+|~~)(?=\S)(.+?)(?<=\S)\1")


def _markdown_lines(body: str) -> list[Paragraph]:
    """Large Markdown read directly: blank lines split, headings and list items stand alone, markup dropped."""
    out: list[Paragraph] = []
    current: list[str] = []

    def flush() -> None:
        for para in split_paragraphs("\n".join(current)):
            out.append(Paragraph(para))
        current.clear()

    for line in re.sub(r"<!--.*?-->", "", body, flags=re.S).split("\n"):
        if not line.strip() or line.lstrip().startswith(("```", "~~~", "---", "***", "|--", "| --")):
            flush()
            continue
        heading = _MD_HEADING.match(line)
        item = _MD_PREFIX.match(line)
        text = _MD_EMPHASIS.sub(r"\2", _MD_LINK.sub(r"\1", line[item.end():] if item else line))
        if heading or (item and not line.lstrip().startswith(">")):
            flush()
            if heading:
                out.append(Paragraph(join_lines(text), {"heading": len(heading.group(1))}))
                continue
        current.append(text)
    flush()
    return [p for p in out if p.text]


def extract_markdown(data: bytes) -> ExtractedDoc:
    """Markdown → HTML (python-markdown) → paragraphs; the title is the front matter's or the first heading."""
    import markdown

    text = clean_text(decode_text(data))
    front, body = _front_matter(text)
    if len(body) > FULL_MARKDOWN_CHARS:
        doc = ExtractedDoc(paragraphs=_markdown_lines(body))
    else:
        html = markdown.markdown(body, extensions=["extra", "sane_lists"], output_format="html")
        doc = ExtractedDoc(paragraphs=html_fragment_paragraphs(html))
    headings = [p for p in doc.paragraphs if p.meta.get("heading")]
    top = min((p.meta["heading"] for p in headings), default=None)
    first_heading = next((p.text for p in headings if p.meta["heading"] == top), None)
    doc.title = first_text(front.get("title"), first_heading)
    doc.language = language_tag(front.get("lang") or front.get("language"))
    doc.published_at = parse_date(front.get("date") or front.get("published"))
    doc.set_meta("author", first_text(front.get("author"), front.get("byline")))
    doc.set_meta("description", first_text(front.get("description"), front.get("summary")))
    tags = front.get("tags") or front.get("keywords") or ""
    keywords = (t.strip().strip("'\"").strip() for t in re.split(r"[,，、]", tags.strip("[]")))
    doc.set_meta("keywords", [k for k in keywords if k])
    doc.set_meta("source_url", first_text(front.get("url"), front.get("source_url")))
    return doc
