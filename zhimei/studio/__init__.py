"""智能创作 studio: text tasks (summaries, headlines, drafts, rewrites, translation, outlines) over library
assets, with results cached by (task, inputs, model, prompt) and saved as AI-marked assets with lineage;
the media tasks (subtitles, clips, covers, voice-over) live in zhimei.studio.media and are re-exported here."""

from __future__ import annotations

from zhimei.studio import translator as _translator  # noqa: F401  (registers the llm-translator backend)
from zhimei.studio.cache import cache_key, cached, store
from zhimei.studio.errors import StudioError
from zhimei.studio.outputs import check_sources, save_output
from zhimei.studio.rouge import rouge_chars, rouge_scores
from zhimei.studio.sources import SourceSegment, SourceText, source_texts
from zhimei.studio.text import (
    HEADLINE_METHODS,
    STYLES,
    SUMMARY_LENGTHS,
    TASKS,
    StudioResult,
    Variant,
    draft,
    headlines,
    load_result,
    outline,
    rewrite,
    summary,
    support_score,
    translate,
)
from zhimei.studio.translator import LLMTranslator

__all__ = ["StudioError", "save_output", "check_sources", "cache_key", "cached", "store", "SourceSegment",
           "SourceText", "source_texts", "StudioResult", "Variant", "headlines", "summary", "draft", "rewrite",
           "translate", "outline", "load_result", "support_score", "rouge_chars", "rouge_scores", "TASKS",
           "HEADLINE_METHODS", "STYLES", "SUMMARY_LENGTHS", "LLMTranslator"]

from zhimei.studio import media as _media  # noqa: E402  (the media studio's public API, re-exported)
from zhimei.studio.media import *  # noqa: E402,F403

__all__ += list(_media.__all__)
