"""zhimei.review: moderation (issue 6); the review queue, proofreading, AIGC labels and evidence build on it."""

from zhimei.review.moderation import (
    Finding,
    Lexicon,
    LexiconHit,
    ModerationError,
    Policy,
    PolicyError,
    Reason,
    Verdict,
    default_lexicon,
    get_policy,
    load_classifier,
    moderate_asset,
    moderate_text,
)

__all__ = ["Finding", "Lexicon", "LexiconHit", "ModerationError", "Policy", "PolicyError", "Reason", "Verdict",
           "default_lexicon", "get_policy", "load_classifier", "moderate_asset", "moderate_text"]
