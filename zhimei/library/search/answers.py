"""Cited answers (问答): retrieve with the hybrid search, then answer from the retrieved text, every sentence
citing its source (asset + segment, with the moment for media), or say plainly that the archive does not
contain the answer.

Modes:
- "extractive": the retrieved segments are cut into sentences; each is scored against the question (IDF-weighted
  share of the question's words, shared character pairs, the cosine of question and sentence vectors, and the
  rank of its segment); the best one to three sentences are the answer, and for factoid questions the span
  that fills the question's slot is `Answer.short`.
- "llm": a grounded prompt with numbered sources; the model must cite [n] after every sentence; sentences
  citing nothing (or a source that does not exist) are dropped. The embedded gemma3 is a base model and gets a
  few-shot completion prompt; instruct models get a chat prompt.
- "auto": the mode the benchmark measured better for the configured LLM backend (`LLM_MEASURED_BETTER`).

Measured with bench/qa.py on cmrc2018 trial (256 passages with titles, 1,000 answered questions, 2 shared
CPU cores; LLM row: first 5 questions only — 15.7 s each):

    mode                              EM      F1      s/question
    extractive, short span (shipped)  0.223   0.484   0.10
    extractive, best sentence         0.180   0.434   0.10
    extractive, whole answer (1-3)    0.129   0.398   0.10
    llm gemma3-270m base, few-shot    0.000   0.077   15.7   (1 of 5 gave no cited sentence)

so "auto" is extractive for the embedded models (`LLM_MEASURED_BETTER` is empty). The gold passage is cited in
96.6% of answers. Not found: each question is also asked with a date filter that leaves its gold passage out;
the best balanced accuracy (0.93) is at support ~0.64 (median 0.86 with the passage, 0.49 without), hence
SUPPORT_THRESHOLD = 0.63: found 97.6% when the passage is there, "not in the archive" 87.7% when it is not.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
from sqlalchemy import func, select, text

from zhimei.library.search.filters import SearchError, SearchFilters
from zhimei.library.search.query import Hit, search
from zhimei.library.search.sentences import split_sentences
from zhimei.library.search.spans import question_type, short_answer
from zhimei.library.search.tokens import fts5_match, has_cjk, index_tokens, pg_tsquery, query_terms
from zhimei.store.db import read_scope
from zhimei.store.models import SEGMENT_KINDS, SearchDoc, Segment

__all__ = ["ask", "Answer", "AnswerSentence", "Citation", "ANSWER_MODES", "MAX_QUESTION_CHARS",
           "SUPPORT_THRESHOLD", "not_found_text"]

ANSWER_MODES = ("auto", "extractive", "llm")
MAX_QUESTION_CHARS = 1000
"""Longer questions are cut to this many characters (not refused)."""
SUPPORT_THRESHOLD = 0.63
"""Below this support (see `_support`) the archive is taken not to contain the answer (calibrated by bench/qa.py:
questions asked with a date filter that leaves their gold passage out)."""
LLM_MEASURED_BETTER: frozenset[str] = frozenset()
"""LLM backends whose cited answers measured better than the extractive ones on bench/qa.py ("auto" uses the
LLM only for these). gemma3 (270M base) measured far worse; smollm2 (135M, English only) and remote models are
not measured yet, so "auto" stays extractive for them until a bench run says otherwise."""
MAX_SENTENCES = 3
SECOND_SENTENCE_RATIO = 0.85
"""A further sentence joins the answer when it scores at least this share of the best one."""
SENTENCE_VECTORS = False
"""Compare the question's vector with the best sentences' vectors too (costs an embedding of EMBED_TOP
sentences per question; see BENCH for whether it pays)."""
EMBED_TOP = 8
"""Sentences (best by words) whose vectors are compared with the question's."""
W_LEXICAL, W_PAIRS, W_COVER, W_RANK, W_COSINE = 0.45, 0.35, 0.25, 0.15, 0.6
"""Weights of a sentence's score: IDF-weighted share of the question's words in it, share of the question's
character pairs, the share of the question's words its passage (with title) holds, its passage's rank, and
its vector's cosine with the question's above 0.75 (when SENTENCE_VECTORS)."""
COSINE_FLOOR, COSINE_SPAN = 0.80, 0.12
"""Semantic support: the best passage cosine mapped from [FLOOR, FLOOR + SPAN] to [0, 1]."""
EXCERPT_CHARS = 300
NOT_FOUND = {"zh": "档案库中没有找到这个问题的答案。",
             "en": "The archive does not contain the answer to this question."}
