"""The stream insight watches: every ingested asset with text becomes an item (when, source, terms, named
entities, sentiment). Items are analysed in bounded batches by the story task and again when an asset changes."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from zhimei.store.db import session_scope
from zhimei.store.models import Asset, Entity, Segment, utcnow
from zhimei.store.models_insight import InsightItem

__all__ = ["ITEM_TEXT_CHARS", "TEXT_SEGMENT_KINDS", "item_terms", "score_texts", "sentiment_model_name",
           "refresh_items", "item_time"]

log = logging.getLogger("zhimei.insight")

ITEM_TEXT_CHARS = 4000
"""How much of an item's text (title first) is kept for watchlists, sentiment and story grouping."""
TEXT_SEGMENT_KINDS = ("paragraph", "transcript", "caption", "ocr")
MAX_TERMS = 40
BATCH = 200
ENTITY_KINDS = ("PER", "ORG", "LOC")
_CJK = re.compile(r"[\u3400-\u9fff]")
_JUNK = re.compile(r"^[\d.,:%/-]+$")


def item_time(asset: Asset) -> datetime:
    """When an item entered the stream: its publication time, else when it was ingested."""
    return asset.published_at or asset.created_at


def item_terms(title: str, text: str) -> list[str]:
    """The item's terms: keywords of the title and text (jieba TF-IDF for Chinese, RAKE phrases and their words
    for English) from the packaged keywords model; title keywords first; case-folded, at most MAX_TERMS."""
    from zhimei.models import get_backend

    kb = get_backend("keywords")
    out: list[str] = []
    seen: set[str] = set()

    def add(word: str) -> None:
        w = " ".join(word.split()).casefold()
        if len(w) < 2 or len(w) > 100 or _JUNK.match(w) or w in seen:
            return
        seen.add(w)
        out.append(w)

    for chunk, k in ((title, 8), (text, 24)):
        if not chunk.strip():
            continue
        lang = "zh" if _CJK.search(chunk) else "en"
        for kw in kb.extract(chunk, lang, top_k=k):
            add(kw.text)
            if lang == "en" and " " in kw.text.strip():
                for w in kw.text.split():
                    if len(w) >= 3:
                        add(w)
    return out[:MAX_TERMS]


def sentiment_model_name() -> str:
    """Which sentiment scorer is in use (items are rescored when it changes): the insight models'
    `score_sentiment` with its MODEL_VERSION when it names one, else the packaged lexicons."""
    try:
        from zhimei.insight import sentiment
    except ImportError:
        return "snownlp+vader"
    version = (getattr(sentiment, "MODEL_VERSION", None) or getattr(sentiment, "__version__", None)
               or getattr(sentiment, "MODEL_NAME", None))
    return f"insight.sentiment:{version}"[:100] if isinstance(version, str) and version else "insight.sentiment"


def score_texts(texts: Sequence[str]) -> list[float]:
    """Probability each text is positive (0..1), Chinese and English, from `zhimei.insight.sentiment`
    (fallback while it is absent: snownlp for Chinese, VADER for other text)."""
    if not texts:
        return []
    try:
        from zhimei.insight.sentiment import score_sentiment
    except ImportError:
        return [_lexicon_sentiment(t) for t in texts]
    return [float(min(1.0, max(0.0, p))) for p in score_sentiment(list(texts))]


_vader = None


def _lexicon_sentiment(text: str) -> float:
    global _vader
    text = text[:2000]
    if not text.strip():
        return 0.5
    if _CJK.search(text):
        from snownlp import SnowNLP

        return float(SnowNLP(text).sentiments)
    if _vader is None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        _vader = SentimentIntensityAnalyzer()
    return (float(_vader.polarity_scores(text)["compound"]) + 1.0) / 2.0


def _content(session: Session, asset: Asset) -> tuple[str, str]:
    """(title, body) of an asset: its title and its text segments in order, the body cut to ITEM_TEXT_CHARS."""
    parts: list[str] = []
    size = 0
    rows = session.scalars(select(Segment.text).where(Segment.asset_id == asset.id,
                                                      Segment.kind.in_(TEXT_SEGMENT_KINDS))
                           .order_by(Segment.kind, Segment.seq))
    title = (asset.title or "").strip()
    for t in rows:
        t = (t or "").strip()
        if not t or (not parts and t == title):  # a document's heading repeats its title
            continue
        parts.append(t)
        size += len(t) + 1
        if size >= ITEM_TEXT_CHARS:
            break
    return title, "\n".join(parts)[:ITEM_TEXT_CHARS]


