"""Title and cover experiments: variants (from the studio or given), served by Thompson sampling on Beta
posteriors, CTR with Wilson 95 % intervals, probability-to-be-best, and promotion of the winner (by an editor, or
automatically once P(best) reaches ``experiment_promote_at`` with ``min_impressions`` impressions).

Serving records nothing: impressions and clicks arrive as engagement events carrying ``variant_id``.
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from zhimei.distribute.engagement.errors import EngagementError
from zhimei.distribute.engagement.readers import pseudonym
from zhimei.settings import get_settings
from zhimei.store.db import read_scope, session_scope
from zhimei.store.models import Asset, utcnow
from zhimei.store.models_engagement import EXPERIMENT_KINDS, EXPERIMENT_STATUSES, Experiment, ExperimentVariant

__all__ = ["create_experiment", "get_experiment", "list_experiments", "serve_variant", "promote", "stop_experiment",
           "auto_promote_due", "wilson_interval", "prob_best", "thompson_pick", "MAX_VARIANTS", "MAX_TEXT",
           "studio_covers"]

MAX_VARIANTS = 8
MAX_TEXT = 300
LABELS = "ABCDEFGH"
Z95 = 1.959963984540054
_DRAWS = 20_000


def wilson_interval(clicks: int, impressions: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a click-through rate (95 % by default); (0, 1) with no impressions."""
    if impressions <= 0:
        return 0.0, 1.0
    p = clicks / impressions
    z2 = z * z
    den = 1.0 + z2 / impressions
    centre = (p + z2 / (2 * impressions)) / den
    half = z * math.sqrt(p * (1 - p) / impressions + z2 / (4 * impressions * impressions)) / den
    lo = 0.0 if clicks <= 0 else max(0.0, centre - half)
    hi = 1.0 if clicks >= impressions else min(1.0, centre + half)
    return lo, hi


