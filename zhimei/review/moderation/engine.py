"""Moderation of a text or an asset: lexicon + classifier + image-safety findings → a policy verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from zhimei.review.moderation.classifier import Classifier, ClassifierError, load_classifier
from zhimei.review.moderation.lexicon import Lexicon, LexiconHit, default_lexicon
from zhimei.review.moderation.normalize import clean_text
from zhimei.review.moderation.policy import CATEGORY_LABELS, TIER_LABELS, TIERS, Policy, get_policy, tier_max

__all__ = ["Finding", "Reason", "Verdict", "ModerationError", "moderate_text", "moderate_asset", "text_findings",
           "image_findings", "asset_findings", "judge", "SEVERITY_SCORE", "MAX_TEXT_CHARS"]

SEVERITY_SCORE = {1: 0.55, 2: 0.8, 3: 0.95}
"""Score of a lexicon hit by the word's severity."""
MAX_TEXT_CHARS = 2_000_000
"""Longer texts are refused (ModerationError) rather than scanned."""


class ModerationError(ValueError):
    """Input that cannot be moderated (unknown asset, text too long); the message names the problem."""


@dataclass(frozen=True)
class Finding:
    """One thing found: category, severity 1-3, score in [0, 1], where it is, and what produced it."""

    category: str
    severity: int
    score: float
    source: str  # lexicon | classifier | image
    where: dict[str, Any] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"category": self.category, "severity": self.severity, "score": round(self.score, 4),
                "source": self.source, "where": self.where, "detail": self.detail}


@dataclass(frozen=True)
class Reason:
    """Why a verdict is what it is, in Chinese and English, pointing at where."""

    code: str
    category: str
    tier: str
    score: float
    zh: str
    en: str
    where: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "category": self.category, "tier": self.tier, "score": round(self.score, 4),
                "zh": self.zh, "en": self.en, "where": self.where}


@dataclass
class Verdict:
    """The outcome: tier (pass | needs_review | block), the highest score, reasons, lexicon hits, classifier score."""

    tier: str
    score: float
    reasons: list[Reason]
    hits: list[LexiconHit]
    classifier: float | None
    channel: str = "default"
    strict: bool = False
    findings: list[Finding] = field(default_factory=list)
    model_version: str | None = None
    asset_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"tier": self.tier, "score": round(self.score, 4), "channel": self.channel, "strict": self.strict,
                "classifier": None if self.classifier is None else round(self.classifier, 4),
                "model_version": self.model_version, "asset_id": self.asset_id,
                "reasons": [r.to_dict() for r in self.reasons], "hits": [h.to_dict() for h in self.hits],
                "findings": [f.to_dict() for f in self.findings]}


def _where_text(where: dict[str, Any]) -> tuple[str, str]:
    """A short human description of a location (zh, en)."""
    if not where:
        return "", ""
    if "keyframe" in where or where.get("image"):
        if where.get("time") is not None:
            t = float(where["time"])
            return f"关键帧 {where.get('keyframe')}（{t:.1f} 秒）", f"keyframe {where.get('keyframe')} at {t:.1f}s"
        return "图片", "the image"
    parts_zh, parts_en = [], []
    if where.get("field") == "title":
        parts_zh.append("标题")
        parts_en.append("title")
    if "segment_id" in where:
        kind = where.get("kind", "segment")
        parts_zh.append(f"{kind} 段 #{where['segment_id']}")
        parts_en.append(f"{kind} segment #{where['segment_id']}")
    if where.get("time") is not None:
        t = float(where["time"])
        parts_zh.append(f"{t:.1f} 秒")
        parts_en.append(f"at {t:.1f}s")
    if "start" in where and "end" in where:
        parts_zh.append(f"字符 {where['start']}–{where['end']}")
        parts_en.append(f"chars {where['start']}-{where['end']}")
    return "，".join(parts_zh), ", ".join(parts_en)


