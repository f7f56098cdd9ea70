"""zh↔en translation with an LLM backend, and the ``llm-translator`` Translator backend built on it.

A chat model (remote, smollm2) is told to translate; the base model (gemma3) continues a few-shot prompt
(``prompts/translate.<src>-<tgt>.txt``), one paragraph at a time. The embedded models are small: their
translations are drafts at best; a remote model (ZHIMEI_OPENAI_BASE_URL) is used when configured.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from zhimei.models import LLM, ModelError, NotReady, Translator, get_backend, register
from zhimei.models.textnorm import to_simplified

__all__ = ["LLMTranslator", "translate_paragraphs"]

_NAMES = {"zh": "Simplified Chinese", "en": "English"}
_PROMPTS = Path(__file__).resolve().parent / "prompts"


def _one(llm: LLM, text: str, source: str, target: str,
         on_token: Callable[[str], None] | None = None) -> tuple[str, dict[str, Any], str | None]:
    from zhimei.studio.text import llm_generate

    budget = max(64, min(1024, 3 * len(text)))
    if llm.name == "gemma3":
        template = (_PROMPTS / f"translate.{source}-{target}.txt").read_text(encoding="utf-8")
        prompt = template.replace("{text}", text.replace("\n", " "))
        out, rec, err = llm_generate(llm, prompt, max_tokens=budget, stop=["\n"], on_token=on_token)
    else:
        prompt = (f"Translate the following text from {_NAMES[source]} into {_NAMES[target]}. Keep names and "
                  f"numbers. Reply with the translation only.\n\n{text}")
        out, rec, err = llm_generate(llm, prompt, max_tokens=budget, on_token=on_token)
    out = out.strip()
    return (to_simplified(out) if target == "zh" else out), rec, err


def translate_paragraphs(llm: LLM, paragraphs: list[str], source: str, target: str,
                         emit: Callable[[dict[str, Any]], None] | None = None
                         ) -> tuple[list[str | None], list[dict[str, Any]], list[str]]:
    """Each paragraph translated (None where the call failed), the per-call records and the errors.
    After a timeout the remaining paragraphs are skipped (partial results are kept)."""
    out: list[str | None] = []
    calls: list[dict[str, Any]] = []
    errors: list[str] = []
    for i, para in enumerate(paragraphs):
        if emit:
            emit({"type": "progress", "done": i, "total": len(paragraphs), "message": f"paragraph {i + 1}"})
        if errors and "timed out" in errors[-1]:
            out.append(None)
            continue
        text, rec, err = _one(llm, para, source, target,
                              on_token=(lambda p: emit({"type": "token", "text": p})) if emit else None)
        calls.append(rec)
        if err or not text:
            errors.append(f"paragraph {i + 1}: {err or 'the model returned nothing'}")
            out.append(None)
        else:
            out.append(text)
        if emit:
            emit({"type": "token", "text": "\n\n"})
    if emit:
        emit({"type": "progress", "done": len(paragraphs), "total": len(paragraphs)})
    return out, calls, errors


@register
class LLMTranslator(Translator):
    """Translation through the configured LLM backend (ZHIMEI_LLM_BACKEND): zh↔en."""

    name = "llm-translator"
    licence = "that of the LLM backend in use"
    description = "zh↔en through the LLM backend (the embedded 270M/135M models are weak; remote recommended)"

    def _check(self) -> str | None:
        try:
            get_backend("llm")
        except NotReady as exc:
            return str(exc)
        return None

    def _load(self) -> LLM:
        return get_backend("llm")

    def translate(self, text: str, target: str, source: str | None = None) -> str:
        """``text`` in ``target`` (zh or en), paragraph by paragraph. ModelError when a call fails."""
        from zhimei.studio.classical import is_chinese

        if not text.strip():
            return text
        tgt = target.split("-")[0].lower()
        src = (source or ("zh" if is_chinese(text) else "en")).split("-")[0].lower()
        if {src, tgt} != {"zh", "en"}:
            raise ModelError(f"llm-translator translates between zh and en only, not {src}→{tgt}")
        paras = [p for p in text.split("\n") if p.strip()]
        out, _calls, errors = translate_paragraphs(self.model(), paras, src, tgt)
        if errors:
            raise ModelError("; ".join(errors))
        return "\n".join(p or "" for p in out)
