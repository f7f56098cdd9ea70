"""Question answering over the archive (问答): retrieval and answers on a SQuAD-format file.

Every passage is ingested through the product path (`ingest_bytes` of a Markdown article, its headline as the
title, then the job pipeline: extract_text → entities, tags, embed → index) into a fresh, temporary
ZHIMEI_HOME; then every question is asked.

- retrieval: recall@1/5/10 of the gold passage (one asset per passage, hits grouped per asset) for
  keyword-only (jieba BM25 — the baseline), vector-only and hybrid search;
- answers: exact match and F1 (SQuAD normalisation; characters for Chinese, words otherwise) of `ask()` in
  each answer mode: the short span (shipped, `Answer.short`), the best cited sentence alone and the whole
  extractive answer, plus the embedded LLM on the first `--llm-limit` questions when llama.cpp is installed;
- not found: half the passages get a 2020 date and half a 2021 date; each question is also asked with a
  date filter that leaves its gold passage out, which gives the "archive does not contain it" cases the
  support threshold is calibrated on (accuracy of `found` on both kinds of question).

    .venv/bin/python bench/qa.py [--data FILE] [--limit N] [--no-titles] [--llm-limit N] [--home DIR]

`--home DIR` keeps the indexed home in DIR (outside the repository) and reuses it on the next run with the
same data. The last line of stdout is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import statistics
import string
import sys
import tempfile
import time
import unicodedata
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

try:  # usearch 2.26 loaded before onnxruntime 1.31 crashes the process (segfault) — load onnxruntime first
    import onnxruntime  # noqa: F401
except ImportError:
    pass

DEFAULT_DATA = (ROOT.parent / "shared" / "eval-dev" / "qa" / "cmrc2018_trial_squad_style.json").resolve()
YEAR_A = datetime(2020, 6, 1, tzinfo=UTC)
YEAR_B = datetime(2021, 6, 1, tzinfo=UTC)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- data
def load(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(passages [{i, title, context}], questions [{id, question, answers, passage}])."""
    data = json.loads(path.read_text(encoding="utf-8"))
    passages, questions = [], []
    for art in data.get("data", []):
        for para in art.get("paragraphs", []):
            i = len(passages)
            passages.append({"i": i, "title": (art.get("title") or "").strip(), "context": para["context"]})
            for qa in para.get("qas", []):
                answers = [a["text"] for a in qa.get("answers", []) if a.get("text", "").strip()]
                if qa.get("question", "").strip() and answers:
                    questions.append({"id": qa.get("id", ""), "question": qa["question"], "answers": answers,
                                      "passage": i})
    return passages, questions


# ---------------------------------------------------------------- indexing
def index_passages(passages: list[dict[str, Any]], titles: bool, skip: tuple[str, ...]
                   ) -> tuple[dict[int, int], dict[str, Any]]:
    """Ingest and process every passage; returns (passage → asset id, timing figures). Stages in `skip` are
    marked done without running (tags: keywords and topics, which the retrieval does not need)."""
    from sqlalchemy import select, update

    from zhimei import jobs
    from zhimei.library.assets import ingest_bytes
    from zhimei.store.db import read_scope, session_scope
    from zhimei.store.models import Job

    t0 = time.perf_counter()
    asset_of: dict[int, int] = {}
    for p in passages:
        title = p["title"] if titles and p["title"] else f"passage {p['i'] + 1}"
        when = (YEAR_A if p["i"] % 2 == 0 else YEAR_B) + timedelta(minutes=p["i"])
        res = ingest_bytes(p["context"].encode("utf-8"), f"passage-{p['i'] + 1}.md", title=title,
                           source="qa-bench", published_at=when)
        asset_of[p["i"]] = res.asset_id
    t_ingest = time.perf_counter() - t0
    if skip:
        with session_scope() as s:
            s.execute(update(Job).where(Job.stage.in_(skip)).values(status="done", result={"skipped": "bench/qa.py"}))
    log(f"ingested {len(passages)} passages in {t_ingest:.1f}s; running the pipeline…")
    t1 = time.perf_counter()
    done = 0
    while True:
        n = jobs.drain(max_jobs=200)
        done += n
        log(f"  {done} jobs done ({time.perf_counter() - t1:.0f}s)")
        if n == 0:
            break
    t_pipe = time.perf_counter() - t1
    stages: dict[str, float] = defaultdict(float)
    failed: Counter = Counter()
    with read_scope() as s:
        for stage, status, a, b in s.execute(select(Job.stage, Job.status, Job.started_at, Job.finished_at)):
            if a and b and stage not in skip:
                stages[stage] += (b - a).total_seconds()
            if status != "done":
                failed[f"{stage}:{status}"] += 1
    if failed:
        log(f"WARNING: jobs not done: {dict(failed)}")
    # warm the vector cache (the first vector query catches the ANN index up with the embedding table)
    from zhimei.library.search import search

    t2 = time.perf_counter()
    search("warm up", mode="vector", limit=1)
    t_vec = time.perf_counter() - t2
    return asset_of, {"passages": len(passages), "ingest_s": round(t_ingest, 2), "pipeline_s": round(t_pipe, 2),
                      "per_passage_s": round((t_ingest + t_pipe) / max(1, len(passages)), 3),
                      "vector_cache_s": round(t_vec, 2),
                      "stage_s": {k: round(v, 2) for k, v in sorted(stages.items(), key=lambda kv: -kv[1])},
                      "stages_skipped": list(skip), "jobs_not_done": dict(failed)}