def text_findings(text: str, where: dict[str, Any] | None = None, *, lexicon: Lexicon | None = None,
                  classifier: Classifier | None = None, use_classifier: bool = True,
                  ) -> tuple[list[Finding], list[LexiconHit], float | None]:
    """Lexicon hits and the classifier's score of one text, as findings located inside `where`."""
    where = dict(where or {})
    text = clean_text(text)
    if len(text) > MAX_TEXT_CHARS:
        raise ModerationError(f"text too long to moderate ({len(text)} characters, limit {MAX_TEXT_CHARS})")
    lex = lexicon or default_lexicon()
    hits = lex.find(text)
    findings = []
    base = where.pop("char_base", None)
    for h in hits:
        w = dict(where)
        w.update(start=h.start + (base or 0), end=h.end + (base or 0))
        findings.append(Finding(h.category, h.severity, SEVERITY_SCORE.get(h.severity, 0.8), "lexicon", w,
                                {"word": h.word, "text": h.text, "list": h.source}))
    score = None
    if use_classifier and text.strip():
        clf = classifier or load_classifier()
        score = clf.score(text)
        sev = 3 if score >= 0.9 else 2 if score >= 0.7 else 1
        findings.append(Finding("offensive", sev, score, "classifier", dict(where), {"model": clf.version}))
    return findings, hits, score


def image_findings(rows: list[Any]) -> list[Finding]:
    """Findings from stored image-safety rows (SafetyScore or dicts with max_score/scores/shot_seq/time/model)."""
    out = []
    for r in rows:
        get = r.get if isinstance(r, dict) else (lambda k, _r=r: getattr(_r, k, None))
        score = float(get("max_score") or 0.0)
        labels = dict(get("scores") or {})
        shot = get("shot_seq")
        where: dict[str, Any] = {"keyframe": shot, "time": get("time")} if shot is not None or get("time") is not None \
            else {"image": True}
        top = sorted(labels.items(), key=lambda kv: -float(kv[1]))[:3]
        sev = 3 if score >= 0.9 else 2 if score >= 0.6 else 1
        out.append(Finding("sexual", sev, score, "image", where,
                           {"labels": {k: float(v) for k, v in top}, "model": get("model") or ""}))
    return out


def judge(findings: list[Finding], policy: Policy, strict: bool = False) -> tuple[str, float, list[Reason]]:
    """Apply a policy: the strictest tier over findings, and one reason per finding that is not a pass."""
    tier, top = "pass", 0.0
    reasons: list[Reason] = []
    for f in findings:
        top = max(top, f.score)
        t = policy.tier(f.category, f.score, strict)
        if t == "pass":
            continue
        tier = tier_max(tier, t)
        review_at, block_at = policy.limits(f.category, strict)
        limit = block_at if t == "block" else review_at
        czh, cen = CATEGORY_LABELS.get(f.category, (f.category, f.category))
        tzh, ten = TIER_LABELS[t]
        wzh, wen = _where_text(f.where)
        at_zh = f"，位置：{wzh}" if wzh else ""
        at_en = f" in {wen}" if wen else ""
        if f.source == "lexicon":
            word = f.detail.get("word", "")
            zh = f"命中词表“{word}”（{czh}，严重度 {f.severity}）{at_zh} → {tzh}"
            en = f"listed word “{word}” ({cen}, severity {f.severity}){at_en} → {ten}"
            code = f"lexicon.{f.category}"
        elif f.source == "classifier":
            zh = f"分类器判断为冒犯性言论，概率 {f.score:.2f}（阈值 {limit:.2f}）{at_zh} → {tzh}"
            en = f"classifier: offensive with probability {f.score:.2f} (threshold {limit:.2f}){at_en} → {ten}"
            code = "classifier.offensive"
        else:
            labels = ", ".join(f.detail.get("labels", {}))
            zh = f"图像安全模型得分 {f.score:.2f}（{czh}：{labels}）{at_zh} → {tzh}"
            en = f"image-safety score {f.score:.2f} ({cen}: {labels}){at_en} → {ten}"
            code = f"image.{f.category}"
        reasons.append(Reason(code, f.category, t, f.score, zh, en, f.where))
    reasons.sort(key=lambda r: (-TIERS.index(r.tier), -r.score))
    return tier, top, reasons


