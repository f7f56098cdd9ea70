"""The serving path, shared by the product and bench/recommend.py: recall from every source, rank, diversify.

Items are model columns ``0 .. n_items-1``, optionally followed by live items the model has not seen yet (they
can only come from the non-personal sources: editors' picks, trending, fresh). The non-personal part of the
score is the same for every reader of a channel, so it is prepared once (`Engine.prepare`, cached by the
service) and each request only recalls from the personal sources:

1. recall: the top `recall` items of each personal source — the neighbour table (EASE or item-CF), ALS and the
   content profile (scanning every item, or a few inverted lists on a large catalogue) — plus the channel's best
   non-personal items;
2. rank: every candidate scored by every source, each scaled by its best recalled score, mixed by the weights;
3. diversify: MMR over the best `candidates`, then exploration slots from the channel's fresh/trending pool."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from zhimei.distribute.recommend.als import fold_in
from zhimei.distribute.recommend.blend import (
    NON_PERSONAL_SOURCES,
    PERSONAL_SOURCES,
    BlendWeights,
    add_scaled,
    scale_factor,
)
from zhimei.distribute.recommend.content import normalise_rows
from zhimei.distribute.recommend.diversity import mmr, with_exploration
from zhimei.distribute.recommend.ivf import Ivf
from zhimei.distribute.recommend.matrix import topk
from zhimei.distribute.recommend.model import RecModel

__all__ = ["Pick", "Engine", "ChannelContext"]


@dataclass
class Pick:
    """One recommended item: its index, blended score, the source that put it there, and (for personal
    sources) the index of the reader's own item that explains it."""

    index: int
    score: float
    source: str
    because: int | None = None
    explored: bool = False


@dataclass
class ChannelContext:
    """What every reader of one channel shares: the live items, the non-personal scores already scaled and
    summed (``-inf`` where not live), their best items, the exploration pool and the blend weights."""

    live: np.ndarray
    base: np.ndarray
    parts: dict[str, np.ndarray]
    weights: BlendWeights
    top: np.ndarray
    explore_pool: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))

    @property
    def nbytes(self) -> int:
        return int(self.live.nbytes + self.base.nbytes + sum(p.nbytes for p in self.parts.values())
                   + self.top.nbytes + self.explore_pool.nbytes)