LLM_SOURCES = 4


@dataclass
class Citation:
    """A numbered source of an answer: one segment (paragraph, transcript or OCR moment) of an asset."""

    n: int
    asset_id: int
    asset_title: str
    asset_kind: str
    segment_id: int | None
    kind: str
    start: float | None
    end: float | None
    char_start: int | None
    char_end: int | None
    url: str
    excerpt: str
    credibility: int
    verified: bool
    source: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return asdict(self)


@dataclass
class AnswerSentence:
    """One sentence of an answer and the sources it cites (indexes into `Answer.sources`; its marker in the
    text is [index + 1], i.e. the source's `n`)."""

    text: str
    citations: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return asdict(self)


@dataclass
class Answer:
    """An answer with its cited sources; `found` False means the archive does not contain the answer (the
    nearest sources are still listed)."""

    question: str
    text: str
    sentences: list[AnswerSentence]
    sources: list[Citation]
    found: bool
    mode_used: str
    model: str | None
    took_ms: float
    short: str = ""
    """The short answer of a factoid question ("" when none): the span that fills the question's slot."""
    support: float = 0.0
    """How strongly the retrieved text supports an answer (0–1; below SUPPORT_THRESHOLD → not found)."""
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {"question": self.question, "text": self.text, "found": self.found, "mode_used": self.mode_used,
                "model": self.model, "took_ms": round(self.took_ms, 2), "short": self.short,
                "support": round(self.support, 4), "notes": self.notes,
                "sentences": [s.to_dict() for s in self.sentences], "sources": [c.to_dict() for c in self.sources]}


# ---------------------------------------------------------------- helpers
def not_found_text(question: str) -> str:
    """The plain sentence saying the archive does not contain the answer, in the question's language."""
    return NOT_FOUND["zh" if has_cjk(question) else "en"]


@dataclass
class _Passage:
    hit: Hit
    rank: int


@dataclass
class _Sent:
    p: _Passage
    a: int
    b: int
    text: str
    lexical: float = 0.0
    pairs: float = 0.0
    cosine: float | None = None
    score: float = 0.0


def _validate(question: Any, mode: str, k: int) -> str:
    if not isinstance(question, str):
        raise SearchError("the question must be text")
    q = " ".join(question.replace("\x00", " ").split())[:MAX_QUESTION_CHARS]
    if not q:
        raise SearchError("the question is empty; ask something the archive might answer")
    if mode not in ANSWER_MODES:
        raise SearchError(f"unknown answer mode {mode!r}; modes: {', '.join(ANSWER_MODES)}")
    if not isinstance(k, int) or not 1 <= k <= 50:
        raise SearchError("k (sources to read) must be between 1 and 50")
    return q


