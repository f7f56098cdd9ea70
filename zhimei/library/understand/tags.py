"""Tags: keywords of an asset's text, topics from the controlled vocabulary, and editors' own tags.

Automatic tags have origin "auto" (keywords) or "topic" (vocabulary); a person's tags have origin "user"
and re-runs never touch them. A tag an editor removed is not added back by a re-run. Every change by a
person is recorded in TagChange (who changed what, when).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from zhimei.store.models import Tag, TagChange, Topic, utcnow

__all__ = ["DEFAULT_TOPICS", "TopicScore", "TagError", "ensure_topics", "topic_dicts", "keyword_hits",
           "score_topics", "removed_by_people", "add_user_tag", "remove_tag", "tag_changes", "clean_tag",
           "create_topic", "update_topic", "delete_topic", "topic_text", "topic_vectors", "chosen_topics", "MAX_TAG",
           "TOPIC_MIN_SCORE"]

MAX_TAG = 200
TOPIC_MIN_SCORE = 0.5
"""A topic is tagged when its combined score reaches this (and it is close to the best topic)."""

DEFAULT_TOPICS: list[dict[str, Any]] = [
    {"name": "时政", "name_en": "politics", "keywords": [
        "政府", "国务院", "总理", "主席", "部长", "人大", "政协", "会议", "政策", "选举", "议会", "官员", "党委",
        "市委", "省委", "市政府", "市长", "立法", "法案", "外交部", "改革", "politics", "government", "minister",
        "president", "parliament", "election", "council", "mayor", "policy", "senate", "congress", "cabinet",
        "vote", "law"]},
    {"name": "财经", "name_en": "economy", "keywords": [
        "经济", "金融", "股市", "股票", "A股", "基金", "银行", "投资", "市场", "企业", "公司", "利率", "通胀", "GDP",
        "贸易", "出口", "楼市", "房价", "房地产", "债券", "收益", "营收", "财报", "央行", "economy", "economic",
        "market", "stocks", "shares", "bank", "investment", "inflation", "trade", "finance", "budget", "company",
        "prices", "housing", "revenue", "profit"]},
    {"name": "科技", "name_en": "technology", "keywords": [
        "科技", "技术", "人工智能", "互联网", "手机", "芯片", "软件", "数据", "科学", "研究", "卫星", "航天", "火箭",
        "机器人", "电脑", "网络", "创新", "5G", "AI", "technology", "tech", "software", "internet", "artificial",
        "intelligence", "smartphone", "chip", "science", "scientists", "research", "space", "satellite", "robot",
        "digital", "computer"]},
    {"name": "体育", "name_en": "sports", "keywords": [
        "体育", "比赛", "足球", "篮球", "联赛", "冠军", "奥运", "球队", "球员", "进球", "赛季", "世界杯", "NBA", "网球",
        "排球", "乒乓球", "运动员", "教练", "决赛", "sports", "sport", "football", "soccer", "basketball", "match",
        "league", "championship", "olympic", "olympics", "team", "coach", "tournament", "goal", "athletes"]},
    {"name": "文化", "name_en": "culture", "keywords": [
        "文化", "艺术", "电影", "音乐", "博物馆", "展览", "文学", "戏剧", "演出", "明星", "娱乐", "导演", "演员",
        "歌手", "节日", "遗产", "游戏", "书", "culture", "cultural", "art", "arts", "film", "movie", "music",
        "museum", "exhibition", "festival", "theatre", "theater", "heritage", "concert", "actor", "book"]},
    {"name": "社会", "name_en": "society", "keywords": [
        "社会", "居民", "社区", "警方", "事故", "交通", "民生", "救援", "志愿者", "法院", "犯罪", "安全", "市民",
        "村民", "住房", "养老", "就业", "城市", "桥", "society", "social", "residents", "community", "police",
        "accident", "traffic", "volunteers", "court", "crime", "safety", "citizens", "bridge", "city", "housing"]},
    {"name": "国际", "name_en": "world", "keywords": [
        "国际", "外交", "联合国", "美国", "欧洲", "俄罗斯", "日本", "战争", "冲突", "峰会", "大使", "制裁", "全球",
        "world", "international", "united nations", "foreign", "diplomatic", "diplomacy", "war", "conflict",
        "summit", "ambassador", "sanctions", "global", "europe", "nato"]},
    {"name": "健康", "name_en": "health", "keywords": [
        "健康", "医院", "医生", "疾病", "疫情", "疫苗", "医疗", "患者", "药品", "病毒", "卫生", "癌症", "health",
        "hospital", "doctor", "doctors", "disease", "vaccine", "medical", "patients", "virus", "medicine",
        "pandemic", "cancer", "nurses"]},
    {"name": "教育", "name_en": "education", "keywords": [
        "教育", "学校", "学生", "大学", "高考", "考试", "教师", "老师", "课程", "招生", "校园", "留学", "毕业",
        "education", "school", "schools", "students", "student", "university", "teachers", "teacher", "exam",
        "exams", "classroom", "college", "graduates"]},
    {"name": "环境", "name_en": "environment", "keywords": [
        "环境", "环保", "污染", "气候", "生态", "排放", "河流", "森林", "野生动物", "碳", "空气质量", "垃圾", "能源",
        "environment", "environmental", "pollution", "climate", "ecology", "emissions", "river", "forest",
        "wildlife", "carbon", "air quality", "litter", "renewable", "energy", "recycling"]},
]


class TagError(ValueError):
    """A tag or topic request that cannot be done; the message says why."""


@dataclass(frozen=True)
class TopicScore:
    """How well an asset fits a topic: keyword evidence, embedding similarity and the combined score."""

    name: str
    score: float
    keyword: float
    semantic: float
    hits: int


def clean_tag(name: str) -> str:
    """A tag as stored: spaces collapsed, at most MAX_TAG characters; TagError when empty or too long."""
    clean = " ".join((name or "").split())
    if not clean:
        raise TagError("a tag needs some text")
    if len(clean) > MAX_TAG:
        raise TagError(f"a tag may be at most {MAX_TAG} characters")
    if any(ord(c) < 32 for c in clean):
        raise TagError("a tag may not hold control characters")
    return clean


# ---------------------------------------------------------------- the vocabulary

def ensure_topics(session: Session) -> None:
    """Seed the default newsroom vocabulary when the topic table is empty."""
    if session.scalar(select(func.count()).select_from(Topic)):
        return
    for t in DEFAULT_TOPICS:
        session.add(Topic(name=t["name"], name_en=t["name_en"], keywords=list(t["keywords"]), updated_by="system"))
    session.flush()


def topic_dicts(session: Session, enabled_only: bool = False) -> list[dict[str, Any]]:
    """The vocabulary as plain dicts."""
    ensure_topics(session)
    q = select(Topic).order_by(Topic.id)
    if enabled_only:
        q = q.where(Topic.enabled.is_(True))
    return [{"id": t.id, "name": t.name, "name_en": t.name_en, "keywords": list(t.keywords or []),
             "parent_id": t.parent_id, "enabled": t.enabled, "updated_by": t.updated_by,
             "updated_at": t.updated_at.isoformat() if t.updated_at else None} for t in session.scalars(q)]


def _clean_keywords(words: Sequence[str] | None) -> list[str]:
    out = [" ".join(str(w).split())[:100] for w in (words or [])]
    return list(dict.fromkeys(w for w in out if w))[:500]


def create_topic(session: Session, name: str, name_en: str = "", keywords: Sequence[str] | None = None,
                 parent_id: int | None = None, who: str = "") -> dict[str, Any]:
    """Add a topic to the vocabulary (admin)."""
    ensure_topics(session)
    clean = " ".join((name or "").split())
    if not clean or len(clean) > 100:
        raise TagError("a topic needs a name of 1 to 100 characters")
    if session.scalar(select(Topic.id).where(Topic.name == clean)):
        raise TagError(f"a topic named {clean!r} exists already")
    if parent_id is not None and session.get(Topic, parent_id) is None:
        raise TagError(f"no parent topic {parent_id}")
    t = Topic(name=clean, name_en=" ".join((name_en or "").split())[:100], keywords=_clean_keywords(keywords),
              parent_id=parent_id, updated_by=who)
    session.add(t)
    session.flush()
    return next(d for d in topic_dicts(session) if d["id"] == t.id)


def update_topic(session: Session, topic_id: int, who: str, **changes: Any) -> dict[str, Any]:
    """Change a topic's name, English name, keywords, parent or enabled flag (admin)."""
    t = session.get(Topic, topic_id)
    if t is None:
        raise LookupError(f"no topic {topic_id}")
    if changes.get("name") is not None:
        clean = " ".join(changes["name"].split())
        if not clean or len(clean) > 100:
            raise TagError("a topic needs a name of 1 to 100 characters")
        if clean != t.name and session.scalar(select(Topic.id).where(Topic.name == clean)):
            raise TagError(f"a topic named {clean!r} exists already")
        t.name = clean
    if changes.get("name_en") is not None:
        t.name_en = " ".join(changes["name_en"].split())[:100]
    if changes.get("keywords") is not None:
        t.keywords = _clean_keywords(changes["keywords"])
    if "parent_id" in changes and changes["parent_id"] is not None:
        pid = changes["parent_id"]
        if pid == t.id or session.get(Topic, pid) is None:
            raise TagError(f"topic {pid} cannot be the parent")
        t.parent_id = pid
    if changes.get("enabled") is not None:
        t.enabled = bool(changes["enabled"])
    t.updated_by, t.updated_at = who, utcnow()
    session.flush()
    return next(d for d in topic_dicts(session) if d["id"] == t.id)