class _VectorSource:
    """Items as vectors (ALS item factors or content vectors): recall by inner product, exhaustive or IVF."""

    def __init__(self, V: np.ndarray, ivf: Ivf | None, nprobe_share: float = 0.08):
        self.V = V
        self.ivf = ivf
        if ivf is not None:
            self.Vp = np.ascontiguousarray(V[ivf.order])
            self.nprobe = max(1, int(round(len(ivf.centroids) * nprobe_share)))

    def recall(self, q: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
        if self.ivf is None:
            s = self.V @ q
            top = topk(s, m)
            return top, s[top]
        slices = self.ivf.probe(q, self.nprobe)
        idx = np.concatenate([self.ivf.order[sl] for sl in slices])
        s = np.concatenate([self.Vp[sl] @ q for sl in slices])
        top = topk(s, m)
        return idx[top], s[top]


class Engine:
    """A loaded model, ready to rank for one reader at a time."""

    max_history = 500
    """Items of a reader's history that drive the personal queries (the strongest); all of it is excluded."""

    def __init__(self, model: RecModel):
        self.model = model
        self.weights = BlendWeights.from_dict(model.params.get("weights", {}))
        self.als_unit = normalise_rows(model.als.items) if model.als is not None else None
        self.als = _VectorSource(model.als.items, model.als_ivf) if model.als is not None else None
        self.content = _VectorSource(model.content, model.content_ivf) if model.content is not None else None
        if model.content is not None and model.has_content is not None and model.has_content.mean() >= 0.9:
            self.diversity_vectors = model.content
        else:
            self.diversity_vectors = self.als_unit

    def prepare(self, live: np.ndarray, extra_scores: dict[str, np.ndarray] | None = None, *,
                weights: BlendWeights | None = None, explore_pool: np.ndarray | None = None,
                top: int = 300) -> ChannelContext:
        """The shared part of a channel's ranking. `live` (bool, model items then extra items) marks what may be
        shown; `extra_scores` holds the non-personal sources (picks, trending, fresh) over the same items."""
        weights = weights or self.weights
        live = np.asarray(live, dtype=bool)
        if len(live) < self.model.n_items:
            raise ValueError(f"live mask covers {len(live)} items, the model has {self.model.n_items}")
        base = np.zeros(len(live), dtype=np.float32)
        tmp = np.empty_like(base)
        parts = {}
        for name in NON_PERSONAL_SOURCES:
            s = (extra_scores or {}).get(name)
            if s is None:
                continue
            f = scale_factor(s, weights.get(name), live)
            if f > 0:
                add_scaled(base, s, f, tmp)
                parts[name] = np.maximum(s, 0.0).astype(np.float32) * np.float32(f)
        base[~live] = -np.inf
        best = topk(base, min(top, int(live.sum())))
        best = best[base[best] > 0]
        pool = np.asarray(explore_pool if explore_pool is not None else np.empty(0), dtype=np.int64)
        return ChannelContext(live=live, base=base, parts=parts, weights=weights, top=best,
                              explore_pool=pool[live[pool]])

    def personal_scores(self, row: int | None, items: np.ndarray, strengths: np.ndarray,
                        weights: BlendWeights | None = None) -> dict[str, np.ndarray]:
        """Each personal source's score of EVERY model item (exhaustive; for evaluation and tests)."""
        out: dict[str, np.ndarray] = {}
        q = self._queries(row, items, strengths, weights)
        if "neighbours" in q:
            out["neighbours"] = q["neighbours"]
        if "als" in q:
            out["als"] = self.als.V @ q["als"]
        if "content" in q:
            out["content"] = self.content.V @ q["content"]
        return out

    def _queries(self, row, items, strengths, weights) -> dict[str, np.ndarray]:
        m = self.model
        w = weights or BlendWeights(neighbours=1, als=1, content=1)
        out: dict[str, np.ndarray] = {}
        if len(items) == 0:
            return out
        if len(items) > self.max_history:  # a heavy reader's profile: their strongest items
            keep = np.argpartition(-strengths, self.max_history - 1)[:self.max_history]
            items, strengths = items[keep], strengths[keep]
        if w.neighbours > 0:
            out["neighbours"] = m.neighbours.scores(items, strengths)
        if self.als is not None and w.als > 0:
            out["als"] = m.als.users[row] if row is not None else fold_in(m.als, items, strengths)
        if self.content is not None and w.content > 0:
            mask = m.has_content[items]
            if mask.any():
                p = strengths[mask].astype(np.float32) @ m.content[items[mask]]
                norm = float(np.linalg.norm(p))
                if norm > 0:
                    out["content"] = p / norm
        return out

    def rank(self, row: int | None, items: np.ndarray, strengths: np.ndarray, ctx: ChannelContext, *,
             n: int = 20, diversity: float = 0.0, explore_share: float = 0.0, candidates: int = 100,
             recall: int = 200) -> list[Pick]:
        """Top `n` for a reader who consumed `items` (model indices), see the module docstring."""
        n_model = self.model.n_items
        q = self._queries(row, items, strengths, ctx.weights)
        pools = [ctx.top]
        tops: dict[str, float] = {}
        if "neighbours" in q:
            s = q["neighbours"]
            nz = np.flatnonzero(s > 0)
            best = nz[topk(s[nz], recall)]
            pools.append(best)
            tops["neighbours"] = float(s[best[0]]) if len(best) else 0.0
        for name, src in (("als", self.als), ("content", self.content)):
            if name in q:
                idx, vals = src.recall(q[name], recall)
                pools.append(idx)
                tops[name] = float(vals[0]) if len(vals) else 0.0
        cand = np.unique(np.concatenate(pools))
        keep = ctx.live[cand]
        if len(items):
            keep &= ~np.isin(cand, items)
        cand = cand[keep]
        total = ctx.base[cand].copy()
        inside = cand < n_model
        cm = cand[inside]
        parts: dict[str, np.ndarray] = {}
        for name, top in tops.items():
            if top <= 0 or ctx.weights.get(name) <= 0:
                continue
            if name == "neighbours":
                vals = q[name][cm]
            else:
                vals = (self.als if name == "als" else self.content).V[cm] @ q[name]
            part = np.zeros(len(cand), dtype=np.float32)
            part[inside] = np.maximum(vals, 0.0) * np.float32(ctx.weights.get(name) / top)
            parts[name] = part
            total += part
        order = topk(total, min(len(cand), max(candidates, 3 * n)))
        short = cand[order]
        vecs = self._vectors(short) if diversity > 0 else None
        chosen = [int(i) for i in mmr(short, total[order], vecs, n, diversity)]
        explored: set[int] = set()
        if explore_share > 0 and len(ctx.explore_pool):
            seen = set(items.tolist())
            pool = [int(i) for i in ctx.explore_pool if int(i) not in seen]
            chosen, explored = with_exploration(chosen, pool, n, explore_share)
        chosen_arr = np.asarray(chosen, dtype=np.int64)
        pos = np.searchsorted(cand, chosen_arr).clip(0, max(0, len(cand) - 1))
        found = (cand[pos] == chosen_arr) if len(cand) else np.zeros(len(chosen_arr), bool)
        picks = []
        for i, j, ok in zip(chosen, pos.tolist(), found.tolist(), strict=True):
            contrib = {name: float(v[i]) for name, v in ctx.parts.items()}
            if ok and i not in explored:
                contrib.update({name: float(p[j]) for name, p in parts.items()})
            src = max(contrib, key=contrib.get) if contrib and max(contrib.values()) > 0 else "trending"
            score = float(total[j]) if ok else float(max(ctx.base[i], 0.0))
            picks.append(Pick(index=i, score=score, source=src, explored=i in explored))
        self._explain(picks, items, strengths, ctx.live)
        return picks

    def _vectors(self, cand: np.ndarray) -> np.ndarray | None:
        V = self.diversity_vectors
        if V is None:
            return None
        n_model = V.shape[0]
        out = np.zeros((len(cand), V.shape[1]), dtype=np.float32)
        inside = cand < n_model
        out[inside] = V[cand[inside]]
        return out

    def _explain(self, picks: list[Pick], items: np.ndarray, strengths: np.ndarray,
                 live: np.ndarray | None = None) -> None:
        """Fill `because`: the reader's item that contributed most to each personal pick. Only items live now can
        be named (a withdrawn story's title never reappears in a reason)."""
        m = self.model
        todo = [p for p in picks if p.source in PERSONAL_SOURCES and p.index < m.n_items]
        if live is not None and len(items):
            ok = live[items]
            items, strengths = items[ok], strengths[ok]
        if not todo or len(items) == 0:
            return
        targets = np.asarray([p.index for p in todo])
        by_source = {
            "neighbours": lambda: m.neighbours.contributions(items, strengths, targets),
            "als": lambda: self.als_unit[items] @ self.als_unit[targets].T if self.als_unit is not None else None,
            "content": lambda: m.content[items] @ m.content[targets].T if m.content is not None else None,
        }
        if len(items) > self.max_history:
            keep = np.argpartition(-strengths, self.max_history - 1)[:self.max_history]
            items, strengths = items[keep], strengths[keep]
        cache: dict[str, np.ndarray | None] = {}
        for j, p in enumerate(todo):
            if p.source not in cache:
                cache[p.source] = by_source[p.source]()
            C = cache[p.source]
            if C is not None and C.shape[0]:
                k = int(np.argmax(C[:, j]))
                if C[k, j] > 0:  # a reason only when that item really pulled this one up
                    p.because = int(items[k])