def _beta_params(stats: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    clicks = np.array([min(c, i) for c, i in stats], dtype=np.float64)
    imps = np.array([i for _c, i in stats], dtype=np.float64)
    return 1.0 + clicks, 1.0 + np.maximum(imps - clicks, 0.0)


def prob_best(stats: list[tuple[int, int]], draws: int = _DRAWS, seed: int | None = None) -> list[float]:
    """P(variant has the highest CTR) under Beta(1 + clicks, 1 + misses) posteriors, by Monte Carlo. `stats` is
    [(clicks, impressions)]; the default seed comes from the counts, so the same counts give the same answer."""
    if not stats:
        return []
    if len(stats) == 1:
        return [1.0]
    a, b = _beta_params(stats)
    if seed is None:
        seed = int.from_bytes(hashlib.sha256(repr(stats).encode()).digest()[:8], "big")
    rng = np.random.default_rng(seed)
    samples = rng.beta(a, b, size=(draws, len(stats)))
    wins = np.bincount(samples.argmax(axis=1), minlength=len(stats))
    return [float(w) / draws for w in wins]


def thompson_pick(stats: list[tuple[int, int]], rng: np.random.Generator) -> int:
    """Thompson sampling: one draw from each variant's Beta posterior; the index of the highest draw."""
    a, b = _beta_params(stats)
    return int(np.argmax(rng.beta(a, b)))


# ---- views ----------------------------------------------------------------------------------------------

def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt is not None else None


def _view(session: Session, exp: Experiment, variants: list[ExperimentVariant] | None = None) -> dict[str, Any]:
    if variants is None:
        variants = list(session.scalars(select(ExperimentVariant).where(ExperimentVariant.experiment_id == exp.id)
                                        .order_by(ExperimentVariant.seq)))
    stats = [(v.clicks, v.impressions) for v in variants]
    pb = prob_best(stats)
    s = get_settings()
    title = session.scalar(select(Asset.title).where(Asset.id == exp.asset_id))
    out_variants = []
    for v, p in zip(variants, pb, strict=True):
        lo, hi = wilson_interval(v.clicks, v.impressions)
        out_variants.append({
            "id": v.id, "label": v.label, "text": v.text, "cover_asset_id": v.cover_asset_id, "source": v.source,
            "impressions": v.impressions, "clicks": v.clicks,
            "ctr": (v.clicks / v.impressions) if v.impressions else 0.0, "ci_low": lo, "ci_high": hi,
            "p_best": p, "winner": exp.winner_variant_id == v.id})
    total_imp = sum(v.impressions for v in variants)
    best = max(range(len(pb)), key=lambda i: pb[i]) if pb else None
    return {
        "id": exp.id, "asset_id": exp.asset_id, "asset_title": title or "", "kind": exp.kind, "name": exp.name,
        "status": exp.status, "auto_promote": exp.auto_promote, "min_impressions": exp.min_impressions,
        "promote_at": s.experiment_promote_at, "winner_variant_id": exp.winner_variant_id,
        "promoted_by": exp.promoted_by, "promoted_at": _iso(exp.promoted_at), "created_by": exp.created_by,
        "created_at": _iso(exp.created_at), "impressions": total_imp, "clicks": sum(v.clicks for v in variants),
        "leader_variant_id": variants[best].id if best is not None else None,
        "leader_p_best": pb[best] if best is not None else None,
        "promotable": bool(best is not None and exp.status == "running" and total_imp >= exp.min_impressions
                           and pb[best] >= s.experiment_promote_at),
        "variants": out_variants,
    }


def _get(session: Session, experiment_id: int) -> Experiment:
    exp = session.get(Experiment, experiment_id)
    if exp is None:
        raise EngagementError(f"no experiment {experiment_id}", 404)
    return exp


def get_experiment(experiment_id: int) -> dict[str, Any]:
    """An experiment with per-variant impressions, clicks, CTR, Wilson 95 % interval and P(best)."""
    with read_scope() as session:
        return _view(session, _get(session, experiment_id))


def list_experiments(*, status: str | None = None, asset_id: int | None = None, limit: int = 50,
                     offset: int = 0) -> dict[str, Any]:
    """Experiments, newest first: {total, items} (each item as in `get_experiment`)."""
    if status is not None and status not in EXPERIMENT_STATUSES:
        raise EngagementError(f"status must be one of {', '.join(EXPERIMENT_STATUSES)}, not {status!r}")
    if not 1 <= limit <= 500 or offset < 0:
        raise EngagementError("limit must be between 1 and 500 and offset at least 0")
    with read_scope() as session:
        q = select(Experiment)
        if status is not None:
            q = q.where(Experiment.status == status)
        if asset_id is not None:
            q = q.where(Experiment.asset_id == asset_id)
        total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
        exps = session.scalars(q.order_by(Experiment.id.desc()).limit(limit).offset(offset)).all()
        return {"total": int(total), "items": [_view(session, e) for e in exps]}


# ---- creating ---------------------------------------------------------------------------------------------

def studio_covers(session: Session, asset_id: int) -> list[int]:
    """Ids of the cover images the studio made for an asset (``zhimei studio covers``), oldest first."""
    rows = session.execute(select(Asset.id, Asset.meta).where(Asset.parent_id == asset_id, Asset.kind == "image")
                           .order_by(Asset.id)).all()
    return [aid for aid, meta in rows if ((meta or {}).get("studio") or {}).get("task") == "covers"]


def _title_variants(asset_id: int, texts: list[str] | None, n: int) -> list[tuple[str, str]]:
    if texts:
        return [(t, "manual") for t in texts]
    with read_scope() as session:
        asset = session.get(Asset, asset_id)
        if asset is None:
            raise EngagementError(f"no asset {asset_id}", 404)
        current = " ".join((asset.title or "").split())
    out: list[tuple[str, str]] = []
    if current:
        out.append((current[:MAX_TEXT], "current title"))
    from zhimei.studio import StudioError, headlines

    try:
        res = headlines([asset_id], n=n)
    except StudioError as exc:
        raise EngagementError(f"the studio could not write headline variants: {exc}") from None
    for v in res.variants:
        text = " ".join(v.text.split())[:MAX_TEXT]
        if text:
            out.append((text, f"studio:{v.method or res.method}"[:64]))
    return out


def create_experiment(asset_id: int, *, kind: str = "title", texts: list[str] | None = None,
                      cover_asset_ids: list[int] | None = None, name: str = "", auto_promote: bool = True,
                      min_impressions: int | None = None, studio_variants: int = 3,
                      created_by: str = "") -> dict[str, Any]:
    """Start a title or cover experiment on an asset. Titles: the given `texts`, else the current title plus
    `studio_variants` headline variants written by the studio. Covers: the given `cover_asset_ids` (image assets),
    else the covers the studio made for the asset. Two to eight distinct variants; one running experiment of a
    kind per asset (409 names the one running)."""
    if kind not in EXPERIMENT_KINDS:
        raise EngagementError(f"kind must be one of {', '.join(EXPERIMENT_KINDS)}, not {kind!r}")
    if min_impressions is None:
        min_impressions = get_settings().experiment_min_impressions
    if not 0 <= int(min_impressions) <= 10**9:
        raise EngagementError("min_impressions must be between 0 and 1000000000")
    if len(name) > 200:
        raise EngagementError("name is longer than 200 characters")
    if texts is not None:
        if kind != "title":
            raise EngagementError("texts are for title experiments; a cover experiment takes cover_asset_ids")
        texts = [" ".join(str(t).split()) for t in texts]
        if any(not t for t in texts):
            raise EngagementError("a title variant is empty")
        if any(len(t) > MAX_TEXT for t in texts):
            raise EngagementError(f"a title variant is longer than {MAX_TEXT} characters")
    if cover_asset_ids is not None and kind != "cover":
        raise EngagementError("cover_asset_ids are for cover experiments")
    if not 1 <= studio_variants <= MAX_VARIANTS - 1:
        raise EngagementError(f"studio_variants must be between 1 and {MAX_VARIANTS - 1}")
    titles = _title_variants(asset_id, texts, studio_variants) if kind == "title" else []
    with session_scope() as session:
        asset = session.get(Asset, asset_id)
        if asset is None:
            raise EngagementError(f"no asset {asset_id}", 404)
        running = session.scalar(select(Experiment.id).where(Experiment.asset_id == asset_id,
                                                             Experiment.kind == kind,
                                                             Experiment.status == "running"))
        if running is not None:
            raise EngagementError(f"asset {asset_id} already has a running {kind} experiment ({running}); "
                                  "promote or stop it first", 409)
        arms: list[dict[str, Any]] = []
        if kind == "title":
            seen: set[str] = set()
            for text, source in titles:
                if text not in seen:
                    seen.add(text)
                    arms.append({"text": text, "cover_asset_id": None, "source": source})
        else:
            ids = list(cover_asset_ids) if cover_asset_ids is not None else studio_covers(session, asset_id)
            if cover_asset_ids is None and len(ids) < 2:
                raise EngagementError(f"asset {asset_id} has {len(ids)} studio cover(s); make covers first "
                                      "(zhimei studio covers) or give cover_asset_ids")
            for cid in dict.fromkeys(ids):
                cover = session.get(Asset, cid)
                if cover is None:
                    raise EngagementError(f"no cover asset {cid}", 404)
                if cover.kind != "image":
                    raise EngagementError(f"asset {cid} is a {cover.kind}, not an image; covers are images")
                arms.append({"text": (cover.title or "")[:MAX_TEXT], "cover_asset_id": cid,
                             "source": "studio:covers" if cover_asset_ids is None else "manual"})
        if len(arms) < 2:
            raise EngagementError(f"an experiment needs at least 2 distinct variants; got {len(arms)}")
        if len(arms) > MAX_VARIANTS:
            raise EngagementError(f"an experiment takes at most {MAX_VARIANTS} variants; got {len(arms)}")
        exp = Experiment(asset_id=asset_id, kind=kind, name=name.strip() or f"{kind}: {asset.title or asset_id}"[:200],
                         status="running", auto_promote=bool(auto_promote), min_impressions=int(min_impressions),
                         created_by=created_by[:100])
        session.add(exp)
        session.flush()
        variants = [ExperimentVariant(experiment_id=exp.id, seq=i, label=LABELS[i], impressions=0, clicks=0, **arm)
                    for i, arm in enumerate(arms)]
        session.add_all(variants)
        session.flush()
        return _view(session, exp, variants)


# ---- serving and promotion -------------------------------------------------------------------------------

def _variant_out(exp: Experiment, v: ExperimentVariant, policy: str) -> dict[str, Any]:
    return {"experiment_id": exp.id, "asset_id": exp.asset_id, "kind": exp.kind, "variant_id": v.id,
            "label": v.label, "text": v.text, "cover_asset_id": v.cover_asset_id, "policy": policy}


def serve_variant(experiment_id: int, user: str | None = None) -> dict[str, Any]:
    """The variant to show now: a Thompson-sampling draw while running (a user keeps the same draw until 100 more
    impressions arrive), the winner once promoted, the first variant once stopped. Records nothing: send the
    impression and click as events with this ``variant_id``."""
    with read_scope() as session:
        exp = _get(session, experiment_id)
        variants = list(session.scalars(select(ExperimentVariant).where(ExperimentVariant.experiment_id == exp.id)
                                        .order_by(ExperimentVariant.seq)))
        if exp.status == "promoted" and exp.winner_variant_id is not None:
            win = next((v for v in variants if v.id == exp.winner_variant_id), variants[0])
            return _variant_out(exp, win, "winner")
        if exp.status != "running":
            return _variant_out(exp, variants[0], "control")
        stats = [(v.clicks, v.impressions) for v in variants]
        if user is not None:
            total = sum(i for _c, i in stats)
            seed_src = f"{pseudonym(user)}:{exp.id}:{total // 100}".encode()
            rng = np.random.default_rng(int.from_bytes(hashlib.sha256(seed_src).digest()[:8], "big"))
        else:
            rng = np.random.default_rng()
        return _variant_out(exp, variants[thompson_pick(stats, rng)], "thompson")


def _promote(session: Session, exp: Experiment, variant_id: int | None, actor: str) -> dict[str, Any]:
    variants = list(session.scalars(select(ExperimentVariant).where(ExperimentVariant.experiment_id == exp.id)
                                    .order_by(ExperimentVariant.seq)))
    if variant_id is None:
        pb = prob_best([(v.clicks, v.impressions) for v in variants])
        variant_id = variants[max(range(len(pb)), key=lambda i: pb[i])].id
    chosen = next((v for v in variants if v.id == variant_id), None)
    if chosen is None:
        raise EngagementError(f"variant {variant_id} is not a variant of experiment {exp.id}", 422)
    if exp.status == "promoted":
        if exp.winner_variant_id == chosen.id:
            return _view(session, exp, variants)
        raise EngagementError(f"experiment {exp.id} already promoted variant {exp.winner_variant_id}", 409)
    if exp.status == "stopped":
        raise EngagementError(f"experiment {exp.id} was stopped; start a new one", 409)
    exp.status = "promoted"
    exp.winner_variant_id = chosen.id
    exp.promoted_by = actor[:100]
    exp.promoted_at = utcnow()
    asset = session.get(Asset, exp.asset_id)
    if asset is not None:
        meta = dict(asset.meta or {})
        if exp.kind == "title":
            meta["promoted_title"] = chosen.text
        else:
            meta["promoted_cover_asset_id"] = chosen.cover_asset_id
        meta.setdefault("experiments", [])
        meta["experiments"] = [*meta["experiments"], {"id": exp.id, "kind": exp.kind, "variant_id": chosen.id}][-20:]
        asset.meta = meta
    session.flush()
    return _view(session, exp, variants)


def promote(experiment_id: int, variant_id: int | None = None, *, actor: str = "") -> dict[str, Any]:
    """Promote a variant (default: the one most likely best): the experiment ends, serving returns it, and the
    asset's meta gets ``promoted_title`` / ``promoted_cover_asset_id``. Promoting the same winner again is a no-op."""
    with session_scope() as session:
        return _promote(session, _get(session, experiment_id), variant_id, actor or "editor")


def stop_experiment(experiment_id: int, *, actor: str = "") -> dict[str, Any]:
    """Stop a running experiment without a winner (serving falls back to the first variant)."""
    with session_scope() as session:
        exp = _get(session, experiment_id)
        if exp.status == "promoted":
            raise EngagementError(f"experiment {exp.id} already promoted a winner", 409)
        exp.status = "stopped"
        session.flush()
        return _view(session, exp)


def auto_promote_due() -> list[int]:
    """Promote the leader of every running auto-promote experiment whose impressions reach its minimum and whose
    leader's P(best) reaches ``experiment_promote_at``. Returns the promoted experiment ids."""
    with read_scope() as session:
        ids = list(session.scalars(select(Experiment.id).where(Experiment.status == "running",
                                                               Experiment.auto_promote.is_(True))))
    done = []
    for eid in ids:
        with session_scope() as session:
            exp = session.get(Experiment, eid)
            if exp is None or exp.status != "running":
                continue
            view = _view(session, exp)
            if view["promotable"]:
                _promote(session, exp, view["leader_variant_id"], "auto")
                done.append(eid)
    return done