def _passages(hits: list[Hit], k: int) -> list[_Passage]:
    """Up to k text passages: segment hits as they are, a title (or asset-vector) hit expanded into its
    asset's segments."""
    out: list[_Passage] = []
    seen: set[int] = set()
    expand = [h.asset_id for h in hits if h.segment_id is None]
    segs: dict[int, list[Any]] = {}
    if expand:
        with read_scope() as s:
            for aid in dict.fromkeys(expand):
                segs[aid] = list(s.execute(select(Segment.id, Segment.kind, Segment.text, Segment.start, Segment.end,
                                                  Segment.char_start, Segment.char_end, Segment.language)
                                           .where(Segment.asset_id == aid, Segment.kind.in_(SEGMENT_KINDS))
                                           .order_by(Segment.kind, Segment.seq).limit(40)))
    for h in hits:
        if len(out) >= k:
            break
        if h.segment_id is not None:
            if h.segment_id not in seen:
                seen.add(h.segment_id)
                out.append(_Passage(h, len(out)))
            continue
        for r in segs.get(h.asset_id, []):
            if r.id in seen or not (r.text or "").strip():
                continue
            seen.add(r.id)
            out.append(_Passage(replace(h, segment_id=r.id, kind=r.kind, text=r.text, start=r.start, end=r.end,
                                        char_start=r.char_start, char_end=r.char_end,
                                        language=r.language or h.language, moments=[]), len(out)))
    return out[:max(k, 1) * 2]


def _idf(terms: list[str]) -> dict[str, float]:
    """Inverse document frequency of each term over the whole keyword index (rare words weigh more)."""
    if not terms:
        return {}
    with read_scope() as s:
        total = s.scalar(select(func.count()).select_from(SearchDoc)) or 1
        sqlite = s.get_bind().dialect.name == "sqlite"
        out = {}
        for t in terms:
            if sqlite:
                df = s.execute(text("SELECT count(*) FROM (SELECT 1 FROM search_fts WHERE search_fts MATCH :q "
                                    "LIMIT 100000) x"), {"q": fts5_match([t])}).scalar()
            else:
                df = s.execute(text("SELECT count(*) FROM (SELECT 1 FROM search_doc WHERE tsv @@ "
                                    "to_tsquery('english', :q) LIMIT 100000) x"), {"q": pg_tsquery([t])}).scalar()
            out[t] = math.log(1 + (total - (df or 0) + 0.5) / ((df or 0) + 0.5))
        return out


_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def _pairs(text_: str) -> set[str]:
    """Character pairs (Chinese) and words (other scripts) of a text, punctuation dropped."""
    t = _NON_WORD.sub(" ", text_.casefold())
    out: set[str] = set()
    for piece in t.split():
        if has_cjk(piece):
            out.update(piece[i:i + 2] for i in range(len(piece) - 1))
        elif len(piece) > 2:
            out.add(piece)
    return out


def _question_core(question: str) -> str:
    """The question without its question word (so 什么/多少 do not count as shared text)."""
    _kind, s, e = question_type(question)
    return question[:s] + " " + question[e:] if s >= 0 else question


def _question_vector(question: str) -> np.ndarray | None:
    from zhimei.library.search.vectors import query_vector
    from zhimei.models import ModelError, NotReady

    try:
        return query_vector(question)
    except (NotReady, ModelError):
        return None


def _segment_cosines(qv: np.ndarray | None, passages: list[_Passage]) -> dict[int, float]:
    """Cosine of the question with each passage's stored segment vector (what the embed stage wrote)."""
    if qv is None or not passages:
        return {}
    from zhimei.library.search.vectors import embedder_model
    from zhimei.library.understand.common import unpack_vector
    from zhimei.store.models import Embedding

    ids = [p.hit.segment_id for p in passages if p.hit.segment_id is not None]
    out: dict[int, float] = {}
    with read_scope() as s:
        rows = s.execute(select(Embedding.segment_id, Embedding.vector).where(
            Embedding.segment_id.in_(ids), Embedding.owner_kind == "segment", Embedding.model == embedder_model()))
        for sid, data in rows:
            v = unpack_vector(data)
            if v.size == qv.size:
                out[int(sid)] = float(v @ qv)
    return out


