"""HTML articles: boilerplate removed with trafilatura, metadata from the head, a <p> fallback.

`blocks_from_tree` is shared by Markdown, NINJS bodies and NewsML inline XHTML: it turns any element tree
(lxml or ElementTree) into paragraphs, block by block.
"""

from __future__ import annotations

import re
from typing import Any

import lxml.html
from lxml import etree

from zhimei.library.text.doc import ExtractedDoc, ExtractError, Paragraph, first_text, language_tag, parse_date
from zhimei.library.text.encoding import clean_text, decode_text, join_lines

__all__ = ["extract_html", "blocks_from_tree", "html_fragment_paragraphs", "decode_html", "parse_html"]

_SKIP = {"script", "style", "noscript", "template", "head", "title", "meta", "link", "svg", "math", "button",
         "select", "option", "textarea", "iframe", "object", "embed", "canvas", "audio", "video", "picture",
         "source", "track", "map", "input", "body.head", "body.end"}
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6", "hl1", "hl2"}
_LEAF = _HEADINGS | {"p", "pre", "figcaption", "caption", "dt", "dd", "address", "summary", "legend"}
_CELL_ROW = {"tr", "row"}
_CELLS = {"td", "th", "cell"}
_CONTAINERS = {"html", "body", "div", "section", "article", "main", "header", "footer", "nav", "aside", "ul",
               "ol", "dl", "li", "item", "list", "table", "thead", "tbody", "tfoot", "blockquote", "quote",
               "figure", "details", "center", "form", "fieldset", "hr", "block", "body.content", "nitf",
               "doc", "inlinexml", "menu", "dir", "hgroup", "search"} | _CELLS | _CELL_ROW
_BREAK = {"br", "lb"}
# page furniture removed before extraction (a header/footer inside the article is the article's own)
_PRUNE = ["//nav", "//aside", "//form", "//menu", "//footer[not(ancestor::article)]",
          "//header[not(ancestor::article) and not(ancestor::main)]",
          '//*[@role="navigation" or @role="banner" or @role="contentinfo" or @role="complementary"]']


def _name(el: Any) -> str | None:
    tag = el.tag
    if not isinstance(tag, str):
        return None  # comment, processing instruction, entity
    return tag.rsplit("}", 1)[-1].lower()


def _inline(el: Any, out: list[str]) -> None:
    """Text of an element and its descendants (not its tail); <br> is a line break, skipped tags vanish."""
    name = _name(el)
    if name in _SKIP:
        return
    if name in _BREAK:
        out.append("\n")
        return
    if name is not None and el.text:
        out.append(el.text)
    for child in el:
        _inline(child, out)
        if child.tail:
            out.append(child.tail)


def _has_block(el: Any) -> bool:
    for child in el:
        name = _name(child)
        if name in _LEAF or name in _CONTAINERS or name in _CELL_ROW:
            return True
        if name not in _SKIP and name is not None and _has_block(child):
            return True
    return False


