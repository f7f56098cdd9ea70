"""Article stages. Importing this module registers `extract_text` (kind article).

extract_text: the original document (HTML, Markdown, TXT, DOCX, PDF, NINJS, NewsML-G2) → paragraph segments
with character offsets into the joined plain text (paragraphs joined by a blank line), plus the document's
title, language, publication time, rights and news metadata on the asset.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import delete, select

from zhimei.jobs import PermanentError, StageContext, stage
from zhimei.library.text import ExtractedDoc, ExtractError, extract
from zhimei.library.text.encoding import detect_language
from zhimei.store.db import session_scope
from zhimei.store.models import Asset, Rendition, Segment

__all__ = ["extract_text", "PARAGRAPH_SEPARATOR", "paragraph_rows"]

PARAGRAPH_SEPARATOR = "\n\n"
_CJK_LANGS = ("zh", "ja", "ko")
# meta keys this stage rewrites on every run; other keys set at ingest (url, feed, author…) win over the document
_OWNED_META = ("extractor", "note", "pages", "unreadable_pages", "paragraphs", "chars", "language_declared")


def _primary(tag: str | None) -> str | None:
    return tag.split("-")[0].lower() if tag else None


def choose_language(declared: str | None, text: str) -> tuple[str | None, str | None]:
    """(language, declared-if-overruled): the document's own tag unless the script plainly says otherwise."""
    detected = detect_language(text)
    if not declared:
        return detected, None
    primary = _primary(declared)
    if detected and len(text) >= 50 and primary != detected and (detected != "en" or primary in _CJK_LANGS):
        return detected, declared
    return declared, None


def paragraph_rows(asset_id: int, doc: ExtractedDoc, language: str | None) -> list[Segment]:
    """Segment rows for the paragraphs, with offsets into PARAGRAPH_SEPARATOR.join(texts)."""
    rows: list[Segment] = []
    pos = 0
    for seq, para in enumerate(doc.paragraphs):
        end = pos + len(para.text)
        lang = language
        if len(para.text) >= 20:
            own = detect_language(para.text)
            if own and own != _primary(language):
                lang = own
        rows.append(Segment(asset_id=asset_id, kind="paragraph", seq=seq, char_start=pos, char_end=end,
                            text=para.text, language=lang, meta=dict(para.meta)))
        pos = end + len(PARAGRAPH_SEPARATOR)
    return rows


@stage("extract_text", kinds=("article",), version="1")
def extract_text(ctx: StageContext) -> None:
    """Paragraph segments, title, language, date, rights and news metadata from an article's original file."""
    with session_scope() as session:
        asset = ctx.asset(session)
        original = session.scalars(
            select(Rendition).where(Rendition.asset_id == asset.id, Rendition.kind == "original")
        ).first()
        sha = original.blob_sha if original is not None else asset.sha256
        mime = original.mime if original is not None and original.mime else asset.mime
    if not sha:
        raise PermanentError("the article has no original document to read")
    if not ctx.blobs.exists(sha):
        raise FileNotFoundError(f"the original document (blob {sha[:12]}…) is missing from the blob store")
    limit = ctx.settings.max_text_bytes
    size = ctx.blobs.size(sha)
    if size > limit:
        raise PermanentError(f"the document is {size:,} bytes; the limit for text is {limit:,}")
    ctx.progress(5, "reading the document")
    data = ctx.blobs.read_bytes(sha)
    try:
        doc = extract(data, mime, max_expanded=max(4 * limit, 64 * 1024**2),
                      tick=lambda f: ctx.progress(5 + 85 * f))
    except ExtractError as exc:
        raise PermanentError(str(exc)) from None
    del data
    ctx.progress(90, "writing paragraphs")
    full_text = PARAGRAPH_SEPARATOR.join(p.text for p in doc.paragraphs)
    language, overruled = choose_language(doc.language, full_text)
    if overruled:
        doc.meta["language_declared"] = overruled
    doc.meta["paragraphs"] = len(doc.paragraphs)
    doc.meta["chars"] = len(full_text)
    if not doc.paragraphs and "note" not in doc.meta:
        doc.meta["note"] = "no text found in the document"
    result = {"paragraphs": len(doc.paragraphs), "chars": len(full_text), "language": language}
    with ctx.outputs(result) as session:
        asset = ctx.asset(session)
        session.execute(delete(Segment).where(Segment.asset_id == asset.id, Segment.kind == "paragraph"))
        session.add_all(paragraph_rows(asset.id, doc, language or asset.language))
        _update_asset(asset, doc, language)


def _update_asset(asset: Asset, doc: ExtractedDoc, language: str | None) -> None:
    default_title = Path(asset.filename or "").stem
    if doc.title and (not asset.title or asset.title == default_title):
        asset.title = doc.title[:1000]
    if language and not asset.language:
        asset.language = language[:16]
    if doc.published_at and asset.published_at is None:
        asset.published_at = doc.published_at
    if doc.rights and not asset.rights:
        asset.rights = doc.rights[:500]
    if doc.licence and not asset.licence:
        asset.licence = doc.licence[:200]
    meta: dict[str, Any] = dict(asset.meta or {})
    for key, value in doc.meta.items():
        if key in _OWNED_META or key not in meta:
            meta[key] = value
    for key in _OWNED_META:
        if key not in doc.meta:
            meta.pop(key, None)
    asset.meta = meta