def delete_topic(session: Session, topic_id: int) -> None:
    """Remove a topic from the vocabulary (tags already given stay until the asset is processed again)."""
    t = session.get(Topic, topic_id)
    if t is None:
        raise LookupError(f"no topic {topic_id}")
    session.delete(t)
    session.flush()


# ---------------------------------------------------------------- scoring

def _en_pattern(word: str) -> re.Pattern[str]:
    return re.compile(r"(?<![A-Za-z])" + re.escape(word) + r"(?:s|es)?(?![A-Za-z])", re.IGNORECASE)


def keyword_hits(text: str, keywords: Sequence[str], cap: int = 3) -> tuple[int, float]:
    """(distinct keywords found, weighted hits): each keyword counts at most `cap` times; Chinese keywords
    match as substrings, Latin ones as whole words (plural s/es allowed)."""
    distinct, weighted = 0, 0.0
    for kw in keywords:
        if not kw:
            continue
        if re.search(r"[\u4e00-\u9fff]", kw):
            n = text.count(kw)
        else:
            n = len(_en_pattern(kw).findall(text))
        if n:
            distinct += 1
            weighted += min(n, cap)
    return distinct, weighted


def topic_text(t: dict[str, Any]) -> str:
    """The words a topic is known by: its names and keywords."""
    return f"{t['name']} {t['name_en']}: " + ", ".join(t["keywords"][:60])


