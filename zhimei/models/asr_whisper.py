"""Speech recognition with faster-whisper and the packaged whisper-base model.

What the product adds to the bare model call (beam 5, Silero VAD, the same decoding settings):
- bounded memory on long recordings: the 16 kHz WAV is read in windows of ``asr_window_seconds``
  cut at a quiet moment; each window is transcribed with VAD;
- language detection on the first window that has speech (silence/music → honest empty transcript);
- word timings and per-word confidence; segments split at sentence ends and pauses;
- Chinese: Traditional→Simplified, full-width punctuation, and homophone correction of the characters
  whisper was unsure of (zhimei.models.zh_correct), with caller hotwords (names from the archive)
  preferred and protected;
- subtitle-credit hallucinations ("字幕由…", "Thanks for watching" at low confidence) dropped.

Measured choices (bench/asr.py and its --make-extra set): a Simplified-Chinese initial prompt made CER
worse on 60 synthetic Mandarin clips (0.108 → 0.114/0.116) so none is used; decoding without timestamps
was no more accurate and broke long-form audio; padding with silence did not help.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from zhimei.models.audio import as_wav16k, read_windows, wav_duration
from zhimei.models.base import ModelError, model_cache_dir
from zhimei.models.interfaces import ASR
from zhimei.models.registry import register
from zhimei.models.textnorm import has_cjk, to_simplified
from zhimei.models.types import Segment, Transcript, Word
from zhimei.models.whisper_files import parts_missing, whisper_model_dir

__all__ = ["FasterWhisperASR", "decode_options", "clean_segment_text", "is_hallucination", "hotword_list"]

_CJK_LANGS = ("zh", "ja", "yue")

# Phrases whisper produces from silence/music (they come from subtitle credits in its training data).
_CREDITS = re.compile(
    r"(字幕|字幕组|字幕由|amara\.org|明镜|点点栏目|订阅.*点赞|点赞.*订阅|subtitles by|transcribed by|"
    r"ご視聴ありがとうございました|www\.|\.com)", re.IGNORECASE)
_THANKS = re.compile(r"^\W*(thank you|thanks)( (so|very) much)?( for watching| for listening)?\W*$"
                     r"|^\W*(谢谢(大家|观看|收看)?|感谢观看)\W*$", re.IGNORECASE)


def decode_options(language: str, prompt: str | None, beam_size: int, word_timestamps: bool) -> dict[str, Any]:
    """The faster-whisper keyword arguments the product decodes with."""
    return {
        "language": language,
        "task": "transcribe",
        "beam_size": beam_size,
        "best_of": 5,
        "temperature": [0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
        "compression_ratio_threshold": 2.4,
        "log_prob_threshold": -1.0,
        "no_speech_threshold": 0.6,
        "condition_on_previous_text": True,
        "hotwords": prompt or None,
        "word_timestamps": word_timestamps,
        "vad_filter": True,
    }


def hotword_list(hotwords: str | Sequence[str] | None) -> list[str]:
    """Caller names/terms as a clean list (a string may separate them with commas or 、)."""
    if not hotwords:
        return []
    items = re.split(r"[,，、;；\n]+", hotwords) if isinstance(hotwords, str) else [str(h) for h in hotwords]
    return [h.strip() for h in items if h.strip()][:100]


def _prompt_for(language: str, terms: list[str]) -> str | None:
    if not terms:
        return None
    if language == "zh":
        return "、".join(to_simplified(t) for t in terms) + "。"
    return ", ".join(terms) + "."


_ZH_PUNCT = str.maketrans({",": "，", "?": "？", "!": "！", ";": "；", ":": "："})


def clean_segment_text(text: str, language: str | None) -> str:
    """Tidy one segment: Simplified characters and full-width punctuation for Chinese."""
    text = text.strip()
    if language in ("zh", "yue") or (language is None and has_cjk(text)):
        text = to_simplified(text)
        text = re.sub(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])", "，", text)
        text = re.sub(r"(?<=[\u4e00-\u9fff])[,?!;:](?=[\u4e00-\u9fff]|$)",
                      lambda m: m.group(0).translate(_ZH_PUNCT), text)
        text = re.sub(r"(?<=[\u4e00-\u9fff])\.$", "。", text)
    return text


def is_hallucination(text: str, avg_logprob: float, no_speech_prob: float) -> bool:
    """True for text whisper invents from non-speech (credits, stray thanks at low confidence)."""
    t = text.strip()
    if not t or not re.search(r"\w", t):
        return True
    if _CREDITS.search(t):
        return True
    return bool(_THANKS.match(t)) and (no_speech_prob > 0.2 or avg_logprob < -0.5)


@register
class FasterWhisperASR(ASR):
    """faster-whisper (CTranslate2) running the packaged whisper-base, int8 on CPU."""

    name = "faster-whisper"
    licence = "MIT"
    requires = ("faster_whisper", "ctranslate2", "opencc")
    description = "whisper-base int8, Silero VAD, 99 languages; zh output Simplified"

    def _check(self) -> str | None:
        return parts_missing()

    def _load(self) -> Any:
        from faster_whisper import WhisperModel

        folder = whisper_model_dir(model_cache_dir(self.settings))
        return WhisperModel(str(folder), device="cpu", compute_type="int8",
                            cpu_threads=self.settings.model_threads, num_workers=1, local_files_only=True)

    def detect_language(self, audio: Any) -> tuple[str | None, float]:
        """(language, probability) of the speech in a 16 kHz float32 array; (None, 0) without speech."""
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        if not get_speech_timestamps(audio, VadOptions()):
            return None, 0.0
        lang, prob, _ = self.model().detect_language(audio=audio, vad_filter=True, language_detection_segments=2)
        return lang, float(prob)

    def transcribe(self, audio_path: str | Path, language: str | None = None,
                   hotwords: str | Sequence[str] | None = None,
                   progress: Callable[[float], None] | None = None,
                   word_timestamps: bool = True) -> Transcript:
        """Transcribe a recording of any length in bounded memory (see module docstring)."""
        model = self.model()
        language = (language or "").strip().lower() or None
        if language in ("zh-cn", "zh-hans", "zh-tw", "zh-hant", "cmn"):
            language = "zh"
        if language and language not in _supported_languages():
            raise ModelError(f"whisper cannot transcribe language {language!r}")
        lang_prob = 1.0 if language else 0.0
        terms = hotword_list(hotwords)
        segments: list[Segment] = []
        with as_wav16k(audio_path, scratch=None) as wav:
            total = max(wav_duration(wav), 1e-6)
            for offset, audio in read_windows(wav, self.settings.asr_window_seconds):
                if language is None:
                    language, lang_prob = self.detect_language(audio)
                    if language is None:
                        if progress:
                            progress(min(1.0, (offset + len(audio) / 16000) / total))
                        continue
                opts = decode_options(language, _prompt_for(language, terms), self.settings.asr_beam_size,
                                      word_timestamps)
                try:
                    seg_iter, _info = model.transcribe(audio, **opts)
                    for s in seg_iter:
                        segments.extend(self._segments(s, offset, language, terms))
                        if progress:
                            progress(min(1.0, (offset + s.end) / total))
                except (RuntimeError, ValueError) as exc:
                    raise ModelError(f"speech recognition failed: {exc}") from exc
                if progress:
                    progress(min(1.0, (offset + len(audio) / 16000) / total))
        if not segments:
            return Transcript(language=language if lang_prob else None, language_probability=lang_prob,
                              segments=[], duration=round(total, 3))
        return Transcript(language=language, language_probability=round(lang_prob, 4), segments=segments,
                          duration=round(total, 3))

    def _segments(self, s: Any, offset: float, language: str, terms: list[str]) -> list[Segment]:
        """One whisper segment as transcript segments: Chinese clean-up and homophone correction, then
        split at sentence ends and long pauses using the word times."""
        text = clean_segment_text(s.text, language)
        if is_hallucination(text, s.avg_logprob, s.no_speech_prob):
            return []
        cjk = language in _CJK_LANGS
        raw = [w for w in (s.words or []) if w.word.strip()]
        texts = [clean_segment_text(w.word, language) if cjk else w.word.strip() for w in raw]
        if language == "zh" and raw and self.settings.asr_correct_homophones:
            texts = _correct_words(texts, [float(w.probability) for w in raw], terms)
        words = [Word(start=round(offset + w.start, 3), end=round(offset + w.end, 3), text=t,
                      prob=round(float(w.probability), 4)) for w, t in zip(raw, texts, strict=True)]
        extra = {"avg_logprob": round(float(s.avg_logprob), 4), "no_speech_prob": round(float(s.no_speech_prob), 4)}
        if not words:
            return [Segment(start=round(offset + s.start, 3), end=round(offset + s.end, 3), text=text, **extra)]
        groups: list[list[Word]] = [[]]
        for i, w in enumerate(words):
            cur = groups[-1]
            pause = bool(cur) and w.start - cur[-1].end > 1.0
            if pause or (cur and cur[-1].end - cur[0].start > 15 and _ends_clause(cur[-1].text)):
                groups.append([])
                cur = groups[-1]
            cur.append(w)
            if _ends_sentence(w.text) and i + 1 < len(words) and cur[-1].end - cur[0].start > 1.5:
                groups.append([])
        out = []
        for g in (g for g in groups if g):
            joined = "".join(w.text for w in g) if cjk else " ".join(w.text for w in g)
            out.append(Segment(start=g[0].start, end=g[-1].end, text=clean_segment_text(joined, language),
                               words=g, **extra))
        return out


def _correct_words(texts: list[str], probs: list[float], terms: list[str]) -> list[str]:
    """Homophone-correct the word texts of one Chinese segment; corrections keep the length (one character
    per pinyin syllable), so the corrected text is cut back into the same words."""
    from zhimei.models.zh_correct import get_corrector

    joined = "".join(texts)
    conf = [p for t, p in zip(texts, probs, strict=True) for _ in t]
    fixed = get_corrector().correct(joined, conf, hotwords=terms)
    if len(fixed) != len(joined):
        return texts
    out, pos = [], 0
    for t in texts:
        out.append(fixed[pos:pos + len(t)])
        pos += len(t)
    return out


def _ends_sentence(word: str) -> bool:
    return word.rstrip("\"'”’)").endswith((".", "?", "!", "。", "？", "！"))


def _ends_clause(word: str) -> bool:
    return _ends_sentence(word) or word.rstrip("\"'”’)").endswith((",", ";", ":", "，", "；", "：", "、"))


def _supported_languages() -> set[str]:
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    return set(_LANGUAGE_CODES)