# ---------------------------------------------------------------- scoring
_PUNCT = set(string.punctuation) | set("，。！？；：、“”‘’（）《》〈〉【】「」『』—…·～,.!?;:()[]{}<>\"'")


def _norm_text(s: str) -> str:
    s = unicodedata.normalize("NFKC", s).casefold()
    s = re.sub(r"\[\d+\]", "", s)
    s = "".join(ch for ch in s if ch not in _PUNCT)
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def _tokens(s: str) -> list[str]:
    """SQuAD tokens: characters for CJK (and each Latin word as one token), words otherwise."""
    out: list[str] = []
    for piece in _norm_text(s).split():
        buf = ""
        for ch in piece:
            if "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff":
                if buf:
                    out.append(buf)
                    buf = ""
                out.append(ch)
            else:
                buf += ch
        if buf:
            out.append(buf)
    return out


def exact(pred: str, golds: list[str]) -> float:
    """SQuAD exact match (normalised)."""
    p = "".join(_tokens(pred))
    return float(any(p == "".join(_tokens(g)) for g in golds))


def f1(pred: str, golds: list[str]) -> float:
    """SQuAD token F1 (max over the gold answers)."""
    pt = _tokens(pred)
    best = 0.0
    for g in golds:
        gt = _tokens(g)
        common = Counter(pt) & Counter(gt)
        same = sum(common.values())
        if not same or not pt or not gt:
            continue
        prec, rec = same / len(pt), same / len(gt)
        best = max(best, 2 * prec * rec / (prec + rec))
    return best


# ---------------------------------------------------------------- runs
def _recall(ranks: list[int | None]) -> dict[str, float]:
    n = max(1, len(ranks))
    out = {f"recall@{k}": round(sum(1 for r in ranks if r is not None and r <= k) / n, 4) for k in (1, 5, 10)}
    out["mrr@10"] = round(sum(1.0 / r for r in ranks if r and r <= 10) / n, 4)
    return out


def _fuse(lists: list[tuple[list[int], float]], k: int) -> list[int]:
    score: dict[int, float] = defaultdict(float)
    for ids, weight in lists:
        for rank, a in enumerate(ids):
            score[a] += weight / (k + rank + 1)
    return sorted(score, key=lambda a: -score[a])


def retrieval(questions: list[dict[str, Any]], asset_of: dict[int, int]) -> dict[str, Any]:
    """recall@1/5/10 of the gold passage per search mode (hits grouped per asset), plus fusions of the keyword
    and vector asset lists simulated with other weights (what the hybrid ranking could do with them)."""
    from zhimei.library.search import search

    out: dict[str, Any] = {}
    lists: dict[str, list[list[int]]] = {}
    for mode in ("keyword", "vector", "hybrid"):
        ranks, times, got = [], [], []
        for q in questions:
            t = time.perf_counter()
            res = search(q["question"], mode=mode, limit=10 if mode == "hybrid" else 50)
            times.append(time.perf_counter() - t)
            ids = [h.asset_id for h in res.hits]
            got.append(ids)
            gold = asset_of[q["passage"]]
            ranks.append(ids.index(gold) + 1 if gold in ids else None)
        lists[mode] = got
        out[mode] = _recall(ranks) | {"ms_per_query": round(1000 * statistics.mean(times), 1) if times else None}
        log(f"{mode:8s} {out[mode]}")
    sims = {}
    for k in (60, 20, 5):
        for wv in (1.0, 0.7, 0.5, 0.3):
            ranks = []
            for q, kw, vec in zip(questions, lists["keyword"], lists["vector"], strict=True):
                fused = _fuse([(kw, 1.0), (vec, wv)], k)
                gold = asset_of[q["passage"]]
                ranks.append(fused.index(gold) + 1 if gold in fused else None)
            sims[f"rrf_k{k}_vector_weight{wv}"] = _recall(ranks)
    out["simulated_fusions"] = sims
    if os.environ.get("QA_BENCH_DUMP"):  # per-question asset lists, for studying other fusions offline
        Path(os.environ["QA_BENCH_DUMP"]).write_text(json.dumps(
            {"gold": [asset_of[q["passage"]] for q in questions], "questions": [q["question"] for q in questions],
             **lists}, ensure_ascii=False))
    log(f"simulated: { {k: v['recall@1'] for k, v in sims.items()} }")
    return out