_VEC_CACHE: dict[tuple[str, str], np.ndarray] = {}


def topic_vectors(embedder: Any, topics: list[dict[str, Any]]) -> np.ndarray:
    """One unit vector per topic: the mean of its keywords' vectors plus "<name>新闻 <name_en> news"
    (measured best of several prototypes on THUCNews titles, see bench/understand.py). Cached per text."""
    out = []
    model = getattr(embedder, "name", "")
    for t in topics:
        key = (model, topic_text(t))
        vec = _VEC_CACHE.get(key)
        if vec is None:
            words = [w for w in t["keywords"][:60] if w] or [t["name"]]
            kw = np.asarray(embedder.embed_passages(words), dtype=np.float32).mean(axis=0)
            kw /= np.linalg.norm(kw) or 1.0
            head = np.asarray(embedder.embed_passages([f"{t['name']}新闻 {t['name_en']} news"]), dtype=np.float32)[0]
            vec = kw + head
            vec /= np.linalg.norm(vec) or 1.0
            if len(_VEC_CACHE) > 1000:
                _VEC_CACHE.clear()
            _VEC_CACHE[key] = vec
        out.append(vec)
    return np.vstack(out) if out else np.zeros((0, 1), dtype=np.float32)


def score_topics(topics: list[dict[str, Any]], text: str, title: str = "", asset_vec: np.ndarray | None = None,
                 topic_vecs: np.ndarray | None = None, temperature: float = 0.02) -> list[TopicScore]:
    """Every topic's fit, best first. Keyword evidence (title hits count three times) is squashed to [0, 1);
    with vectors, the softmax of cosine similarities over the vocabulary is combined with it (noisy-OR)."""
    scores: list[TopicScore] = []
    sem = np.zeros(len(topics))
    if asset_vec is not None and topic_vecs is not None and len(topics):
        sims = topic_vecs @ np.asarray(asset_vec, dtype=np.float32)
        z = np.exp((sims - sims.max()) / temperature)
        sem = z / z.sum()
    length_norm = max(1.0, math.log10(max(10, len(text))) - 1.0)  # long texts need more hits
    for i, t in enumerate(topics):
        words = [t["name"], t["name_en"], *t["keywords"]]
        d_body, w_body = keyword_hits(text, words)
        d_title, w_title = keyword_hits(title, words)
        evidence = (w_body + 3.0 * w_title) / length_norm
        kw = 1.0 - math.exp(-evidence / 2.5)
        s = float(sem[i])
        combined = 1.0 - (1.0 - kw) * (1.0 - s)
        scores.append(TopicScore(name=t["name"], score=round(combined, 4), keyword=round(kw, 4), semantic=round(s, 4),
                                 hits=d_body + d_title))
    return sorted(scores, key=lambda s: -s.score)