def blocks_from_tree(root: Any) -> list[Paragraph]:
    """Paragraphs of an element tree: one per block element (p, h1–h6, li, table row, pre…).

    Loose text between blocks becomes a paragraph of its own. Headings get meta {"heading": level}.
    """
    out: list[Paragraph] = []
    buf: list[str] = []

    def flush() -> None:
        text = join_lines(clean_text("".join(buf)))
        buf.clear()
        if text:
            out.append(Paragraph(text))

    def leaf(el: Any, name: str) -> None:
        parts: list[str] = []
        _inline(el, parts)
        text = join_lines(clean_text("".join(parts))) if name != "pre" else _pre(parts)
        if text:
            meta: dict[str, Any] = {}
            if name in _HEADINGS:
                meta["heading"] = int(name[-1]) if name[-1].isdigit() else 1
            out.append(Paragraph(text, meta))

    def row(el: Any) -> None:
        cells = []
        for cell in el:
            parts: list[str] = []
            _inline(cell, parts)
            t = join_lines(clean_text("".join(parts)))
            if t:
                cells.append(t)
        if cells:
            out.append(Paragraph(" | ".join(cells), {"table": True}))

    def visit(el: Any) -> None:
        name = _name(el)
        if name is None or name in _SKIP:
            return
        if name in _BREAK:
            buf.append("\n")
            return
        if name in _LEAF:
            flush()
            leaf(el, name)
            return
        if name in _CELL_ROW and not any(_has_block(c) for c in el):
            flush()
            row(el)
            return
        if name in _CONTAINERS:
            flush()
            if name in ("li", "item", "dd", "blockquote", "quote") + tuple(_CELLS) and not _has_block(el):
                leaf(el, name)
                return
            if el.text:
                buf.append(el.text)
            for child in el:
                visit(child)
                if child.tail:
                    buf.append(child.tail)
            flush()
            return
        # inline element (or unknown tag): its text flows into the current paragraph
        if el.text:
            buf.append(el.text)
        for child in el:
            visit(child)
            if child.tail:
                buf.append(child.tail)

    visit(root)
    flush()
    return out


def _pre(parts: list[str]) -> str:
    text = clean_text("".join(parts))
    lines = [re.sub(r"[^\S\n]+", " ", ln).rstrip() for ln in text.split("\n")]
    return join_lines("\n".join(lines))


_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)


def decode_html(data: bytes) -> str:
    """HTML bytes → text, honouring a BOM, then UTF-8, then the <meta charset>, then GB18030/Big5."""
    m = _META_CHARSET.search(data[:4096])
    declared = m.group(1).decode("ascii", "ignore") if m else None
    return decode_text(data, declared=declared)


def parse_html(text: str) -> Any:
    """An lxml HTML document (never fetches anything); ExtractError when there is no markup at all."""
    text = _XML_DECL.sub("", text, count=1)
    if not text.strip():
        raise ExtractError("the HTML document is empty")
    try:
        return lxml.html.document_fromstring(text, parser=lxml.html.HTMLParser(no_network=True, recover=True,
                                                                               remove_comments=True))
    except (etree.ParserError, ValueError) as exc:
        raise ExtractError(f"the HTML cannot be parsed: {exc}") from None


def html_fragment_paragraphs(html: str) -> list[Paragraph]:
    """Paragraphs of a clean HTML fragment (a NINJS body, Markdown output): every block kept."""
    html = _XML_DECL.sub("", html, count=1)
    if not html.strip():
        return []
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div",
                                             parser=lxml.html.HTMLParser(no_network=True, recover=True,
                                                                         remove_comments=True))
    except (etree.ParserError, ValueError):
        return []
    return blocks_from_tree(root)


def _meta_content(tree: Any, *keys: str) -> str | None:
    for key in keys:
        for attr in ("property", "name", "itemprop", "http-equiv"):
            for el in tree.xpath(f'//meta[translate(@{attr}, "ABCDEFGHIJKLMNOPQRSTUVWXYZ", '
                                 f'"abcdefghijklmnopqrstuvwxyz")="{key}"]'):
                v = first_text(el.get("content"))
                if v:
                    return join_lines(clean_text(v))
    return None


