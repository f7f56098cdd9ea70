"""Moderation (内容审核): the shipped offensive-text classifier and the lexicon engine.

- Classifier quality (macro-F1, precision, recall of the offensive class):
  * 5-fold stratified cross-validation of the shipped recipe (features + models from the model's metadata, the
    semantic member included when the model has one; its word vectors come from the packaged embedder) on
    the dev file it is trained on (COLD_dev.csv) together with the English sample (jigsaw_sample.csv); COLD and
    English figures are reported separately from the out-of-fold predictions (the English sample is never
    scored by a model that saw it);
  * `--data FILE`: any other COLD-format CSV scored as unseen test data by the shipped model file;
  * each COLD topic of the dev file held out in turn (fitted on the other topics, same recipe): harsher than
    cross-validation, whose folds share the training distribution, so a closer proxy for unseen data;
  * the baseline — character n-gram (1-3) TF-IDF + logistic regression (scikit-learn defaults) — on the same
    folds and topics, and trained on the dev file for `--data`.
- Lexicon: texts/s of the lexicon (Aho-Corasick over the normalised skeleton) next to a naive regex loop over the
  same word list (one case-insensitive `re.search` per word, raw text) on the dev texts, again with a 2,000-word
  list (the shipped words + generated ones), and how many adversarial spellings of the listed words (full width,
  circled letters, homoglyphs, zero-width / inserted characters, traditional characters) each catches.
- Lexicon + classifier: texts/s of `moderate_text` (the whole text path) in one process and summed over two
  processes (the 2-core figure).

    .venv/bin/python bench/moderation.py [--data FILE] [--dev FILE] [--english FILE] [--no-cv]

The last line of stdout is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from zhimei.review.moderation.classifier import ClassifierError, latest_model_path, load_classifier  # noqa: E402
from zhimei.review.moderation.engine import moderate_text  # noqa: E402
from zhimei.review.moderation.lexicon import Lexicon, load_terms, package_wordlist_dir  # noqa: E402
from zhimei.review.moderation.normalize import normalize_text  # noqa: E402
from zhimei.review.moderation.train import (  # noqa: E402
    FOLDS,
    SEED,
    TrainError,
    cv_predict,
    default_data,
    group_predict,
    metrics,
    read_cold,
    read_jigsaw,
    read_topics,
    sha256,
    word_table,
)


def _baseline_fit(texts: list[str], y: np.ndarray):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(TfidfVectorizer(analyzer="char", ngram_range=(1, 3)),
                         LogisticRegression(max_iter=1000, random_state=SEED)).fit(texts, y)


def _baseline_cv(texts: list[str], y: np.ndarray, strata: np.ndarray) -> np.ndarray:
    from sklearn.model_selection import StratifiedKFold

    out = np.zeros(len(y))
    for tr, te in StratifiedKFold(FOLDS, shuffle=True, random_state=SEED).split(texts, strata):
        m = _baseline_fit([texts[i] for i in tr], y[tr])
        out[te] = m.predict_proba([texts[i] for i in te])[:, 1]
    return out


def _baseline_groups(texts: list[str], y: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """The baseline's out-of-group probabilities (each group scored by a fit on the others)."""
    out = np.zeros(len(y))
    for g in sorted(set(groups.tolist())):
        te = groups == g
        m = _baseline_fit([t for t, k in zip(texts, te, strict=True) if not k], y[~te])
        out[te] = m.predict_proba([t for t, k in zip(texts, te, strict=True) if k])[:, 1]
    return out


def _rate(fn, texts: list[str], min_seconds: float = 3.0) -> float:
    """Texts per second of fn over texts (repeated until min_seconds)."""
    n, t0 = 0, time.perf_counter()
    while True:
        for t in texts:
            fn(t)
        n += len(texts)
        dt = time.perf_counter() - t0
        if dt >= min_seconds:
            return n / dt


def _worker(args: tuple[list[str], float]) -> tuple[int, float]:
    texts, secs = args
    lex = Lexicon([package_wordlist_dir()], check_every=1.0)
    clf = load_classifier()
    moderate_text(texts[0], lexicon=lex, classifier=clf)  # warm (t2s table, model load)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < secs:
        for t in texts:
            moderate_text(t, lexicon=lex, classifier=clf)
        n += len(texts)
    return n, time.perf_counter() - t0


_CYR = {"a": "а", "e": "е", "o": "о", "c": "с", "p": "р", "x": "х", "y": "у"}


