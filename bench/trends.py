"""Hot-topic detection (舆情热点): does a term that suddenly bursts come out on top, and do its items form one story?

Protocol (real news titles, a simulated stream): the titles of a topics-format file (`title<TAB>class`, default
../shared/eval-dev/topics/THUCNews_dev.txt) get their terms from the shipped extractor (`item_terms`). For each of
up to `--trials` target terms named by 20 to 80 titles (chosen with a fixed seed), a stream of eight days is built:
3,000 background titles drawn from the whole file (so the target turns up there at its usual rate, one to three
times a day) spread evenly over the eight days (about 375 a day), and 6 more titles that name it, all in the last
24 hours — a modest burst over a steady background. Then:

- burst ranking: the target's rank among the current window's terms by the Poisson z-score of `term_bursts`, next
  to the baseline "top words today" (raw count in the current window); hit@1, hit@5 and MRR;
- story grouping: among the stories `group_texts` forms (the insight models' event clustering when installed) and
  those of the term-overlap grouping (bursting terms weighted up), the one holding most burst titles; its
  precision (share of titles naming the target) and recall (share of the 6 burst titles it holds), F1; baseline:
  "today's titles sharing today's most frequent term" as the story. The burst titles here share a term, not an
  event, so an event clusterer rightly keeps many of them apart: read this as "does a term burst surface as a
  story", not as event-clustering quality (bench/topics.py measures that);
- speed: terms per title (titles/s), and one whole detection (bursts + grouping) on a 10,000-title stream (the
  newest 3,000 are grouped, as in the story task).

    .venv/bin/python bench/trends.py [--data FILE] [--trials N]

The last line of stdout is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from zhimei.insight.items import item_terms  # noqa: E402
from zhimei.insight.stories import MAX_STORY_ITEMS, _overlap_groups, group_texts  # noqa: E402
from zhimei.insight.trends import StreamItem, burst_index, item_keys, term_bursts  # noqa: E402

DEFAULT = ROOT.parent / "shared" / "eval-dev" / "topics" / "THUCNews_dev.txt"
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
BURST = 6
BACKGROUND = 3000
SEED = 7


def read_titles(path: Path) -> list[str]:
    titles = []
    for line in path.read_text(encoding="utf-8").splitlines():
        title = line.split("\t")[0].strip()
        if title:
            titles.append(title)
    if len(titles) < BACKGROUND + BURST:
        raise SystemExit(f"{path}: {len(titles)} titles; at least {BACKGROUND + BURST} are needed")
    return titles


def make_item(i: int, title: str, terms: list[str], at: datetime) -> StreamItem:
    return StreamItem(id=i, asset_id=i, at=at, title=title, snippet=title, terms=terms, source=f"s{i % 5}")


def rank_of(target: str, ranked: list[str]) -> int | None:
    return ranked.index(target) + 1 if target in ranked else None


def story_scores(members: set[int], burst_ids: set[int], about: set[int]) -> tuple[float, float, float]:
    """Precision: share of the story's titles naming the target; recall: share of the burst titles it holds."""
    p = len(members & about) / len(members) if members else 0.0
    r = len(members & burst_ids) / len(burst_ids)
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def trial(target: str, titles: list[str], terms: list[list[str]], rng: random.Random) -> dict:
    named = [i for i, ts in enumerate(terms) if target in ts]
    burst = rng.sample(named, BURST)
    chosen = set(burst)
    back = rng.sample([i for i in range(len(terms)) if i not in chosen], BACKGROUND)
    span = 8 * 86400.0
    items = [make_item(i, titles[i], terms[i], NOW - timedelta(seconds=rng.uniform(0, span))) for i in back]
    items += [make_item(i, titles[i], terms[i], NOW - timedelta(seconds=rng.uniform(0, 86400))) for i in burst]
    bursts = term_bursts(None, now=NOW, window_hours=24, baseline_days=7, items=items, limit=1000, min_z=-1e9)
    z_rank = rank_of(target, [b.term for b in bursts])
    today = Counter(k for it in items if it.at > NOW - timedelta(hours=24) for k in item_keys(it))
    freq_ranked = [k for k, _ in sorted(today.items(), key=lambda kv: (-kv[1], kv[0]))]
    f_rank = rank_of(target, freq_ranked)
    items.sort(key=lambda it: (it.at, it.asset_id))
    keys, recent = [item_keys(it) for it in items], [it.at > NOW - timedelta(hours=24) for it in items]
    labels, method = group_texts([it.title for it in items], keys, burst_index(bursts), recent)
    overlap = _overlap_groups(keys, burst_index(bursts), recent)
    burst_ids = set(burst)
    about = {it.asset_id for it in items if target in it.terms}

    def best_story(labs: list[int]) -> tuple[float, float, float]:
        groups: dict[int, set[int]] = {}
        for it, lab in zip(items, labs, strict=True):
            groups.setdefault(lab, set()).add(it.asset_id)
        best = max(groups.values(), key=lambda g: (len(g & burst_ids), -len(g)))
        return story_scores(best, burst_ids, about)

    top_word = freq_ranked[0]
    base_story = {it.asset_id for it in items if top_word in item_keys(it) and it.at > NOW - timedelta(hours=24)}
    return {"z_rank": z_rank, "freq_rank": f_rank, "story": best_story(labels), "overlap": best_story(overlap),
            "base_story": story_scores(base_story, burst_ids, about), "method": method}


