"""Headline quality and LLM speed: character ROUGE-1/2/L of each shipped headline method against the authors'
headlines, next to lead baselines measured in the same run, and tokens/s of each LLM backend.

    .venv/bin/python bench/headlines.py [--data DIR] [--limit 200] [--tune 100] [--smollm2-rows 10]

DIR holds line-aligned ``src.txt`` / ``tgt.txt`` (default ../shared/eval-dev/summarization: 200 Weibo posts
from LCSTS). Scores are printed for rows 1..tune (where the few hyper-parameters were set), the rest (unseen
while tuning) and all rows. ROUGE is computed over characters after dropping whitespace, punctuation and
symbols (see zhimei/studio/rouge.py). Methods: lead-1 sentence and lead-20 characters (baselines),
extractive (the shipped clause selection: closeness to the post by the configured embedder), extractive with
keywords only (TF-IDF clause selection, what runs without an embedder), textrank, llm (gemma3 few-shot, raw)
and hybrid (the product default with a remote LLM: the LLM headline when the source supports it, else
extractive). A remote backend is measured too when ZHIMEI_OPENAI_BASE_URL is set. LLM results are cached in a
bench home (ZHIMEI_HOME, default ~/.cache/zhimei-bench/headlines-home) so reruns are fast; tokens/s come from
the recorded calls. The last line is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_DATA = (ROOT.parent / "shared" / "eval-dev" / "summarization").resolve()
os.environ.setdefault("ZHIMEI_HOME", str(Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
                                         / "zhimei-bench" / "headlines-home"))


def _tps(calls: list[dict]) -> dict[str, float | int | None]:
    calls = [c for c in calls if "tokens_out" in c]
    if not calls:
        return {"calls": 0, "gen_tokens_per_s": None, "total_tokens_per_s": None, "mean_seconds": None}
    secs = sum(c["seconds"] for c in calls)
    gen_secs = sum(c["seconds"] - (c.get("prompt_seconds") or 0.0) for c in calls)
    out = sum(c["tokens_out"] for c in calls)
    total = sum(c["tokens_in"] + c["tokens_out"] for c in calls)
    return {"calls": len(calls), "gen_tokens_per_s": round(out / gen_secs, 2) if gen_secs > 0 else None,
            "total_tokens_per_s": round(total / secs, 2) if secs > 0 else None,
            "mean_seconds": round(secs / len(calls), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with src.txt and tgt.txt")
    ap.add_argument("--limit", type=int, default=200, help="rows to use (at most)")
    ap.add_argument("--tune", type=int, default=100, help="rows the hyper-parameters were tuned on (split point)")
    ap.add_argument("--smollm2-rows", type=int, default=10, help="rows for the smollm2 speed/quality check (0: skip)")
    ap.add_argument("--no-llm", action="store_true", help="classical methods only")
    args = ap.parse_args()

    from zhimei.store import migrate
    from zhimei.studio.classical import extractive_headlines, lead_chars, lead_sentence, textrank_headline
    from zhimei.studio.rouge import rouge_scores
    from zhimei.studio.text import clean_headline, headlines, hybrid_check, remote_configured

    src_path, tgt_path = args.data / "src.txt", args.data / "tgt.txt"
    if not src_path.is_file() or not tgt_path.is_file():
        sys.exit(f"{args.data} must hold line-aligned src.txt and tgt.txt")
    src = src_path.read_text(encoding="utf-8").splitlines()[: args.limit]
    tgt = tgt_path.read_text(encoding="utf-8").splitlines()[: args.limit]
    if len(src) != len(tgt):
        sys.exit(f"src.txt has {len(src)} lines but tgt.txt has {len(tgt)}")
    migrate()
    n = len(src)
    tune = min(args.tune, n)

    def shipped_extractive(s: str) -> str:
        """The product's extractive headline (ranked by closeness to the post with the configured embedder)."""
        r = headlines(text=s, n=1, method="extractive")
        return r.variants[0].text if r.variants else ""

    hyps: dict[str, list[str]] = {
        "lead1_sentence (baseline)": [lead_sentence(s) for s in src],
        "lead20_chars (baseline)": [lead_chars(s, 20) for s in src],
        "extractive": [shipped_extractive(s) for s in src],
        "extractive, keywords only": [(extractive_headlines(s, 1) or [None])[0].text if extractive_headlines(s, 1)
                                      else "" for s in src],
        "textrank": [textrank_headline(s) for s in src],
    }
    speeds: dict[str, dict] = {}
    fallbacks: dict[str, int] = {}

    def run_llm(backend: str, rows: int, label: str) -> None:
        raw, hyb, calls = [], [], []
        fb = 0
        t0 = time.perf_counter()
        for i, s in enumerate(src[:rows]):
            r = headlines(text=s, language="zh", n=1, method="llm", backend=backend)
            out = clean_headline(r.variants[0].text if r.variants else "")
            raw.append(out)
            cand, why = hybrid_check(out, s, "zh")
            if why:
                fb += 1
                cand = shipped_extractive(s) or out
            hyb.append(cand)
            calls += r.calls
            if (i + 1) % 20 == 0:
                print(f"  {label}: {i + 1}/{rows} rows, {time.perf_counter() - t0:.0f}s", file=sys.stderr, flush=True)
        hyps[f"llm ({label})"] = raw
        hyps[f"hybrid ({label})"] = hyb
        speeds[label] = _tps(calls)
        fallbacks[label] = fb

    if not args.no_llm:
        run_llm("gemma3", n, "gemma3")
        if args.smollm2_rows:
            run_llm("smollm2", min(args.smollm2_rows, n), "smollm2")
        if remote_configured():
            run_llm("openai", n, "remote")

    figures: dict[str, dict] = {}
    print(f"data: {args.data} ({n} rows; tuned on rows 1-{tune}, unseen rows {tune + 1}-{n})")
    print(f"{'method':34s} {'split':10s} {'rows':>4s} {'R-1':>7s} {'R-2':>7s} {'R-L':>7s}")
    for name, hs in hyps.items():
        m = len(hs)
        parts = {"all": (0, m)}
        if m > tune:
            parts = {"tune": (0, tune), "unseen": (tune, m), "all": (0, m)}
        figures[name] = {}
        for part, (a, b) in parts.items():
            sc = rouge_scores(hs[a:b], tgt[a:b])
            figures[name][part] = {k: round(v, 4) for k, v in sc.items()} | {"rows": b - a}
            print(f"{name:34s} {part:10s} {b - a:4d} {sc['rouge1']:7.4f} {sc['rouge2']:7.4f} {sc['rougeL']:7.4f}")
    for label, sp in speeds.items():
        print(f"{label}: {sp['calls']} calls, generation {sp['gen_tokens_per_s']} tokens/s, prompt+generation "
              f"{sp['total_tokens_per_s']} tokens/s, {sp['mean_seconds']} s/call; hybrid fell back to extractive "
              f"on {fallbacks[label]} rows")
    if not remote_configured():
        print("remote backend: not configured (set ZHIMEI_OPENAI_BASE_URL to measure one)")
    print(json.dumps({"rows": n, "tune_rows": tune, "rouge": figures, "speed": speeds, "hybrid_fallbacks": fallbacks},
                     ensure_ascii=False))


if __name__ == "__main__":
    main()