def _entities(session: Session, asset_id: int) -> list[str]:
    rows = session.execute(select(Entity.kind, Entity.norm).where(Entity.asset_id == asset_id,
                                                                  Entity.kind.in_(ENTITY_KINDS)))
    seen: dict[str, None] = {}
    for kind, norm in rows:
        if norm and len(norm) >= 2:
            seen.setdefault(f"{kind}:{norm}", None)
    return list(seen)[:MAX_TERMS]


def refresh_items(limit: int = 2000, tick=None) -> dict[str, int]:
    """Analyse assets that are new to insight or changed since (finished processing, with text), in batches of
    BATCH; rescore sentiment when the scorer changed. Returns counts (added, updated, rescored)."""
    model = sentiment_model_name()
    done = {"added": 0, "updated": 0, "rescored": 0}
    with session_scope() as session:
        stale = select(Asset.id).outerjoin(InsightItem, InsightItem.asset_id == Asset.id).where(
            Asset.status.in_(("ready", "failed")),
            (InsightItem.id.is_(None)) | (Asset.updated_at > InsightItem.analysed_at)
            | (InsightItem.sentiment_model != model)).order_by(Asset.id).limit(limit)
        ids = list(session.scalars(stale))
    for i in range(0, len(ids), BATCH):
        batch = ids[i:i + BATCH]
        _analyse(batch, model, done)
        if tick:
            tick(min(1.0, (i + len(batch)) / max(1, len(ids))))
    return done


def _analyse(asset_ids: list[int], model: str, done: dict[str, int]) -> None:
    with session_scope() as session:
        found: list[tuple[Asset, str, str, list[str], str]] = []
        for asset in session.scalars(select(Asset).where(Asset.id.in_(asset_ids))):
            title, body = _content(session, asset)
            ents = _entities(session, asset.id)
            digest = hashlib.sha256("\x1f".join([title, body, *ents]).encode()).hexdigest()
            found.append((asset, title, body, ents, digest))
        existing = {it.asset_id: it for it in session.scalars(select(InsightItem)
                                                              .where(InsightItem.asset_id.in_(asset_ids)))}
    # the models run outside any transaction
    work = []
    for asset, title, body, ents, digest in found:
        old = existing.get(asset.id)
        same = old is not None and old.content_hash == digest
        text = f"{title}\n{body}".strip()[:ITEM_TEXT_CHARS]
        terms = list(old.terms) if same else (item_terms(title, body) if text else [])
        work.append((asset, title, text, ents, digest, terms, old, same))
    need = [w for w in work if w[2] and not (w[7] and w[6].sentiment_model == model)]
    scores = dict(zip([w[0].id for w in need], score_texts([w[2][:1000] for w in need]), strict=True))
    now = utcnow()
    with session_scope() as session:
        for asset, title, text, ents, digest, terms, _old, same in work:
            row = session.scalars(select(InsightItem).where(InsightItem.asset_id == asset.id)).first()
            if row is None:
                if session.get(Asset, asset.id) is None:
                    continue  # deleted meanwhile
                row = InsightItem(asset_id=asset.id)
                session.add(row)
                done["added"] += 1
            elif same:
                done["rescored"] += 1
            else:
                done["updated"] += 1
            row.at = item_time(asset)
            row.kind = asset.kind
            row.source = (asset.source or "")[:500]
            row.title = title[:1000]
            row.text = text
            row.terms = terms
            row.entities = ents
            if asset.id in scores:
                row.sentiment = round(scores[asset.id], 4)
            elif not text:
                row.sentiment = None
            row.sentiment_model = model
            row.content_hash = digest
            row.analysed_at = now if now > (asset.updated_at or now) else asset.updated_at


def item_count(session: Session) -> int:
    """How many items insight has analysed."""
    return int(session.scalar(select(func.count()).select_from(InsightItem)) or 0)
