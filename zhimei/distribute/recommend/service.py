"""智能推荐 for readers: `recommend` and `launcher_rows` (what the product serves), `retrain` (what the job runs),
and the per-channel anti-filter-bubble knob. Inputs come only through other areas' public functions:
engagement (readers, consent, interactions, trending) and publishing (what is live in a channel)."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from zhimei.distribute.recommend.engine import ChannelContext, Engine, Pick
from zhimei.distribute.recommend.fresh import fresh_scores
from zhimei.distribute.recommend.matrix import build_matrix
from zhimei.distribute.recommend.model import RecModel
from zhimei.distribute.recommend.picks import RecommendError, active_picks, check_channel
from zhimei.distribute.recommend.store import caches, current_engine
from zhimei.distribute.recommend.trainer import TrainParams, train_model
from zhimei.settings import get_settings
from zhimei.store.models import Asset, Embedding, utcnow
from zhimei.store.models_recommend import RecommendChannel

__all__ = ["Recommendation", "recommend", "launcher_rows", "train_from_database", "channel_knob",
           "set_channel_knob", "MAX_N", "WHY"]

log = logging.getLogger("zhimei.recommend")
MAX_N = 100
FRESH_HALF_LIFE_HOURS = 24.0
EXPLORE_POOL = 50
WHY = {"trending": "热门 Trending", "fresh": "新内容 New", "picks": "编辑推荐 Editor's pick",
       "personal": "为你推荐 Picked for you"}


@dataclass
class Recommendation:
    """One recommended asset with a short reason ("why this")."""

    asset_id: int
    score: float
    source: str
    """neighbours | als | content | trending | fresh | picks"""
    why: str
    title: str = ""
    because_asset_id: int | None = None
    explored: bool = False

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["score"] = round(self.score, 5)
        return d


# ---------------------------------------------------------------- the per-channel knob
def channel_knob(session: Session, channel: str | None) -> dict[str, float]:
    """The channel's diversity (MMR, 0..1) and exploration share (0..0.5); the settings' defaults if unset."""
    s = get_settings()
    row = session.get(RecommendChannel, check_channel(channel)) if channel is not None else None
    row = row or session.get(RecommendChannel, "")
    if row is None:
        return {"diversity": s.recommend_diversity, "explore_share": s.recommend_explore_share, "custom": False}
    return {"diversity": row.diversity, "explore_share": row.explore_share, "custom": True}


def set_channel_knob(session: Session, channel: str | None, *, diversity: float | None = None,
                     explore_share: float | None = None, actor: str = "") -> dict[str, Any]:
    """Set a channel's anti-filter-bubble knob ('' or None: the default for every channel)."""
    channel = check_channel(channel)
    for name, value, hi in (("diversity", diversity, 1.0), ("explore_share", explore_share, 0.5)):
        if value is not None and (not isinstance(value, int | float) or not 0.0 <= float(value) <= hi):
            raise RecommendError(f"{name} must be a number between 0 and {hi}")
    row = session.get(RecommendChannel, channel)
    if row is None:
        cur = channel_knob(session, channel or None)
        row = RecommendChannel(channel=channel, diversity=cur["diversity"], explore_share=cur["explore_share"])
        session.add(row)
    if diversity is not None:
        row.diversity = float(diversity)
    if explore_share is not None:
        row.explore_share = float(explore_share)
    row.updated_by = actor[:100]
    row.updated_at = utcnow()
    session.flush()
    caches()["contexts"].clear()
    return {"channel": channel, "diversity": row.diversity, "explore_share": row.explore_share}


