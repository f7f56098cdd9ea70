"""Character-level ROUGE for Chinese (and any) headlines.

Definition: both texts are NFKC-normalised and lower-cased, then every character that is not a letter or a
digit (Unicode categories L* and N*: whitespace, punctuation and symbols go) is removed. ROUGE-1 and ROUGE-2
are the F1 of clipped character unigram / bigram overlap; ROUGE-L is the F1 (beta = 1) of the longest common
character subsequence. Empty input scores 0.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Sequence

__all__ = ["rouge_chars", "rouge_scores", "norm_chars"]


def norm_chars(text: str) -> str:
    """The characters ROUGE compares: NFKC, lower case, letters and digits only."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in "LN")


def _f1(overlap: int, n_hyp: int, n_ref: int) -> float:
    if not overlap or not n_hyp or not n_ref:
        return 0.0
    p, r = overlap / n_hyp, overlap / n_ref
    return 2 * p * r / (p + r)


def _ngrams(s: str, n: int) -> Counter[str]:
    return Counter(s[i:i + n] for i in range(len(s) - n + 1))


def _lcs(a: str, b: str) -> int:
    if not a or not b:
        return 0
    prev = [0] * (len(b) + 1)
    for ca in a:
        cur = [0]
        for j, cb in enumerate(b):
            cur.append(prev[j] + 1 if ca == cb else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_chars(hypothesis: str, reference: str) -> dict[str, float]:
    """``{"rouge1", "rouge2", "rougeL"}`` F1 scores of one hypothesis against one reference."""
    h, r = norm_chars(hypothesis), norm_chars(reference)
    out = {}
    for n in (1, 2):
        hg, rg = _ngrams(h, n), _ngrams(r, n)
        out[f"rouge{n}"] = _f1(sum((hg & rg).values()), sum(hg.values()), sum(rg.values()))
    out["rougeL"] = _f1(_lcs(h, r), len(h), len(r))
    return out


def rouge_scores(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Mean character ROUGE-1/2/L F1 over aligned pairs."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    if not hypotheses:
        return {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    sums = Counter[str]()
    for h, r in zip(hypotheses, references, strict=True):
        sums.update(rouge_chars(h, r))
    return {k: sums[k] / len(hypotheses) for k in ("rouge1", "rouge2", "rougeL")}