def chosen_topics(scores: list[TopicScore], min_score: float = TOPIC_MIN_SCORE, max_topics: int = 3
                  ) -> list[TopicScore]:
    """The topics to tag: at least `min_score` and not far behind the best one."""
    if not scores:
        return []
    top = scores[0].score
    return [s for s in scores if s.score >= min_score and s.score >= 0.6 * top][:max_topics]


# ---------------------------------------------------------------- people's tags

def removed_by_people(session: Session, asset_id: int) -> set[str]:
    """Tag names whose latest change on the asset by a person was a removal (re-runs leave them off)."""
    latest: dict[str, str] = {}
    for tag, action in session.execute(select(TagChange.tag, TagChange.action).where(TagChange.asset_id == asset_id)
                                       .order_by(TagChange.at, TagChange.id)):
        latest[tag.casefold()] = action
    return {t for t, a in latest.items() if a == "remove"}


def add_user_tag(session: Session, asset_id: int, name: str, who: str) -> dict[str, Any]:
    """Add an editor's tag (an automatic tag of that name becomes the editor's); recorded in TagChange."""
    clean = clean_tag(name)
    tag = session.scalars(select(Tag).where(Tag.asset_id == asset_id, Tag.name == clean)).first()
    if tag is None:
        tag = Tag(asset_id=asset_id, name=clean, origin="user", score=None, created_by=who)
        session.add(tag)
    elif tag.origin != "user":
        tag.origin, tag.created_by, tag.score = "user", who, None
    else:
        return {"name": tag.name, "origin": tag.origin, "score": tag.score, "created_by": tag.created_by}
    session.add(TagChange(asset_id=asset_id, tag=clean, action="add", origin="user", who=who))
    session.flush()
    return {"name": tag.name, "origin": tag.origin, "score": tag.score, "created_by": tag.created_by}


def remove_tag(session: Session, asset_id: int, name: str, who: str) -> bool:
    """Remove a tag of any origin; recorded in TagChange. False when the asset has no such tag."""
    tag = session.scalars(select(Tag).where(Tag.asset_id == asset_id, Tag.name == name)).first()
    if tag is None:
        return False
    session.add(TagChange(asset_id=asset_id, tag=tag.name, action="remove", origin=tag.origin, who=who))
    session.execute(delete(Tag).where(Tag.id == tag.id))
    session.flush()
    return True


def tag_changes(session: Session, asset_id: int, limit: int = 200) -> list[dict[str, Any]]:
    """Who changed which tag on the asset, newest first."""
    rows = session.scalars(select(TagChange).where(TagChange.asset_id == asset_id)
                           .order_by(TagChange.at.desc(), TagChange.id.desc()).limit(limit))
    return [{"tag": c.tag, "action": c.action, "origin": c.origin, "who": c.who, "at": c.at.isoformat()}
            for c in rows]
