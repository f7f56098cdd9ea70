"""Chinese spelling correction (错别字): confusion sets propose, the packaged gemma-3-270m decides (see `speller`).

Used by the proofreader (zhimei.review.proofread) on written text and by the ASR backend on Mandarin transcripts
(whisper writes the wrong character for a syllable it heard right; there a pinyin input method's word trigram,
`pinyin_lm`, also proposes the words it would write for the syllables)."""

from zhimei.models.zh_speller.lm import ClauseScores, GemmaScorer, get_scorer
from zhimei.models.zh_speller.pinyin_lm import PinyinReader, WordTrigram, get_pinyin_reader
from zhimei.models.zh_speller.speller import (
    ChineseSpeller,
    SpellEdit,
    apply_edits,
    candidate_kinds,
    confusion_sets,
    edit_groups,
    get_speller,
    split_clauses,
)

__all__ = ["ChineseSpeller", "SpellEdit", "apply_edits", "candidate_kinds", "confusion_sets", "edit_groups",
           "get_speller", "split_clauses", "ClauseScores", "GemmaScorer", "get_scorer", "PinyinReader", "WordTrigram",
           "get_pinyin_reader"]