def _score(question: str, passages: list[_Passage], qv: np.ndarray | None) -> tuple[list[_Sent], dict[str, Any]]:
    terms = query_terms(question)
    idf = _idf(terms)
    total = sum(idf.values()) or 1.0
    qpairs = _pairs(_question_core(question))
    sents: list[_Sent] = []
    cover: dict[int, float] = {}
    for p in passages:
        body = p.hit.text or ""
        words = set(index_tokens(f"{p.hit.asset_title}\n{body}").split())
        cover[p.rank] = sum(w for t, w in idf.items() if t in words) / total
        for a, b in split_sentences(body):
            st = body[a:b]
            sw = set(index_tokens(st).split())
            lex = sum(w for t, w in idf.items() if t in sw) / total
            sp = _pairs(st)
            pr = len(qpairs & sp) / len(qpairs) if qpairs else 0.0
            sents.append(_Sent(p, a, b, st, lexical=lex, pairs=pr))
    for s in sents:
        s.score = W_LEXICAL * s.lexical + W_PAIRS * s.pairs + W_COVER * cover[s.p.rank] + W_RANK / (1 + s.p.rank)
    sents.sort(key=lambda s: -s.score)
    if SENTENCE_VECTORS and qv is not None and sents:
        from zhimei.models import ModelError, NotReady, get_backend

        try:
            top = sents[:EMBED_TOP]
            sv = np.asarray(get_backend("embedder").embed_passages([s.text for s in top]), dtype=np.float32)
            for s, c in zip(top, sv @ qv, strict=True):
                s.cosine = float(c)
                s.score += W_COSINE * max(0.0, float(c) - 0.75)
            sents.sort(key=lambda s: -s.score)
        except (NotReady, ModelError):
            pass
    best_cover = max(cover.values()) if cover else 0.0
    return sents, {"cover": best_cover, "cosine": None, "terms": terms}


def _support(sents: list[_Sent], info: dict[str, Any]) -> float:
    """0–1: how well the best passage covers the question's (IDF-weighted) words, or — for text in another
    language than the question — how close in meaning the nearest passage is."""
    if not sents:
        return 0.0
    best = sents[0]
    lexical = 0.5 * info["cover"] + 0.5 * max(best.lexical, best.pairs)
    semantic = 0.0
    if info.get("cosine") is not None:
        semantic = min(1.0, max(0.0, (info["cosine"] - COSINE_FLOOR) / COSINE_SPAN))
    return float(max(lexical, semantic))


def _citation(n: int, p: _Passage, excerpt: str, span: tuple[int, int] | None) -> Citation:
    h = p.hit
    cs, ce = h.char_start, h.char_end
    if span is not None and h.char_start is not None:
        cs, ce = h.char_start + span[0], h.char_start + span[1]
    return Citation(n=n, asset_id=h.asset_id, asset_title=h.asset_title, asset_kind=h.asset_kind,
                    segment_id=h.segment_id, kind=h.kind, start=h.start, end=h.end, char_start=cs, char_end=ce,
                    url=h.url, excerpt=excerpt[:EXCERPT_CHARS], credibility=h.credibility, verified=h.verified,
                    source=h.source)


def _excerpt(body: str, a: int, b: int) -> str:
    if b - a >= EXCERPT_CHARS:
        return body[a:a + EXCERPT_CHARS]
    pad = (EXCERPT_CHARS - (b - a)) // 2
    lo, hi = max(0, a - pad), min(len(body), b + pad)
    return ("…" if lo > 0 else "") + body[lo:hi].strip() + ("…" if hi < len(body) else "")


def _join(question: str, sentences: list[AnswerSentence]) -> str:
    sep = "" if has_cjk(question) else " "
    return sep.join(f"{s.text} " + " ".join(f"[{c + 1}]" for c in s.citations) if s.citations else s.text
                    for s in sentences).strip()


def _entities(text_: str) -> list[tuple[str, str]]:
    from zhimei.models import ModelError, NotReady, get_backend

    try:
        return [(e.text, e.kind) for e in get_backend("entities").extract(text_)]
    except (NotReady, ModelError):
        return []


