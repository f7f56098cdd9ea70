"""智能校对 proofreading: Chinese spelling (confusion sets + the embedded gemma-3-270m), English spelling, the term
dictionary and number/date/punctuation style. `proofread(text)` → suggestions; `apply_suggestions(text, accepted)`."""

from zhimei.models.zh_speller import (
    ChineseSpeller,
    SpellEdit,
    candidate_kinds,
    confusion_sets,
    get_speller,
    split_clauses,
)
from zhimei.review.proofread.core import (
    LANGS,
    LM_MAX_CHARS,
    MAX_CHARS,
    detect_lang,
    proofread,
    spelling_skipped,
    spelling_suggestions,
)
from zhimei.review.proofread.english import english_suggestions
from zhimei.review.proofread.style import RULES, style_suggestions
from zhimei.review.proofread.terms import Term, TermDict, add_term, load_terms, make_term, remove_term, term_suggestions
from zhimei.review.proofread.types import KINDS, ProofreadError, Suggestion, apply_suggestions, make_suggestion

__all__ = [
    "ChineseSpeller", "SpellEdit", "candidate_kinds", "confusion_sets", "get_speller", "split_clauses",
    "LANGS", "LM_MAX_CHARS", "MAX_CHARS", "detect_lang", "proofread", "spelling_skipped", "spelling_suggestions",
    "english_suggestions", "RULES", "style_suggestions", "Term", "TermDict", "add_term", "load_terms", "make_term",
    "remove_term", "term_suggestions", "KINDS", "ProofreadError", "Suggestion", "apply_suggestions", "make_suggestion",
]