def summarise(ranks: list[int | None]) -> dict:
    return {"hit@1": round(sum(1 for r in ranks if r == 1) / len(ranks), 4),
            "hit@5": round(sum(1 for r in ranks if r is not None and r <= 5) / len(ranks), 4),
            "mrr": round(statistics.fmean(1 / r if r else 0.0 for r in ranks), 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT, help="a topics-format TSV (title<TAB>class)")
    ap.add_argument("--trials", type=int, default=20)
    args = ap.parse_args()
    titles = read_titles(args.data)
    t0 = time.perf_counter()
    terms = [item_terms(t, "") for t in titles]
    extract_s = time.perf_counter() - t0
    df = Counter(k for ts in terms for k in set(ts))
    candidates = sorted(k for k, c in df.items() if 20 <= c <= 80 and len(k) >= 2)
    rng = random.Random(SEED)
    targets = rng.sample(candidates, min(args.trials, len(candidates)))
    print(f"{len(titles)} titles from {args.data}; {len(candidates)} candidate terms; {len(targets)} trials",
          flush=True)
    results = []
    for n, target in enumerate(targets, 1):
        r = trial(target, titles, terms, random.Random(SEED + n))
        results.append(r)
        print(f"  {target}: z rank {r['z_rank']}, frequency rank {r['freq_rank']}, story P/R "
              f"{r['story'][0]:.2f}/{r['story'][1]:.2f}, baseline story P/R {r['base_story'][0]:.2f}/"
              f"{r['base_story'][1]:.2f}", flush=True)
    z = summarise([r["z_rank"] for r in results])
    f = summarise([r["freq_rank"] for r in results])

    def mean(key: str, i: int) -> float:
        return round(statistics.fmean(r[key][i] for r in results), 4)

    # one whole detection on a 10,000-title stream over eight days
    rng = random.Random(SEED)
    big = [make_item(i, titles[i % len(titles)], terms[i % len(terms)],
                     NOW - timedelta(seconds=rng.uniform(0, 8 * 86400))) for i in range(10_000)]
    t0 = time.perf_counter()
    bursts = term_bursts(None, now=NOW, window_hours=24, baseline_days=7, items=big, limit=1000)
    newest = sorted(sorted(big, key=lambda it: it.at, reverse=True)[:MAX_STORY_ITEMS], key=lambda it: it.at)
    group_texts([it.title for it in newest], [item_keys(it) for it in newest], burst_index(bursts),
                [it.at > NOW - timedelta(hours=24) for it in newest])
    detect_s = time.perf_counter() - t0

    print(f"burst ranking   z-score: hit@1 {z['hit@1']:.3f} hit@5 {z['hit@5']:.3f} MRR {z['mrr']:.3f}")
    print(f"baseline (top words today): hit@1 {f['hit@1']:.3f} hit@5 {f['hit@5']:.3f} MRR {f['mrr']:.3f}")
    print(f"story of the burst ({results[0]['method']}, what the story task uses): P {mean('story', 0):.3f} "
          f"R {mean('story', 1):.3f} F1 {mean('story', 2):.3f}")
    print(f"story of the burst (term-overlap grouping): P {mean('overlap', 0):.3f} R {mean('overlap', 1):.3f} "
          f"F1 {mean('overlap', 2):.3f}")
    print(f"baseline story (titles sharing today's top word): P {mean('base_story', 0):.3f} "
          f"R {mean('base_story', 1):.3f} F1 {mean('base_story', 2):.3f}")
    print(f"terms: {len(titles) / extract_s:.0f} titles/s; detection on 10,000 items: {detect_s:.2f} s")
    print(json.dumps({
        "data": str(args.data), "trials": len(results), "grouping": results[0]["method"] if results else None,
        "burst_hit1": z["hit@1"], "burst_hit5": z["hit@5"], "burst_mrr": z["mrr"],
        "baseline_freq_hit1": f["hit@1"], "baseline_freq_hit5": f["hit@5"], "baseline_freq_mrr": f["mrr"],
        "story_precision": mean("story", 0), "story_recall": mean("story", 1), "story_f1": mean("story", 2),
        "overlap_story_f1": mean("overlap", 2),
        "baseline_story_f1": mean("base_story", 2), "titles_per_s": round(len(titles) / extract_s, 1),
        "detect_10k_items_s": round(detect_s, 3)}))


if __name__ == "__main__":
    main()