def _head_meta(tree: Any) -> dict[str, Any]:
    titles = tree.xpath("//title")
    h1 = tree.xpath("//h1")
    h1_text = join_lines(clean_text(h1[0].text_content())) if h1 else None
    lang = first_text(tree.get("lang"), tree.get("{http://www.w3.org/XML/1998/namespace}lang"),
                      _meta_content(tree, "content-language", "dc.language", "language"),
                      (_meta_content(tree, "og:locale") or "").replace("_", "-"))
    keywords = _meta_content(tree, "keywords", "news_keywords")
    kw = [k.strip() for k in re.split(r"[,，、;；]", keywords) if k.strip()] if keywords else []
    kw += [t for el in tree.xpath('//meta[@property="article:tag"]') if (t := first_text(el.get("content")))]
    canonical = tree.xpath('//link[translate(@rel, "CANONICAL", "canonical")="canonical"]/@href')
    times = tree.xpath("//time/@datetime")
    author = _meta_content(tree, "author", "article:author", "dc.creator", "byl", "sailthru.author")
    if author and author.startswith(("http://", "https://")):
        author = None
    return {
        "og_title": _meta_content(tree, "og:title", "twitter:title", "dc.title", "headline"),
        "title": join_lines(clean_text(titles[0].text_content())) if titles else None,
        "h1": h1_text,
        "language": lang,
        "description": _meta_content(tree, "og:description", "description", "twitter:description"),
        "author": author,
        "keywords": list(dict.fromkeys(kw))[:100],
        "published": _meta_content(tree, "article:published_time", "datepublished", "pubdate", "publishdate",
                                   "date", "dc.date.issued", "dc.date", "og:published_time",
                                   "sailthru.date", "parsely-pub-date") or (times[0] if times else None),
        "url": first_text(canonical[0] if canonical else None, _meta_content(tree, "og:url")),
        "site": _meta_content(tree, "og:site_name", "application-name"),
        "section": _meta_content(tree, "article:section"),
    }


# trafilatura's comparison with fallback extractors and its date search grow faster than linearly: big pages
# get the fast mode, very big ones only the (linear) pruned-tree walk
FULL_EXTRACTION_CHARS = 1_000_000
FAST_EXTRACTION_CHARS = 5_000_000


def _trafilatura(text: str) -> tuple[list[Paragraph], Any]:
    import trafilatura

    full = len(text) <= FULL_EXTRACTION_CHARS
    try:
        doc = trafilatura.bare_extraction(text, fast=not full, with_metadata=full, include_comments=False,
                                          include_tables=True, include_images=False, include_links=False,
                                          deduplicate=False, prune_xpath=_PRUNE)
    except Exception:  # trafilatura raises assorted errors on odd markup; the <p> fallback covers it
        return [], None
    if doc is None or getattr(doc, "body", None) is None:
        return [], doc
    for head in doc.body.iter("head"):  # trafilatura writes headings as <head rend="h2">
        rend = (head.get("rend") or "").lower()
        head.tag = rend if rend in _HEADINGS else "h2"
    return blocks_from_tree(doc.body), doc


def extract_html(data: bytes) -> ExtractedDoc:
    """An HTML page → article paragraphs without navigation, footers and other boilerplate, plus metadata."""
    text = decode_html(data)
    tree = parse_html(text)
    head = _head_meta(tree)
    paras, tdoc = ([], None) if len(text) > FAST_EXTRACTION_CHARS else _trafilatura(_XML_DECL.sub("", text, count=1))
    doc = ExtractedDoc()
    if not paras:
        for xp in _PRUNE:
            for el in tree.xpath(xp):
                if el.getparent() is not None:
                    el.drop_tree()  # keeps the tail text
        body = tree.find("body")
        paras = blocks_from_tree(body if body is not None else tree)
        doc.meta["extractor"] = "lxml"
    else:
        doc.meta["extractor"] = "trafilatura"
    doc.paragraphs = paras
    doc.title = first_text(head["og_title"], getattr(tdoc, "title", None), head["title"], head["h1"])
    doc.language = language_tag(head["language"]) or language_tag(getattr(tdoc, "language", None))
    doc.published_at = parse_date(head["published"]) or parse_date(getattr(tdoc, "date", None))
    doc.set_meta("author", head["author"] or first_text(getattr(tdoc, "author", None)))
    doc.set_meta("description", head["description"] or first_text(getattr(tdoc, "description", None)))
    doc.set_meta("keywords", head["keywords"])
    doc.set_meta("source_url", head["url"])
    doc.set_meta("site", head["site"] or first_text(getattr(tdoc, "sitename", None)))
    doc.set_meta("section", head["section"])
    return doc
