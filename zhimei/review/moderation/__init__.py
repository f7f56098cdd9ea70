"""Moderation: lexicon (Aho-Corasick over normalised text), offensive-text classifier, image-safety findings,
channel policies → a Verdict (pass / needs_review / block) with reasons in Chinese and English."""

from zhimei.review.moderation.classifier import Classifier, ClassifierError, load_classifier
from zhimei.review.moderation.engine import (
    Finding,
    ModerationError,
    Reason,
    Verdict,
    asset_findings,
    image_findings,
    judge,
    moderate_asset,
    moderate_text,
    text_findings,
)
from zhimei.review.moderation.lexicon import CompiledLexicon, Lexicon, LexiconError, LexiconHit, default_lexicon
from zhimei.review.moderation.normalize import normalize_text, skeleton
from zhimei.review.moderation.policy import TIERS, Policy, PolicyError, get_policy, load_policies

__all__ = [
    "Classifier", "ClassifierError", "load_classifier", "Finding", "ModerationError", "Reason", "Verdict",
    "asset_findings", "image_findings", "judge", "moderate_asset", "moderate_text", "text_findings",
    "CompiledLexicon", "Lexicon", "LexiconError", "LexiconHit", "default_lexicon", "normalize_text", "skeleton",
    "TIERS", "Policy", "PolicyError", "get_policy", "load_policies",
]