def moderate_text(text: str, channel: str = "default", *, strict: bool = False, lexicon: Lexicon | None = None,
                  classifier: Classifier | None = None, use_classifier: bool = True) -> Verdict:
    """Moderate one text under a channel's policy (strict mode lowers the thresholds)."""
    policy = get_policy(channel)
    findings, hits, score = text_findings(text, lexicon=lexicon, classifier=classifier,
                                          use_classifier=use_classifier)
    tier, top, reasons = judge(findings, policy, strict)
    version = (classifier.version if classifier else _model_version()) if use_classifier else None
    return Verdict(tier, top, reasons, hits, score, channel, strict, findings, version)


def _model_version() -> str | None:
    try:
        return load_classifier().version
    except ClassifierError:
        return None


def asset_findings(asset_id: int, *, lexicon: Lexicon | None = None, classifier: Classifier | None = None,
                   use_classifier: bool = True) -> tuple[list[Finding], list[LexiconHit], float | None]:
    """Findings over an asset's title, text segments (transcript/OCR/paragraph/caption) and image-safety scores.
    Read-only over the store; ModerationError for an unknown asset."""
    from sqlalchemy import select

    from zhimei.store.db import read_scope
    from zhimei.store.models import Asset, SafetyScore, Segment

    if not isinstance(asset_id, int) or isinstance(asset_id, bool) or asset_id < 1:
        raise ModerationError(f"asset id must be a positive integer, got {asset_id!r}")
    with read_scope() as s:
        asset = s.get(Asset, asset_id)
        if asset is None:
            raise ModerationError(f"asset {asset_id} not found")
        title = asset.title or ""
        segs = [(g.id, g.kind, g.seq, g.start, g.end, g.char_start, g.text or "")
                for g in s.scalars(select(Segment).where(Segment.asset_id == asset_id)
                                   .order_by(Segment.kind, Segment.seq))]
        safety = [{"max_score": r.max_score, "scores": dict(r.scores or {}), "shot_seq": r.shot_seq,
                   "time": r.time, "model": r.model}
                  for r in s.scalars(select(SafetyScore).where(SafetyScore.asset_id == asset_id)
                                     .order_by(SafetyScore.id))]
    findings: list[Finding] = []
    hits: list[LexiconHit] = []
    top_clf: float | None = None
    units = [({"field": "title"}, title)] if title.strip() else []
    for sid, kind, seq, start, end, char_start, text in segs:
        w: dict[str, Any] = {"segment_id": sid, "kind": kind, "seq": seq}
        if start is not None:
            w["time"] = start
            w["time_end"] = end
        if char_start is not None:
            w["char_base"] = char_start
        units.append((w, text))
    for where, text in units:
        f, h, sc = text_findings(text, where, lexicon=lexicon, classifier=classifier, use_classifier=use_classifier)
        findings += f
        hits += h
        if sc is not None:
            top_clf = sc if top_clf is None else max(top_clf, sc)
    findings += image_findings(safety)
    return findings, hits, top_clf


def moderate_asset(asset_id: int, channel: str = "default", *, strict: bool = False, lexicon: Lexicon | None = None,
                   classifier: Classifier | None = None, use_classifier: bool = True) -> Verdict:
    """Moderate a stored asset: every text segment and image/keyframe score, each reason pointing at where."""
    policy = get_policy(channel)
    findings, hits, score = asset_findings(asset_id, lexicon=lexicon, classifier=classifier,
                                           use_classifier=use_classifier)
    tier, top, reasons = judge(findings, policy, strict)
    version = (classifier.version if classifier else _model_version()) if use_classifier else None
    return Verdict(tier, top, reasons, hits, score, channel, strict, findings, version, asset_id)