def answers(questions: list[dict[str, Any]], asset_of: dict[int, int], passages: list[dict[str, Any]]
            ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """EM/F1 of the extractive answers (span, best sentence, whole answer) and found-accuracy, plus the
    support scores of answerable and unanswerable questions (for calibrating the threshold)."""
    from zhimei.library.search import ask

    rows = {"span": [], "sentence": [], "answer": []}
    cited_gold, found_pos, found_neg, times = [], [], [], []
    support = []
    for j, q in enumerate(questions):
        gold = asset_of[q["passage"]]
        t = time.perf_counter()
        a = ask(q["question"], mode="extractive")
        times.append(time.perf_counter() - t)
        first = a.sentences[0].text if a.found and a.sentences else ""
        whole = " ".join(s.text for s in a.sentences) if a.found else ""
        short = (a.short or first) if a.found else ""
        for name, pred in (("span", short), ("sentence", first), ("answer", whole)):
            rows[name].append((exact(pred, q["answers"]), f1(pred, q["answers"])))
        cited = {a.sources[c].asset_id for s in a.sentences for c in s.citations}
        cited_gold.append(gold in cited)
        found_pos.append(a.found)
        support.append({"label": 1, "support": a.support})
        # the same question over the other year's passages only: its gold passage is not there
        other = "2021" if passages[q["passage"]]["i"] % 2 == 0 else "2020"
        b = ask(q["question"], mode="extractive", filters={"date_from": f"{other}-01-01", "date_to": f"{other}-12-31"})
        found_neg.append(b.found)
        support.append({"label": 0, "support": b.support})
        if (j + 1) % 100 == 0:
            log(f"  asked {j + 1}/{len(questions)}")
    n = max(1, len(questions))
    out: dict[str, Any] = {}
    for name, vals in rows.items():
        out[name] = {"em": round(sum(v[0] for v in vals) / n, 4), "f1": round(sum(v[1] for v in vals) / n, 4)}
    out["cites_gold_passage"] = round(sum(cited_gold) / n, 4)
    out["found_when_present"] = round(sum(found_pos) / n, 4)
    out["not_found_when_absent"] = round(sum(1 for f in found_neg if not f) / n, 4)
    out["ms_per_question"] = round(1000 * statistics.mean(times), 1) if times else None
    return out, support


def calibrate(support: list[dict[str, Any]]) -> dict[str, Any]:
    """The support threshold with the best balanced accuracy (reported, not applied)."""
    pos = sorted(s["support"] for s in support if s["label"] == 1)
    neg = sorted(s["support"] for s in support if s["label"] == 0)
    if not pos or not neg:
        return {}
    best = (0.0, 0.0)
    for t in sorted({round(x, 3) for x in pos + neg}):
        tpr = sum(1 for x in pos if x >= t) / len(pos)
        tnr = sum(1 for x in neg if x < t) / len(neg)
        if (tpr + tnr) / 2 > best[0]:
            best = ((tpr + tnr) / 2, t)
    return {"best_threshold": best[1], "balanced_accuracy": round(best[0], 4),
            "support_median_present": round(statistics.median(pos), 3),
            "support_median_absent": round(statistics.median(neg), 3)}


def llm_answers(questions: list[dict[str, Any]], limit: int, name: str | None) -> dict[str, Any] | None:
    """EM/F1 of ask(mode="llm") on the first `limit` questions (None when no LLM can run here)."""
    from zhimei.library.search import ask
    from zhimei.models import NotReady, get_backend

    try:
        llm = get_backend("llm", name)
    except NotReady as exc:
        log(f"LLM answers skipped: {exc}")
        return {"skipped": str(exc)[:200]}
    qs = questions[:limit]
    ems, f1s, times, empty = [], [], [], 0
    for q in qs:
        t = time.perf_counter()
        a = ask(q["question"], mode="llm", llm=name)
        times.append(time.perf_counter() - t)
        pred = " ".join(s.text for s in a.sentences) if a.found and a.mode_used == "llm" else ""
        empty += a.mode_used != "llm"
        ems.append(exact(pred, q["answers"]))
        f1s.append(f1(pred, q["answers"]))
    n = max(1, len(qs))
    return {"model": getattr(llm, "name", name), "questions": len(qs), "em": round(sum(ems) / n, 4),
            "f1": round(sum(f1s) / n, 4), "fell_back_to_extractive": empty,
            "ms_per_question": round(1000 * statistics.mean(times), 1) if times else None}


def llm_in_child(args: argparse.Namespace, home: Path) -> dict[str, Any]:
    """The LLM rows in a child process over the same indexed home (a crash in native code loses only them)."""
    import subprocess

    cmd = [sys.executable, __file__, "--data", str(args.data), "--home", str(home), "--llm", args.llm,
           "--llm-limit", str(args.llm_limit), "--llm-only"] + (["--no-titles"] if args.no_titles else []) \
        + (["--all-stages"] if args.all_stages else [])
    res = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    lines = (res.stdout or "").strip().splitlines()
    if res.returncode != 0 or not lines:
        return {"model": args.llm, "error": f"the LLM run failed (exit status {res.returncode})"}
    return json.loads(lines[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="a SQuAD-format JSON file")
    ap.add_argument("--limit", type=int, default=0, help="ask only the first N questions (all passages indexed)")
    ap.add_argument("--no-titles", action="store_true", help="index passages without their article titles")
    ap.add_argument("--llm-limit", type=int, default=40, help="questions answered by the LLM (0: none)")
    ap.add_argument("--llm", default="gemma3", help="LLM backend for the llm rows (gemma3, smollm2)")
    ap.add_argument("--home", type=Path, help="keep/reuse the indexed home here (outside the repository)")
    ap.add_argument("--all-stages", action="store_true", help="also run the tags stage (keywords, topics)")
    ap.add_argument("--answer-limit", type=int, default=0, help="answer only the first N questions (0: all)")
    ap.add_argument("--llm-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--skip-retrieval", action="store_true", help="answer figures only")
    ap.add_argument("--skip-answers", action="store_true", help="retrieval figures only")
    args = ap.parse_args()
    if not args.data.is_file():
        sys.exit(f"no such file: {args.data}")
    passages, questions = load(args.data)
    if not passages or not questions:
        sys.exit(f"{args.data} holds no SQuAD passages with answered questions")
    if args.limit:
        questions = questions[:args.limit]
    flags = (b"notitles" if args.no_titles else b"") + (b"all" if args.all_stages else b"")
    digest = hashlib.sha256(args.data.read_bytes() + flags).hexdigest()[:16]
    home = args.home or Path(tempfile.mkdtemp(prefix="zhimei-qa-"))
    if home.resolve().is_relative_to(ROOT):
        sys.exit("--home must be outside the repository")
    os.environ["ZHIMEI_HOME"] = str(home)
    marker = home / f"qa-bench-{digest}.json"
    from zhimei.settings import reset_settings
    from zhimei.store import migrate

    reset_settings()
    migrate()
    if marker.is_file():
        saved = json.loads(marker.read_text())
        asset_of = {int(k): v for k, v in saved["asset_of"].items()}
        indexing = saved["indexing"] | {"reused": True}
        log(f"reusing the indexed home {home}")
    else:
        asset_of, indexing = index_passages(passages, titles=not args.no_titles,
                                            skip=() if args.all_stages else ("tags",))
        if args.home:
            marker.write_text(json.dumps({"asset_of": asset_of, "indexing": indexing}))
    if args.llm_only:
        print(json.dumps(llm_answers(questions, args.llm_limit, args.llm), ensure_ascii=False))
        return
    if not args.home:
        marker.write_text(json.dumps({"asset_of": asset_of, "indexing": indexing}))  # for the LLM child
    log(f"indexing: {indexing}")
    figures: dict[str, Any] = {"data": args.data.name, "questions": len(questions), "passages": len(passages),
                               "titles": not args.no_titles, "indexing": indexing}
    if not args.skip_retrieval:
        figures["retrieval"] = retrieval(questions, asset_of)
        figures["baseline"] = {"keyword_bm25_recall@1": figures["retrieval"]["keyword"]["recall@1"]}
    if not args.skip_answers:
        asked = questions[:args.answer_limit] if args.answer_limit else questions
        ans, support = answers(asked, asset_of, passages)
        ans["questions"] = len(asked)
        figures["answers"] = ans
        figures["not_found_calibration"] = calibrate(support)
        if args.llm_limit:
            figures["answers"]["llm"] = llm_in_child(args, home)
        log(f"answers: {figures['answers']}")
    if not args.home:
        import shutil

        shutil.rmtree(home, ignore_errors=True)
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