# ---------------------------------------------------------------- training
def _asset_vectors(session: Session, asset_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Whole-asset embeddings (of the configured model, else the commonest) aligned with `asset_ids`."""
    if not len(asset_ids):
        return None
    name = get_settings().recommend_embedding_model
    if not name:
        name = session.scalar(select(Embedding.model).where(Embedding.owner_kind == "asset")
                              .group_by(Embedding.model).order_by(func.count().desc()).limit(1))
    if not name:
        return None
    ids = [int(a) for a in asset_ids]
    rows = []
    for i in range(0, len(ids), 1000):
        rows += session.execute(select(Embedding.asset_id, Embedding.dim, Embedding.vector).where(
            Embedding.owner_kind == "asset", Embedding.model == name, Embedding.asset_id.in_(ids[i:i + 1000]))).all()
    if not rows:
        return None
    dim = rows[0][1]
    V = np.zeros((len(ids), dim), dtype=np.float32)
    has = np.zeros(len(ids), dtype=bool)
    pos = np.searchsorted(asset_ids, [r[0] for r in rows])
    for p, (_, d, blob) in zip(pos, rows, strict=True):
        if d == dim and len(blob) == 4 * dim:
            V[p] = np.frombuffer(blob, dtype=np.float32)
            has[p] = True
    return V, has


def train_from_database(session: Session, *, params: TrainParams | None = None, progress=None
                        ) -> tuple[RecModel, int]:
    """Read the interactions (deleted and non-consenting readers are not in them), the live catalogue and the
    asset embeddings, and train a model. Returns the model and how many interactions it learned from."""
    from zhimei.distribute.engagement import load_interactions
    from zhimei.distribute.publish import published_asset_ids

    inter = load_interactions(session)
    live = np.asarray(sorted(set(published_asset_ids(session))), dtype=np.int64)
    fm = build_matrix(inter.reader_ids, inter.asset_ids, inter.weights, last_at=inter.last_at, now=time.time(),
                      half_life_days=90.0, extra_items=live)
    vec = _asset_vectors(session, fm.item_ids)
    model = train_model(fm, params or TrainParams(), item_vectors=vec[0] if vec else None,
                        has_vector=vec[1] if vec else None, progress=progress)
    return model, len(inter)


# ---------------------------------------------------------------- serving
def _context(session: Session, engine: Engine, channel: str | None) -> tuple[ChannelContext, np.ndarray, dict]:
    """The channel's shared ranking inputs, cached per model version and channel for a bounded time."""
    key = (engine.model.version, channel or "")
    cache = caches()["contexts"]
    hit = cache.get(key)
    if hit is not None:
        return hit
    from zhimei.distribute.engagement import popular_asset_ids
    from zhimei.distribute.publish import publication_times, published_asset_ids

    s = get_settings()
    model = engine.model
    live_ids = np.asarray(published_asset_ids(session, channel), dtype=np.int64)
    known = model.item_index(live_ids)
    extra = np.unique(live_ids[known < 0])
    universe = np.concatenate([model.item_ids, extra])
    n = len(universe)

    def index_of(ids) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        idx = model.item_index(ids)
        if len(extra):
            pos = np.searchsorted(extra, ids).clip(0, len(extra) - 1)
            idx = np.where((idx < 0) & (extra[pos] == ids), model.n_items + pos, idx)
        return idx

    live = np.zeros(n, dtype=bool)
    live[index_of(live_ids)] = True
    now = utcnow()
    trending = np.zeros(n, dtype=np.float32)
    pop = popular_asset_ids(session, since=now - timedelta(hours=s.recommend_trending_hours), limit=5000)
    if pop:
        idx = index_of([a for a, _ in pop])
        ok = idx >= 0
        trending[idx[ok]] = np.asarray([v for _, v in pop], dtype=np.float32)[ok]
    times = publication_times(session, live_ids.tolist())
    published = np.full(n, np.nan)
    if times:
        idx = index_of(list(times))
        published[idx] = [t.timestamp() for t in times.values()]
    fresh = fresh_scores(published, now=now.timestamp(), half_life_hours=FRESH_HALF_LIFE_HOURS)
    picks = np.zeros(n, dtype=np.float32)
    for pos, (aid, _rank) in enumerate(active_picks(session, channel)):  # best rank first
        i = index_of([aid])[0]
        if i >= 0:
            picks[i] = 1.0 / (1.0 + 0.2 * pos)
    explore = np.where(live, trending / max(float(trending.max(initial=0)), 1e-9) + fresh, 0.0)
    pool = np.argsort(-explore, kind="stable")[:EXPLORE_POOL]
    pool = pool[explore[pool] > 0]
    ctx = engine.prepare(live, {"trending": trending, "fresh": fresh, "picks": picks}, explore_pool=pool)
    raw = {"trending": trending, "fresh": fresh, "picks": picks}
    value = (ctx, universe, raw)
    cache.put(key, value, size=ctx.nbytes + universe.nbytes + sum(v.nbytes for v in raw.values()))
    return value


def _titles(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(session.execute(select(Asset.id, Asset.title).where(Asset.id.in_(sorted(ids)))).all())


def _why(p: Pick, because_title: str | None) -> str:
    if p.source in ("neighbours", "als") and because_title is not None:
        return f"因为你看过《{because_title}》 Because you watched {because_title}"
    if p.source == "content" and because_title is not None:
        return f"与《{because_title}》相似 Similar to {because_title}"
    return WHY.get(p.source, WHY["personal"])


def _reader(session: Session, user: str) -> tuple[int | None, bool]:
    from zhimei.distribute.engagement import EngagementError, personalisation_allowed, reader_id_for

    try:
        rid = reader_id_for(session, user, create=False)
    except EngagementError as exc:
        raise RecommendError(str(exc), exc.status) from None
    return rid, personalisation_allowed(session, rid) if rid is not None else False


def _check(user: Any, n: Any) -> None:
    if not isinstance(user, str) or not user.strip():
        raise RecommendError("user must be a non-empty string (the outside user id)")
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_N:
        raise RecommendError(f"n must be an integer between 1 and {MAX_N}")


def _known_channel(session: Session, channel: str | None) -> str | None:
    channel = check_channel(channel) or None
    if channel is not None:
        from zhimei.distribute.publish import PublishError, get_channel

        try:
            get_channel(session, channel)
        except PublishError as exc:
            raise RecommendError(str(exc), exc.status) from None
    return channel


def _serve(session: Session, user: str, n: int, channel: str | None):
    _check(user, n)
    channel = _known_channel(session, channel)
    rid, allowed = _reader(session, user)
    engine = current_engine(session)
    ctx, universe, raw = _context(session, engine, channel)
    model = engine.model
    row = model.user_index(rid) if (rid is not None and allowed) else None
    items, strengths = model.history(row)
    knob = channel_knob(session, channel)
    picks = engine.rank(row, items, strengths, ctx, n=n, diversity=knob["diversity"],
                        explore_share=knob["explore_share"])
    return engine, ctx, universe, raw, row, items, strengths, picks, allowed and row is not None


def _to_recs(session: Session, universe: np.ndarray, model: RecModel, picks: list[Pick]) -> list[Recommendation]:
    because = {int(model.item_ids[p.because]) for p in picks if p.because is not None}
    titles = _titles(session, {int(universe[p.index]) for p in picks} | because)
    out = []
    for p in picks:
        b = int(model.item_ids[p.because]) if p.because is not None else None
        out.append(Recommendation(asset_id=int(universe[p.index]), score=p.score, source=p.source,
                                  why=_why(p, titles.get(b) if b is not None else None),
                                  title=titles.get(int(universe[p.index]), ""), because_asset_id=b,
                                  explored=p.explored))
    return out


def recommend(session: Session, user: str, *, n: int = 20, channel: str | None = None) -> list[Recommendation]:
    """Up to `n` live assets for a reader (outside user id) in `channel` (None: everything live), each with why.

    Readers the model knows and who allow personalisation get recall from item neighbours, ALS and content,
    blended with editors' picks, trending and fresh items, diversified by the channel's knob; everyone else
    (new, unknown, consent off) gets the non-personal blend, diversified the same way. Items already consumed and
    items not live are never returned. RecommendError (422) for a bad user, n or channel."""
    engine, _ctx, universe, _raw, _row, _items, _st, picks, _p = _serve(session, user, n, channel)
    return _to_recs(session, universe, engine.model, picks)


def personalised(session: Session, user: str) -> bool:
    """Whether `recommend` would personalise for this user now (known to the model and consenting)."""
    _check(user, 1)
    rid, allowed = _reader(session, user)
    return bool(allowed and rid is not None and current_engine(session).model.user_index(rid) is not None)


def launcher_rows(session: Session, user: str, *, channel: str | None = None, size: int = 10
                  ) -> list[dict[str, Any]]:
    """A reader's launcher rows (智能推荐位排版): "for you" (or "popular now" when not personalised), "because you
    watched …" for their strongest recent item, then trending, new and editors' picks — each item at most once."""
    if not isinstance(size, int) or not 1 <= size <= 50:
        raise RecommendError("size must be an integer between 1 and 50")
    engine, ctx, universe, raw, row, items, strengths, picks, is_personal = _serve(session, user, size, channel)
    model = engine.model
    used = {p.index for p in picks}
    rows: list[dict[str, Any]] = []
    first = _to_recs(session, universe, model, picks)
    rows.append({"id": "for_you", "title": "为你推荐 For you" if is_personal else "热门推荐 Popular now",
                 "source": "personal" if is_personal else "popular", "items": [r.as_dict() for r in first]})
    seen = set(items.tolist())
    live_hist = items[ctx.live[items]] if len(items) else items
    if is_personal and len(live_hist):
        anchor = int(live_hist[int(np.argmax(strengths[ctx.live[items]]))])
        nb, w = model.neighbours.neighbours(anchor, 4 * size)
        chosen = [int(i) for i in nb if ctx.live[i] and int(i) not in seen and int(i) not in used][:size]
        if chosen:
            title = _titles(session, {int(model.item_ids[anchor])}).get(int(model.item_ids[anchor]), "")
            row_picks = [Pick(index=i, score=float(ctx.base[i]) if np.isfinite(ctx.base[i]) else 0.0,
                              source="neighbours", because=anchor) for i in chosen]
            used.update(chosen)
            rows.append({"id": "because", "title": f"因为你看过《{title}》 Because you watched {title}",
                         "source": "neighbours", "items": [r.as_dict() for r in _to_recs(session, universe, model,
                                                                                          row_picks)]})
    for rid, source in (("trending", "trending"), ("new", "fresh"), ("picks", "picks")):
        s = np.where(ctx.live, raw[source], 0.0)
        order = np.argsort(-s, kind="stable")
        chosen = [int(i) for i in order[: 4 * size + len(used)] if s[i] > 0 and int(i) not in used
                  and int(i) not in seen][:size]
        if not chosen:
            continue
        used.update(chosen)
        row_picks = [Pick(index=i, score=float(s[i]), source=source) for i in chosen]
        rows.append({"id": rid, "title": WHY[source], "source": source,
                     "items": [r.as_dict() for r in _to_recs(session, universe, model, row_picks)]})
    return rows