def _adversarial(words: list[str]) -> list[str]:
    """Each listed word spelled adversarially (full width, circled, homoglyphs, zero-width / inserted characters,
    traditional characters) inside a carrier sentence."""
    import opencc

    s2t = opencc.OpenCC("s2t")
    out = []
    for w in words:
        latin = w.isascii()
        forms = ["".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in w), "\u200b".join(w),
                 (" " if latin else "*").join(w)]
        if latin:
            forms += ["".join(chr(0x24D0 + ord(c) - 97) if "a" <= c <= "z" else c for c in w),
                      "".join(_CYR.get(c, c) for c in w), w.upper()]
        else:
            forms.append(s2t.convert(w))
        out += [f"you are {f} ok" if latin else f"他说{f}了" for f in forms if f != w]
    return out


def _big_list(words: list[str], n: int, folder: Path) -> Path:
    """The shipped words plus generated 3-character Chinese words up to n (fixed seed), as a TSV file."""
    rng = np.random.default_rng(SEED)
    extra = ["".join(chr(int(c)) for c in rng.integers(0x4E00, 0x9FA5, 3)) for _ in range(n - len(words))]
    path = folder / f"zhimei-bench-words-{n}.tsv"
    path.write_text("".join(f"{w}\n" for w in words + extra), encoding="utf-8")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    d_cold, d_en = default_data()
    ap.add_argument("--data", type=Path, help="a COLD-format CSV scored as unseen test data")
    ap.add_argument("--dev", type=Path, default=d_cold, help="the COLD-format dev/training file")
    ap.add_argument("--english", type=Path, default=d_en, help="Jigsaw-format English sample")
    ap.add_argument("--no-cv", action="store_true", help="skip the cross-validation (throughput + --data only)")
    ap.add_argument("--seconds", type=float, default=3.0, help="seconds per throughput measurement")
    a = ap.parse_args()

    model_path = latest_model_path()
    clf = load_classifier(model_path)
    meta = clf.meta
    result: dict = {"model": model_path.name, "model_version": clf.version, "model_bytes": model_path.stat().st_size,
                    "selected": meta.get("selected")}
    zt, zy = read_cold(a.dev)
    et, ey = read_jigsaw(a.english) if a.english and a.english.is_file() else ([], np.zeros(0, np.int64))
    trained_on = {d["sha256"] for d in meta.get("data", [])}
    result["dev_file_is_training_data"] = sha256(a.dev) in trained_on
    print(f"model {model_path.name}: {meta.get('selected')}, {meta['features']['n_features']} features; "
          f"dev {a.dev.name} ({len(zt)} rows), English {a.english.name if len(et) else '-'} ({len(et)} rows)")

    if not a.no_cv:
        texts = [normalize_text(t) for t in zt + et]
        y = np.concatenate([zy, ey])
        src = np.asarray([0] * len(zt) + [1] * len(et))
        strata = src * 2 + y
        zh = src == 0
        ngram = tuple(meta["features"]["ngram"])
        models = tuple((m["kind"], float(m["C"])) for m in meta["models"])
        t0 = time.time()
        table = word_table(texts) if meta.get("semantic") else None  # each fold keeps only its own words
        p = cv_predict(texts, y, strata, ngram, models, table=table)
        cv_s = time.time() - t0
        b = _baseline_cv(zt + et, y, strata)
        result["cv_dev"] = {"shipped": metrics(y[zh], (p[zh] >= 0.5).astype(int)),
                            "baseline": metrics(y[zh], (b[zh] >= 0.5).astype(int)), "folds": FOLDS, "seed": SEED}
        if len(et):
            result["cv_english"] = {"shipped": metrics(y[~zh], (p[~zh] >= 0.5).astype(int)),
                                    "baseline": metrics(y[~zh], (b[~zh] >= 0.5).astype(int))}
        print(f"5-fold CV on {a.dev.name} ({cv_s:.0f}s): shipped {result['cv_dev']['shipped']}")
        print(f"                      baseline {result['cv_dev']['baseline']}")
        if len(et):
            print(f"English sample, out-of-fold: shipped {result['cv_english']['shipped']}")
            print(f"                           baseline {result['cv_english']['baseline']}")
        topics = np.asarray(read_topics(a.dev))
        if len(set(topics.tolist()) - {""}) >= 2:
            gp = group_predict(texts[: len(zt)], zy, topics, ngram, models, table=table)
            gb = _baseline_groups(zt, zy, topics)
            per = {g: {"shipped": metrics(zy[topics == g], (gp[topics == g] >= 0.5).astype(int))["macro_f1"],
                       "baseline": metrics(zy[topics == g], (gb[topics == g] >= 0.5).astype(int))["macro_f1"]}
                   for g in sorted(set(topics.tolist()))}
            result["topic_held_out"] = {"per_topic": per,
                                        "shipped_mean": round(float(np.mean([v["shipped"] for v in per.values()])), 4),
                                        "baseline_mean": round(float(np.mean([v["baseline"] for v in per.values()])),
                                                               4)}
            print(f"each topic held out (trained on the others; a proxy for unseen data): "
                  f"shipped {result['topic_held_out']['shipped_mean']}, "
                  f"baseline {result['topic_held_out']['baseline_mean']}  {per}")

    if a.data:
        tt, ty = read_cold(a.data)
        pred = np.asarray([clf.score(t) for t in tt]) >= clf.threshold
        base = _baseline_fit(zt, zy).predict(tt)
        seen = set(zt)
        result["test"] = {"file": a.data.name, "sha256": sha256(a.data),
                          "in_training_data": sha256(a.data) in trained_on,
                          "rows_also_in_dev_file": round(sum(t in seen for t in tt) / max(1, len(tt)), 4),
                          "shipped": metrics(ty, pred.astype(int)), "baseline": metrics(ty, base)}
        print(f"unseen {a.data.name}: shipped {result['test']['shipped']}")
        print(f"              baseline {result['test']['baseline']}")

    # ---------------------------------------------------------------- throughput
    sample = (zt + et)[:3000]
    words = [t.word for t in load_terms(package_wordlist_dir() / "default.tsv") if t.category != "allow"]
    regexes = [re.compile(re.escape(w), re.IGNORECASE) for w in words]

    def naive(text: str) -> list:
        return [r.pattern for r in regexes if r.search(text)]

    lex = Lexicon([package_wordlist_dir()], check_every=1.0)
    adv = _adversarial(words)
    result["adversarial"] = {"variants": len(adv), "lexicon_caught": sum(bool(lex.find(t)) for t in adv),
                             "naive_regex_caught": sum(bool(naive(t)) for t in adv)}
    print(f"adversarial spellings ({len(adv)}): lexicon catches {result['adversarial']['lexicon_caught']}, "
          f"naive regex {result['adversarial']['naive_regex_caught']}")
    big = _big_list(words, 2000, Path(tempfile.gettempdir()))
    big_lex = Lexicon([big], check_every=1.0)
    big_re = [re.compile(re.escape(w), re.IGNORECASE) for w in big.read_text(encoding="utf-8").split("\n")[:-1]]
    small = sample[:300]
    big_lex.find(small[0])
    result["throughput_2000_words"] = {
        "lexicon_texts_per_s": round(_rate(big_lex.find, small, a.seconds)),
        "naive_regex_texts_per_s": round(_rate(lambda t: [r for r in big_re if r.search(t)], small, a.seconds))}
    big.unlink()
    print(f"with a 2,000-word list: lexicon {result['throughput_2000_words']['lexicon_texts_per_s']:,} texts/s, "
          f"naive regex loop {result['throughput_2000_words']['naive_regex_texts_per_s']:,} texts/s")
    lex.find(sample[0])  # warm: compile + t2s table
    lex_hits = sum(bool(lex.find(t)) for t in sample)
    naive_hits = sum(bool(naive(t)) for t in sample)
    lex_rate = _rate(lex.find, sample, a.seconds)
    naive_rate = _rate(naive, sample, a.seconds)
    clf_rate = _rate(clf.score, sample, a.seconds)
    full_rate = _rate(lambda t: moderate_text(t, lexicon=lex, classifier=clf), sample, a.seconds)
    with mp.get_context("spawn").Pool(2) as pool:
        parts = pool.map(_worker, [(sample[0::2], a.seconds), (sample[1::2], a.seconds)])
    two = sum(n / dt for n, dt in parts)
    result["throughput"] = {
        "texts": len(sample), "words": len(words), "mean_chars": round(float(np.mean([len(t) for t in sample])), 1),
        "lexicon_texts_per_s": round(lex_rate), "naive_regex_texts_per_s": round(naive_rate),
        "lexicon_texts_with_hits": lex_hits, "naive_regex_texts_with_hits": naive_hits,
        "classifier_texts_per_s": round(clf_rate), "lexicon_classifier_texts_per_s_1proc": round(full_rate),
        "lexicon_classifier_texts_per_s_2proc": round(two),
    }
    print(f"lexicon {lex_rate:,.0f} texts/s ({lex_hits} texts with hits) vs naive regex loop {naive_rate:,.0f} "
          f"texts/s ({naive_hits} with hits), {len(words)} words")
    print(f"classifier {clf_rate:,.0f} texts/s; lexicon+classifier (moderate_text) {full_rate:,.0f} texts/s in one "
          f"process, {two:,.0f} texts/s in two")
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    try:
        main()
    except (TrainError, ClassifierError) as exc:
        sys.exit(f"error: {exc}")