def _extractive(question: str, sents: list[_Sent]) -> tuple[list[AnswerSentence], list[Citation], str]:
    best = sents[0]
    chosen = [best]
    for s in sents[1:]:
        if len(chosen) >= MAX_SENTENCES or s.score < SECOND_SENTENCE_RATIO * best.score:
            break
        if s.text != best.text and all(s.text not in c.text and c.text not in s.text for c in chosen):
            chosen.append(s)
    sources: list[Citation] = []
    index: dict[int | None, int] = {}
    out: list[AnswerSentence] = []
    for s in chosen:
        key = s.p.hit.segment_id
        if key not in index:
            index[key] = len(sources)
            sources.append(_citation(len(sources) + 1, s.p, _excerpt(s.p.hit.text, s.a, s.b), (s.a, s.b)))
        out.append(AnswerSentence(s.text, [index[key]]))
    short = short_answer(question, best.text, _entities)
    return out, sources, short


# ---------------------------------------------------------------- LLM
_FEW_SHOT_ZH = ("资料：\n[1] 长江是中国最长的河流，全长约6300公里，流经11个省级行政区。\n"
                "[2] 黄河发源于青海省巴颜喀拉山脉。\n问题：长江有多长？\n回答：长江全长约6300公里。[1]\n\n")
_FEW_SHOT_EN = ("Sources:\n[1] The Thames is a river that flows through London. It is 346 km long.\n"
                "[2] The Severn is the longest river in Great Britain.\nQuestion: How long is the Thames?\n"
                "Answer: The Thames is 346 km long. [1]\n\n")
_MARK = re.compile(r"\[(\d{1,2})\]")


def _llm_sources(sents: list[_Sent]) -> list[tuple[_Passage, _Sent]]:
    out: list[tuple[_Passage, _Sent]] = []
    seen: set[int | None] = set()
    for s in sents:
        if s.p.hit.segment_id in seen:
            continue
        seen.add(s.p.hit.segment_id)
        out.append((s.p, s))
        if len(out) >= LLM_SOURCES:
            break
    return out


def _llm_prompt(question: str, items: list[tuple[_Passage, _Sent]], base: bool) -> Any:
    zh = has_cjk(question)
    lines = [f"[{i + 1}] " + " ".join(_excerpt(p.hit.text, s.a, s.b).split()) for i, (p, s) in enumerate(items)]
    if base:
        head = _FEW_SHOT_ZH if zh else _FEW_SHOT_EN
        if zh:
            return head + "资料：\n" + "\n".join(lines) + f"\n问题：{question}\n回答："
        return head + "Sources:\n" + "\n".join(lines) + f"\nQuestion: {question}\nAnswer:"
    rule = ("只根据下列资料回答，每句话后用[编号]注明出处；资料中没有答案就说不知道。" if zh else
            "Answer only from the numbered sources below. End every sentence with the [number] of its source. "
            "If the sources do not contain the answer, say so.")
    return [{"role": "system", "content": rule},
            {"role": "user", "content": "\n".join(lines) + ("\n问题：" if zh else "\nQuestion: ") + question}]


def _parse_llm(output: str, n_sources: int) -> list[tuple[str, list[int]]]:
    """(sentence text without markers, cited source indexes) for each sentence citing a real source."""
    out = []
    for a, b in split_sentences(output.strip()):
        st = output.strip()[a:b]
        cited = [int(m) - 1 for m in _MARK.findall(st) if 1 <= int(m) <= n_sources]
        clean = " ".join(_MARK.sub("", st).split())
        # a marker right after the sentence end belongs to it ("…。[1]" is split after 。)
        if cited and clean.strip("。.!！?？ "):
            out.append((clean, list(dict.fromkeys(cited))))
        elif not clean.strip("。.!！?？ ") and cited and out:
            out[-1] = (out[-1][0], list(dict.fromkeys(out[-1][1] + cited)))
    return out


