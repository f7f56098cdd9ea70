"""Studio text tasks: summaries, headlines, news drafts with citations and a support check, rewrites in house
styles, zh↔en translation and outlines, over one or more library assets (or a plain text).

Each task returns a `StudioResult` naming the method used (``llm`` with its backend/model, or a classical
method: ``lead``, ``extractive`` (keyword TF-IDF clause selection), ``textrank``, ``template``), the prompt
template used, one record per LLM call (tokens in/out, seconds) and notes (truncation, fallbacks, errors).
Results are cached by (task, inputs, model, prompt); `StudioResult.save` stores one as an AI-marked asset.

Method choice ("auto"), decided by bench/headlines.py: with the small embedded model headlines use
``extractive`` (keyword TF-IDF clause selection: character ROUGE-L 0.241 on unseen LCSTS rows against 0.217 for
``hybrid`` with gemma3 and 0.223 for the lead sentence); with a remote backend ``hybrid`` (the LLM's headline, kept
only when its characters come from the source, else the extractive one). Tasks with long outputs use the LLM
when a remote backend is in use and a classical method with the small embedded model.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from zhimei.library import detect_language
from zhimei.models import LLM, ModelError, NotReady, backend_id, get_backend
from zhimei.settings import get_settings
from zhimei.studio import cache as _cache
from zhimei.studio.classical import (
    HEADLINE_MAX_CHARS,
    Embed,
    extractive_headlines,
    extractive_summary,
    is_chinese,
    keywords,
    lead_sentence,
    split_sentences,
    textrank_headline,
)
from zhimei.studio.errors import StudioError
from zhimei.studio.outputs import save_output
from zhimei.studio.rouge import norm_chars
from zhimei.studio.sources import SourceText, source_texts

__all__ = ["StudioResult", "Variant", "headlines", "summary", "draft", "rewrite", "translate", "outline",
           "load_prompt", "support_score", "hybrid_check", "clean_headline", "TASKS", "HEADLINE_METHODS", "STYLES",
           "SUMMARY_LENGTHS", "remote_configured", "default_backend", "load_result", "llm_generate", "MAX_SOURCE_CHARS"]

Emit = Callable[[dict[str, Any]], None]
PROMPTS = Path(__file__).resolve().parent / "prompts"
TASKS = ("summary", "headlines", "draft", "rewrite", "translate", "outline")
HEADLINE_METHODS = ("auto", "hybrid", "llm", "extractive", "textrank", "lead")
STYLES = ("news", "broadcast", "social")
SUMMARY_LENGTHS = ("one-line", "short", "long")
MAX_SOURCE_CHARS = 60_000
"""Source text beyond this many characters is cut (with a note) before any method sees it."""
_LOCAL_INPUT_TOKENS = 1500
"""Prompt budget for the source with an embedded model (the 2-core CPU evaluates ~100 tokens/s)."""
_STYLE_NAMES = {
    "zh": {"news": "一篇简洁客观的新闻稿", "broadcast": "一段适合播音的广播稿（口语化、短句）",
           "social": "一条社交媒体帖子（简短、活泼、带话题标签）"},
    "en": {"news": "a concise, neutral news story", "broadcast": "a radio broadcast script (spoken style, short "
           "sentences)", "social": "a short social media post with hashtags"},
}
_LENGTH_NAMES = {
    "zh": {"one-line": "一句话", "short": "两三句话", "long": "一段话（约200字）"},
    "en": {"one-line": "one sentence", "short": "two or three sentences", "long": "one paragraph (about 120 words)"},
}
_SUMMARY_SENTENCES = {"one-line": 1, "short": 3, "long": 6}
_SUMMARY_TOKENS = {"one-line": 60, "short": 160, "long": 400}
_LABEL = re.compile(r"^\s*(标题|概括|改写|中文|英文|提纲|新闻段落|Headline|Summary|Rewrite|English|Chinese|"
                    r"Outline|Paragraph)\s*[:：]\s*", re.I)
_local_lock = threading.local()


# ---------------------------------------------------------------- results
@dataclass
class Variant:
    """One generated text and the method that produced it."""

    text: str
    method: str
    note: str = ""
    support: float | None = None


@dataclass
class StudioResult:
    """A task's result: the text (first variant), all variants, and how it was made."""

    task: str
    method: str
    backend: str
    model: str
    language: str | None
    variants: list[Variant]
    sources: list[int] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    prompt: str | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    cached: bool = False
    key: str = ""
    """The cache key; `load_result(key)` finds the result again (to save an edited version later)."""

    @property
    def text(self) -> str:
        """The main output (the first variant)."""
        return self.variants[0].text if self.variants else ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the prompt template is left out; its hash goes into saved outputs)."""
        d = asdict(self)
        d.pop("prompt", None)
        d["text"] = self.text
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StudioResult:
        """Inverse of `to_dict` (plus the prompt, when present)."""
        d = dict(d)
        d.pop("text", None)
        d["variants"] = [Variant(**v) for v in d.get("variants", [])]
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    def save(self, *, title: str | None = None, text: str | None = None, variant: int | None = None,
             created_by: str = "studio") -> int:
        """Store as a new AI-marked asset with lineage; ``text`` overrides (an edited version), ``variant``
        picks one variant; default: all variants (headlines) or the main text. Returns the asset id."""
        if text is None:
            if variant is not None:
                if not 0 <= variant < len(self.variants):
                    raise StudioError(f"variant {variant} does not exist (there are {len(self.variants)})")
                text = self.variants[variant].text
            elif self.task == "headlines":
                text = "\n".join(f"- {v.text}" for v in self.variants)
            else:
                text = self.text
        default_title = {"headlines": self.variants[0].text if self.variants else "headlines"}.get(self.task)
        return save_output(kind=self.task, title=title or default_title or f"{self.task} ({self.method})",
                           sources=self.sources, task=self.task, backend=self.backend, model=self.model,
                           prompt=self.prompt, params={**self.params, "method": self.method},
                           language=self.language, text=text, created_by=created_by, calls=self.calls)


# ---------------------------------------------------------------- prompts and backends
def load_prompt(task: str, language: str) -> str:
    """The prompt template file for a task and language (``prompts/<task>.<language>.txt``)."""
    path = PROMPTS / f"{task}.{language}.txt"
    if not path.is_file():
        known = sorted(p.name for p in PROMPTS.glob(f"{task}.*.txt"))
        raise StudioError(f"no prompt template for task {task!r} in language {language!r} (have: {known})")
    return path.read_text(encoding="utf-8")


def _render(template: str, **values: str) -> str:
    out = template
    for key, value in values.items():
        out = out.replace("{" + key + "}", value)
    return out


def remote_configured() -> bool:
    """Whether an OpenAI-compatible service is configured (ZHIMEI_OPENAI_BASE_URL)."""
    return bool(get_settings().openai_base_url)


def default_backend() -> str:
    """The LLM backend named in settings (ZHIMEI_LLM_BACKEND, default gemma3)."""
    return get_settings().llm_backend


def _llm(name: str | None) -> LLM:
    name = {"remote": "openai", "": None}.get(name or "", name) or default_backend()
    try:
        return get_backend("llm", name)
    except NotReady as exc:
        raise StudioError(f"LLM backend {name!r} cannot run: {exc}") from None


def _is_remote(llm: LLM) -> bool:
    return bool(getattr(llm, "remote", False))


def _model_label(llm: LLM) -> str:
    return str(getattr(llm, "model_label", "") or getattr(llm.settings, "llm_remote_model", "") or llm.name)


def llm_generate(llm: LLM, prompt: str, *, max_tokens: int, stop: list[str] | None = None,
                 temperature: float = 0.0, seed: int | None = None,
                 on_token: Callable[[str], None] | None = None) -> tuple[str, dict[str, Any], str | None]:
    """One LLM call, streamed: (text, call record, error or None). A base model (gemma3) continues the
    few-shot prompt; chat models get it as the user message. On a failure or timeout the text so far is
    returned with the error, so callers keep partial results."""
    chat = llm.name != "gemma3"
    stream = None
    error: str | None = None
    started = time.perf_counter()
    try:
        if chat:
            stream = llm.stream_chat([{"role": "user", "content": prompt}], max_tokens=max_tokens,
                                     temperature=temperature)
        elif seed is not None:
            stream = llm.stream_complete(prompt, max_tokens, temperature, stop, seed=seed)  # type: ignore[call-arg]
        else:
            stream = llm.stream_complete(prompt, max_tokens, temperature, stop)
        for piece in stream:
            if on_token:
                on_token(piece)
            if chat and stop and any(s in stream.text for s in stop if s.strip()):
                break
    except (ModelError, NotReady) as exc:
        error = f"{llm.name}: {exc}"
    except Exception as exc:  # a backend bug or a broken connection: keep what came, say what happened
        error = f"{llm.name} failed: {type(exc).__name__}: {exc}"
    text = stream.text if stream is not None else ""
    usage = stream.usage if stream is not None else None
    if stream is not None and not stream.done:
        stream.close()
    if chat and stop:
        for s in stop:
            if s.strip() and s in text:
                text = text.split(s, 1)[0]
    record: dict[str, Any] = {"backend": llm.name, "model": _model_label(llm)}
    if usage is not None:
        record.update(tokens_in=usage.prompt_tokens, tokens_out=usage.completion_tokens, seconds=usage.seconds,
                      prompt_seconds=usage.prompt_seconds, estimated=usage.estimated,
                      finish_reason=usage.finish_reason)
    elif stream is not None and not error:  # stopped early at a stop string: estimate, but keep a record
        record.update(tokens_in=llm.count_tokens(prompt), tokens_out=llm.count_tokens(text),
                      seconds=round(time.perf_counter() - started, 4), prompt_seconds=None, estimated=True,
                      finish_reason="stop")
    if error:
        record["error"] = error
    return text, record, error


def _fit_source(llm: LLM, template: str, text: str, max_tokens: int, notes: list[str]) -> str:
    """Cut ``text`` so template + text + answer fit the model (and the local speed budget); note the cut."""
    if _is_remote(llm):
        budget = (llm.context_tokens or 16000) - max_tokens - 200
    else:
        room = (llm.context_tokens or 2048) - llm.count_tokens(template) - max_tokens - 16
        budget = min(room, _LOCAL_INPUT_TOKENS)
    if budget < 50:
        raise StudioError(f"the {llm.name} model has no room for the source with this prompt")
    tokens = llm.count_tokens(text)
    if tokens <= budget:
        return text
    cut = text
    for _ in range(4):
        cut = cut[: max(50, int(len(cut) * budget / max(1, llm.count_tokens(cut)) * 0.95))]
        if llm.count_tokens(cut) <= budget:
            break
    notes.append(f"the source was cut to its first {len(cut):,} of {len(text):,} characters for {llm.name} "
                 f"(about {budget} tokens fit)")
    return cut


# ---------------------------------------------------------------- checks
def support_score(sentence: str, source: str) -> float:
    """How much of ``sentence`` the source supports, 0..1: for Chinese the share of its character bigrams
    (letters/digits only) found in the source; for English the share of its content words."""
    if is_chinese(sentence):
        s, src = norm_chars(sentence), norm_chars(source)
        grams = [s[i:i + 2] for i in range(len(s) - 1)] or ([s] if s else [])
        if not grams:
            return 1.0
        return sum(1 for g in grams if g in src) / len(grams)
    from zhimei.studio.classical import words

    ws = words(sentence)
    if not ws:
        return 1.0
    have = set(words(source))
    return sum(1 for w in ws if w in have) / len(ws)


def _garbage(text: str) -> str | None:
    """Why generated text is unusable, or None."""
    t = text.strip()
    if not t:
        return "the model returned nothing"
    chars = norm_chars(t)
    if len(chars) < max(2, len(t) // 4):
        return "the model returned mostly symbols"
    if chars:
        top = max(chars.count(c) for c in set(chars))
        if len(chars) >= 12 and top / len(chars) > 0.5:
            return "the model repeated itself"
    return None


def clean_headline(text: str) -> str:
    """The first non-empty line of a generation, without a label (标题：/Headline:), wrapping quotes or a final
    full stop."""
    return _clean_line(text)


def _clean_line(text: str) -> str:
    line = next((ln for ln in text.strip().splitlines() if ln.strip()), "")
    line = _LABEL.sub("", line).strip()
    pairs = {"“": "”", "\"": "\"", "「": "」", "《": "》", "'": "'"}
    if len(line) > 2 and line[0] in pairs and line.endswith(pairs[line[0]]) and line.count(line[0]) == 1:
        line = line[1:-1]
    return line.strip().rstrip("。.")


# ---------------------------------------------------------------- inputs
@dataclass
class _Input:
    text: str
    language: str
    sources: list[SourceText]
    ids: list[int]
    notes: list[str]


def _gather(sources: list[int] | None, text: str | None, language: str | None) -> _Input:
    notes: list[str] = []
    if text is not None and sources:
        raise StudioError("give source asset ids or a text, not both")
    if text is not None:
        if not text.strip():
            raise StudioError("the text is empty")
        srcs: list[SourceText] = []
        body = text.strip()
        ids: list[int] = []
    else:
        srcs = source_texts(list(sources or []))
        ids = [s.asset_id for s in srcs]
        body = "\n\n".join(s.text for s in srcs)
    if len(body) > MAX_SOURCE_CHARS:
        notes.append(f"the source text is {len(body):,} characters; only the first {MAX_SOURCE_CHARS:,} are used")
        body = body[:MAX_SOURCE_CHARS]
    lang = (language or "").split("-")[0].lower() or None
    if lang is None:
        declared = [s.language for s in srcs if s.language]
        lang = (declared[0].split("-")[0].lower() if declared else None) or detect_language(body) or "en"
    lang = "zh" if lang == "zh" or (lang not in ("en",) and is_chinese(body)) else "en"
    return _Input(body, lang, srcs, ids, notes)


def _cache_get(task: str, inputs: dict[str, Any], model: str, prompt: str, use: bool) -> tuple[str, Any]:
    key = _cache.cache_key(task, inputs, model, prompt)
    if not use:
        return key, None
    hit = _cache.cached(key)
    if hit is None or not hit.get("complete", True):
        return key, None
    res = StudioResult.from_dict(hit)
    res.cached = True
    res.key = key
    res.prompt = prompt or None
    return key, res


def _cache_put(key: str, res: StudioResult) -> StudioResult:
    # partial results (a failed call) are kept for saving but never reused, so a retry runs again
    res.key = key
    _cache.store(key, {**res.to_dict(), "prompt": res.prompt,
                       "complete": not any("error" in c for c in res.calls)})
    return res


def load_result(key: str) -> StudioResult:
    """A result produced earlier (by its `key`); StudioError when it is unknown."""
    try:
        hit = _cache.cached(key)
    except ValueError:
        hit = None
    if hit is None:
        raise StudioError(f"no studio result with key {key[:80]!r}; run the task again")
    res = StudioResult.from_dict(hit)
    res.key = key
    return res


def _emit(emit: Emit | None, **event: Any) -> None:
    if emit is not None:
        emit(event)


# ---------------------------------------------------------------- headlines
def headlines(sources: list[int] | None = None, *, text: str | None = None, language: str | None = None,
              n: int = 3, method: str = "auto", backend: str | None = None, emit: Emit | None = None,
              use_cache: bool = True) -> StudioResult:
    """``n`` headline variants. Methods: extractive (the clause closest to the post in meaning, or by keywords
    without an embedder; auto with the embedded model), hybrid
    (auto with a remote model: the LLM headline kept when the source supports it, else the extractive one), llm,
    textrank, lead (first sentence)."""
    if method not in HEADLINE_METHODS:
        raise StudioError(f"unknown headline method {method!r}; one of {', '.join(HEADLINE_METHODS)}")
    if not 1 <= int(n) <= 10:
        raise StudioError("n (the number of headline variants) must be between 1 and 10")
    inp = _gather(sources, text, language)
    if method == "auto":
        method = "hybrid" if _auto_llm("auto", backend) else "extractive"
    params = {"n": n, "method": method}
    if method in ("extractive", "textrank", "lead"):
        inputs = {"text": inp.text, "params": params, "sources": inp.ids}
        embed, embedder, why = _headline_embedder() if method != "lead" else (None, "", None)
        key, hit = _cache_get("headlines", inputs, f"classical:{embedder}" if embedder else "classical", "",
                              use_cache)
        if hit:
            return hit
        notes = list(inp.notes) + ([f"embeddings unavailable ({why}); headlines ranked by keywords"] if why else [])
        variants = _classical_headlines(inp.text, n, method, inp.language, embed)
        res = StudioResult("headlines", method, "classical", f"{method}+{embedder}" if embedder else method,
                           inp.language, variants, inp.ids, params, None, [], notes)
        _emit(emit, type="progress", done=1, total=1)
        return _cache_put(key, res)
    llm = _llm(backend)
    template = load_prompt("headline", inp.language)
    notes = list(inp.notes)
    body = _fit_source(llm, template, inp.text, 40, notes)
    prompt = _render(template, text=body.replace("\n", " "))
    inputs = {"text": body, "params": params, "sources": inp.ids}
    key, hit = _cache_get("headlines", inputs, f"{llm.name}:{_model_label(llm)}", template, use_cache)
    if hit:
        return hit
    fallback = _classical_headlines(inp.text, n, "extractive", inp.language, _headline_embedder()[0])
    variants: list[Variant] = []
    calls: list[dict[str, Any]] = []
    stop = ["\n", "原文：", "Text:"]
    for i in range(n):
        _emit(emit, type="progress", done=i, total=n, message=f"variant {i + 1} of {n}")
        _emit(emit, type="variant_start", index=i)
        out, record, err = llm_generate(llm, prompt, max_tokens=40, stop=stop, temperature=0.0 if i == 0 else 0.8,
                                        seed=None if i == 0 else 1000 + i,
                                        on_token=lambda p: _emit(emit, type="token", text=p))
        calls.append(record)
        cand = _clean_line(out)
        why = err or _garbage(cand)
        support = support_score(cand, inp.text) if not why else 0.0
        if not why and method == "hybrid":
            cand, why = hybrid_check(cand, inp.text, inp.language)
        if err:
            notes.append(f"variant {i + 1}: {err}")
        if why:
            if method == "llm" and not err and cand:
                variants.append(Variant(cand, "llm", why, round(support, 3)))
            else:
                fb = next((v for v in fallback if v.text not in {x.text for x in variants}), None)
                if fb is not None:
                    variants.append(Variant(fb.text, "extractive", f"fallback: {why}", 1.0))
            if err and "timed out" in err:
                notes.append("the backend timed out; the remaining variants are extractive")
                break
        elif cand not in {v.text for v in variants}:
            variants.append(Variant(cand, "llm", "", round(support, 3)))
        _emit(emit, type="variant", index=len(variants) - 1, **(asdict(variants[-1]) if variants else {}))
    for fb in fallback:
        if len(variants) >= n:
            break
        if fb.text not in {v.text for v in variants}:
            variants.append(Variant(fb.text, "extractive", "added: the model repeated a headline", 1.0))
    _emit(emit, type="progress", done=n, total=n)
    used = "llm" if any(v.method == "llm" for v in variants) else "extractive"
    res = StudioResult("headlines", method if used == "llm" else f"{method}→extractive", llm.name,
                       _model_label(llm), inp.language, variants[:n], inp.ids, params, template, calls, notes)
    return _cache_put(key, res)


def hybrid_check(headline: str, source: str, language: str) -> tuple[str, str | None]:
    """The hybrid method's filter for one generated headline: (headline trimmed to headline length at a
    clause boundary, None) when the source supports it (≥70% of its character bigrams / words are in the
    source and it is not too short), else (headline, why it was refused)."""
    from zhimei.studio.classical import _trim

    cand = _clean_line(headline)
    why = _garbage(cand)
    if why:
        return cand, why
    if len(norm_chars(cand)) < (5 if language == "zh" else 8):
        return cand, "the generated headline is too short"
    support = support_score(cand, source)
    if support < 0.7:
        return cand, f"only {support:.0%} of the generated headline is in the source"
    return _trim(cand, HEADLINE_MAX_CHARS + 4), None


def _headline_embedder() -> tuple[Embed | None, str, str | None]:
    """(embedding function, its backend's name, why there is none): extractive headlines are ranked by
    closeness to the post when the configured text embedder is ready (bench/headlines.py: ROUGE-L 0.264 against
    0.241 by keywords on unseen rows), else by keywords."""
    try:
        embedder = get_backend("embedder")
        embedder.model()
    except (ModelError, NotReady) as exc:
        return None, "", str(exc)
    return embedder.embed_passages, backend_id(embedder), None


def _extractive_variants(text: str, n: int, embed: Embed | None, skip: str = "") -> list[Variant]:
    try:
        ranked = extractive_headlines(text, n + bool(skip), embed=embed)
    except (ModelError, NotReady):  # the embedder failed mid-call (a remote one timing out): rank by keywords
        ranked = extractive_headlines(text, n + bool(skip))
    picked = [c for c in ranked if c.text != skip][:n]
    return [Variant(c.text, "extractive", (f"closeness to the post {c.closeness:.2f}, " if c.closeness is not None
                                           else "") + f"keyword coverage {c.coverage:.2f}") for c in picked]


def _classical_headlines(text: str, n: int, method: str, language: str, embed: Embed | None = None
                         ) -> list[Variant]:
    if method == "lead":
        sents = split_sentences(text)[:n]
        return [Variant(s.rstrip("。.!！"), "lead") for s in sents]
    if method == "textrank":
        first = textrank_headline(text)
        return [Variant(first, "textrank")] + _extractive_variants(text, n - 1, embed, skip=first)
    return _extractive_variants(text, n, embed)


# ---------------------------------------------------------------- generic long-output tasks
def _llm_task(task: str, template_name: str, inp: _Input, llm: LLM, *, values: dict[str, str], max_tokens: int,
              stop: list[str], params: dict[str, Any], emit: Emit | None, use_cache: bool,
              fallback: Callable[[], str], fallback_method: str, prefix: str = "") -> StudioResult:
    template = _render(load_prompt(template_name, inp.language), **values)
    notes = list(inp.notes)
    body = _fit_source(llm, template, inp.text, max_tokens, notes)
    inputs = {"text": body, "params": params, "sources": inp.ids}
    key, hit = _cache_get(task, inputs, f"{llm.name}:{_model_label(llm)}", template, use_cache)
    if hit:
        return hit
    _emit(emit, type="progress", done=0, total=1, message=f"{llm.name} is writing")
    out, record, err = llm_generate(llm, _render(template, text=body), max_tokens=max_tokens, stop=stop,
                                    on_token=lambda p: _emit(emit, type="token", text=p))
    out = prefix + _LABEL.sub("", out.strip()) if out.strip() else ""
    why = err or _garbage(out)
    if why:
        notes.append(f"{llm.name}: {why}; the {fallback_method} result is shown instead")
        if err and out.strip():
            notes.append(f"partial model output kept in extra.partial ({len(out)} characters)")
        variants = [Variant(fallback(), fallback_method, f"fallback: {why}")]
        method = f"llm→{fallback_method}"
    else:
        variants = [Variant(out.strip(), "llm", "", round(support_score(out, inp.text), 3))]
        method = "llm"
    _emit(emit, type="progress", done=1, total=1)
    res = StudioResult(task, method, llm.name, _model_label(llm), inp.language, variants, inp.ids, params,
                       template, [record], notes, {"partial": out} if err and out.strip() else {})
    return _cache_put(key, res)


def _classical_result(task: str, inp: _Input, method: str, text: str, params: dict[str, Any],
                      note: str = "") -> StudioResult:
    notes = list(inp.notes) + ([note] if note else [])
    res = StudioResult(task, method, "classical", method, inp.language, [Variant(text, method)], inp.ids, params,
                       None, [], notes)
    key = _cache.cache_key(task, {"text": inp.text, "params": params, "sources": inp.ids}, "classical", method)
    return _cache_put(key, res)


def _auto_llm(method: str, backend: str | None) -> bool:
    """auto → the LLM only when it is a remote (capable) model; the small embedded one loses to classical."""
    if method == "llm":
        return True
    if method != "auto":
        return False
    name = {"remote": "openai"}.get(backend or "", backend) or default_backend()
    return name == "openai"


def summary(sources: list[int] | None = None, *, text: str | None = None, language: str | None = None,
            length: str = "short", method: str = "auto", backend: str | None = None, emit: Emit | None = None,
            use_cache: bool = True) -> StudioResult:
    """A one-line, short or long summary: the LLM (method llm; auto with a remote backend) or extractive
    sentences (textrank, lead; auto with the embedded model)."""
    if length not in SUMMARY_LENGTHS:
        raise StudioError(f"unknown summary length {length!r}; one of {', '.join(SUMMARY_LENGTHS)}")
    if method not in ("auto", "llm", "textrank", "lead"):
        raise StudioError(f"unknown summary method {method!r}; one of auto, llm, textrank, lead")
    inp = _gather(sources, text, language)
    k = _SUMMARY_SENTENCES[length]
    params = {"length": length}
    extract = "lead" if method == "lead" else "textrank"
    fallback = lambda: extractive_summary(inp.text, k, extract)  # noqa: E731
    if not _auto_llm(method, backend):
        return _classical_result("summary", inp, extract, fallback(), params)
    return _llm_task("summary", "summary", inp, _llm(backend), values={"length": _LENGTH_NAMES[inp.language][length]},
                     max_tokens=_SUMMARY_TOKENS[length], stop=["\n\n", "原文：", "Text:"], params=params, emit=emit,
                     use_cache=use_cache, fallback=fallback, fallback_method=extract)


def _template_rewrite(text: str, style: str, language: str) -> str:
    zh = language == "zh"
    joiner = "" if zh else " "
    if style == "social":
        head = (extractive_headlines(text, 1) or [None])[0]
        tags = " ".join(f"#{w}#" if zh else f"#{w.replace(' ', '')}" for w in list(keywords(text, 3))[:3])
        lead = lead_sentence(text)
        return joiner.join(x for x in ((f"【{head.text}】" if zh else f"{head.text}:") if head else "", lead) if x) \
            + ("\n" + tags if tags else "")
    if style == "broadcast":
        sents = split_sentences(extractive_summary(text, 5, "textrank"))
        return "\n".join(sents)
    return extractive_summary(text, 5, "textrank")


def rewrite(sources: list[int] | None = None, *, text: str | None = None, language: str | None = None,
            style: str = "news", method: str = "auto", backend: str | None = None, emit: Emit | None = None,
            use_cache: bool = True) -> StudioResult:
    """The source rewritten as a news story, a broadcast script or a social post: the LLM, or (``template``;
    auto with the embedded model) key sentences arranged in the style."""
    if style not in STYLES:
        raise StudioError(f"unknown style {style!r}; one of {', '.join(STYLES)}")
    if method not in ("auto", "llm", "template"):
        raise StudioError(f"unknown rewrite method {method!r}; one of auto, llm, template")
    inp = _gather(sources, text, language)
    params = {"style": style}
    fallback = lambda: _template_rewrite(inp.text, style, inp.language)  # noqa: E731
    if not _auto_llm(method, backend):
        return _classical_result("rewrite", inp, "template", fallback(), params)
    return _llm_task("rewrite", "rewrite", inp, _llm(backend), values={"style": _STYLE_NAMES[inp.language][style]},
                     max_tokens=500, stop=["\n\n\n", "原文：", "Text:"], params=params, emit=emit, use_cache=use_cache,
                     fallback=fallback, fallback_method="template")


def outline(sources: list[int] | None = None, *, text: str | None = None, language: str | None = None,
            method: str = "auto", backend: str | None = None, emit: Emit | None = None,
            use_cache: bool = True) -> StudioResult:
    """A story outline, one point per line: the LLM, or (``textrank``; auto with the embedded model) the key
    sentences as points."""
    if method not in ("auto", "llm", "textrank"):
        raise StudioError(f"unknown outline method {method!r}; one of auto, llm, textrank")
    inp = _gather(sources, text, language)
    fallback = lambda: "\n".join(f"- {s}" for s in split_sentences(extractive_summary(inp.text, 6)))  # noqa: E731
    if not _auto_llm(method, backend):
        return _classical_result("outline", inp, "textrank", fallback(), {})
    return _llm_task("outline", "outline", inp, _llm(backend), values={}, max_tokens=300,
                     stop=["\n\n", "材料：", "Material:"], params={}, emit=emit, use_cache=use_cache,
                     fallback=fallback, fallback_method="textrank", prefix="- ")


# ---------------------------------------------------------------- translation
def translate(sources: list[int] | None = None, *, text: str | None = None, language: str | None = None,
              target: str | None = None, backend: str | None = None, emit: Emit | None = None,
              use_cache: bool = True) -> StudioResult:
    """zh↔en translation by an LLM, paragraph by paragraph (``target`` default: the other language).
    The remote model is used when configured; the small embedded model is weak at this, and says so."""
    inp = _gather(sources, text, language)
    target = (target or ("en" if inp.language == "zh" else "zh")).split("-")[0].lower()
    if target not in ("zh", "en"):
        raise StudioError(f"translation target must be zh or en, not {target!r}")
    if target == inp.language:
        raise StudioError(f"the source is already in {target}")
    if backend is None and remote_configured():
        backend = "openai"
    llm = _llm(backend)
    from zhimei.studio.translator import translate_paragraphs

    notes = list(inp.notes)
    if not _is_remote(llm):
        notes.append(f"the embedded model ({_model_label(llm)}) translates poorly; configure a remote model "
                     "(ZHIMEI_OPENAI_BASE_URL) for publishable translations")
    paras = [p for p in re.split(r"\n\s*\n|\n", inp.text) if p.strip()]
    params = {"target": target, "source_language": inp.language}
    template = load_prompt("translate", f"{inp.language}-{target}")
    key, hit = _cache_get("translate", {"paragraphs": paras, "params": params, "sources": inp.ids},
                          f"{llm.name}:{_model_label(llm)}", template, use_cache)
    if hit:
        return hit
    out, calls, errs = translate_paragraphs(llm, paras, inp.language, target, emit=emit)
    notes += errs
    done = [p for p in out if p is not None]
    if not done:
        raise StudioError("translation failed: " + "; ".join(errs or ["the model returned nothing"]))
    if len(done) < len(paras):
        notes.append(f"{len(paras) - len(done)} of {len(paras)} paragraphs were not translated (kept as "
                     "[untranslated])")
    joined = "\n\n".join(p if p is not None else f"[untranslated] {src}" for p, src in zip(out, paras, strict=True))
    res = StudioResult("translate", "llm", llm.name, _model_label(llm), target, [Variant(joined, "llm")], inp.ids,
                       params, template, calls, notes)
    return _cache_put(key, res)


# ---------------------------------------------------------------- drafts
def draft(sources: list[int], *, language: str | None = None, method: str = "auto", backend: str | None = None,
          emit: Emit | None = None, use_cache: bool = True, sentences_per_source: int = 3) -> StudioResult:
    """A news draft from the chosen sources: one paragraph per source citing it as ``[#asset:segment]``, and a
    support check marking each sentence the cited sources do not support (character-bigram / word overlap
    below 0.5). Method llm (each paragraph written by the LLM from the source's key sentences; auto with a
    remote backend) or extractive (the key sentences themselves; auto with the embedded model)."""
    if method not in ("auto", "llm", "extractive"):
        raise StudioError(f"unknown draft method {method!r}; one of auto, llm, extractive")
    srcs = source_texts(list(sources or []))
    use_llm = _auto_llm(method, backend)
    llm = _llm(backend) if use_llm else None
    lang = (language or "").lower() or None
    notes: list[str] = []
    params = {"method": "llm" if use_llm else "extractive", "sentences_per_source": sentences_per_source}
    all_text = "\n\n".join(s.text for s in srcs)
    lang = lang or ("zh" if is_chinese(all_text) else "en")
    template = load_prompt("draft", lang) if use_llm else ""
    model = f"{llm.name}:{_model_label(llm)}" if llm else "classical"
    key, hit = _cache_get("draft", {"sources": [[s.asset_id, s.text] for s in srcs], "params": params}, model,
                          template, use_cache)
    if hit:
        return hit
    paragraphs: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    for i, src in enumerate(srcs):
        _emit(emit, type="progress", done=i, total=len(srcs), message=f"source #{src.asset_id}")
        picked = _key_sentences(src, sentences_per_source)
        cites = sorted({seg_id for _, seg_id in picked})
        material = ("" if lang == "zh" else " ").join(s for s, _ in picked)
        text, how = material, "extractive"
        if llm is not None:
            out, record, err = llm_generate(llm, _render(template, text=material), max_tokens=300,
                                            stop=["\n\n", "材料：", "Material:"],
                                            on_token=lambda p: _emit(emit, type="token", text=p))
            calls.append(record)
            why = err or _garbage(out)
            if why:
                notes.append(f"source #{src.asset_id}: {why}; its key sentences are used instead")
            else:
                text, how = _LABEL.sub("", out.strip()), "llm"
        checked = []
        source_text = "\n".join(seg.text for seg in src.segments if seg.id in cites) or src.text
        for sent in split_sentences(text):
            score = support_score(sent, source_text)
            checked.append({"text": sent, "support": round(score, 3), "supported": score >= 0.5})
        paragraphs.append({"text": text, "method": how, "asset_id": src.asset_id, "segments": cites,
                           "citation": f"[#{src.asset_id}:{','.join(map(str, cites))}]", "sentences": checked})
        _emit(emit, type="paragraph", index=i, **paragraphs[-1])
    _emit(emit, type="progress", done=len(srcs), total=len(srcs))
    unsupported = sum(1 for p in paragraphs for s in p["sentences"] if not s["supported"])
    if unsupported:
        notes.append(f"{unsupported} sentence(s) are not supported by their cited sources (marked ⚠)")
    body = "\n\n".join(
        ("" if lang == "zh" else " ").join(s["text"] if s["supported"] else f"⚠{s['text']}" for s in p["sentences"])
        + " " + p["citation"] for p in paragraphs)
    used = "llm" if any(p["method"] == "llm" for p in paragraphs) else "extractive"
    res = StudioResult("draft", used, llm.name if llm else "classical", _model_label(llm) if llm else "extractive",
                       lang, [Variant(body, used)], [s.asset_id for s in srcs], params, template or None, calls,
                       notes, {"paragraphs": paragraphs, "unsupported": unsupported})
    return _cache_put(key, res)


def _key_sentences(src: SourceText, k: int) -> list[tuple[str, int]]:
    """The source's k best sentences (TextRank with a lead bias), in order, with their segment ids."""
    from zhimei.studio.classical import textrank_sentences

    units: list[tuple[str, int]] = []
    for seg in src.segments:
        units += [(sent, seg.id) for sent in split_sentences(seg.text)]
        if len(units) >= 150:
            units = units[:150]
            break
    if len(units) <= k:
        return units
    scores = textrank_sentences([u for u, _ in units])
    ranked = sorted(range(len(units)), key=lambda i: -(scores[i] * (1.0 + 0.5 / (1 + i))))
    return [units[i] for i in sorted(ranked[:k])]