def _llm(question: str, sents: list[_Sent], name: str | None
         ) -> tuple[list[AnswerSentence], list[Citation], str] | None:
    from zhimei.models import get_backend

    llm = get_backend("llm", name)
    items = _llm_sources(sents)
    base = getattr(llm, "name", "") == "gemma3"
    prompt = _llm_prompt(question, items, base)
    if base:
        raw = llm.complete(prompt, max_tokens=120, temperature=0.0, stop=["\n\n", "问题：", "资料：", "Question:"])
    else:
        raw = llm.chat(prompt, max_tokens=160, temperature=0.0)
    parsed = _parse_llm(raw or "", len(items))
    if not parsed:
        return None
    sources: list[Citation] = []
    remap: dict[int, int] = {}
    out = []
    for st, cited in parsed:
        idx = []
        for c in cited:
            if c not in remap:
                p, s = items[c]
                remap[c] = len(sources)
                sources.append(_citation(len(sources) + 1, p, _excerpt(p.hit.text, s.a, s.b), (s.a, s.b)))
            idx.append(remap[c])
        out.append(AnswerSentence(st, idx))
    return out, sources, getattr(llm, "name", name or "")


def _auto_mode() -> str:
    from zhimei.models.registry import selected_name

    try:
        name = selected_name("llm")
    except Exception:  # no LLM configured at all
        return "extractive"
    return "llm" if name in LLM_MEASURED_BETTER else "extractive"


# ---------------------------------------------------------------- ask
def ask(question: str, *, filters: SearchFilters | dict | None = None, mode: str = "auto", k: int = 8,
        llm: str | None = None) -> Answer:
    """Answer a question from the archive with cited sentences, or say that the archive does not contain the
    answer (found=False, nearest sources listed). `mode`: auto | extractive | llm; `llm` names an LLM backend
    (default: the configured one). SearchError for bad input; a question over 1,000 characters is cut."""
    t0 = time.perf_counter()
    q = _validate(question, mode, k)
    res = search(q, filters=filters, limit=max(3 * k, 24), group=False)
    passages = _passages(res.hits, k)
    use = _auto_mode() if mode == "auto" else mode
    notes = [n for n in res.notes if n.startswith("vector search unavailable")]
    qv = _question_vector(q) if passages and SENTENCE_VECTORS else None
    sents, info = _score(q, passages, qv)
    support = _support(sents, info)
    if passages and support < SUPPORT_THRESHOLD:  # words do not support it: does the meaning (other language)?
        qv = qv if qv is not None else _question_vector(q)
        cos = _segment_cosines(qv, passages[:3])
        if cos:
            info["cosine"] = max(cos.values())
            support = _support(sents, info)
    if not sents or support < SUPPORT_THRESHOLD:
        nearest = []
        for p in passages[:3]:
            nearest.append(_citation(len(nearest) + 1, p, _excerpt(p.hit.text, 0, 0), None))
        msg = not_found_text(q)
        return Answer(question=q, text=msg, sentences=[AnswerSentence(msg, [])], sources=nearest, found=False,
                      mode_used="extractive" if use == "auto" else use, model=None,
                      took_ms=(time.perf_counter() - t0) * 1000, support=support, notes=notes)
    model = None
    result = None
    if use == "llm":
        from zhimei.models import ModelError, NotReady

        try:
            got = _llm(q, sents, llm)
        except (NotReady, ModelError) as exc:
            got = None
            notes.append(f"the language model could not answer ({exc}); extractive answer shown")
        if got is not None:
            out, sources, model = got
            result = (out, sources, "")
        elif not notes:
            notes.append("the language model gave no sentence citing a source; extractive answer shown")
    if result is None:
        use = "extractive"
        result = _extractive(q, sents)
    out, sources, short = result
    return Answer(question=q, text=_join(q, out), sentences=out, sources=sources, found=True, mode_used=use,
                  model=model, took_ms=(time.perf_counter() - t0) * 1000, short=short, support=support, notes=notes)
