"""whisper's own reading of a corrected transcript: how likely the recogniser finds a text over the audio it heard.

The Chinese speller judges a challenger by a language model alone, which cannot tell a word that fits the sentence
from the word that was said. whisper can: for every window faster-whisper aligns the decoded text to its audio
(``align``, teacher-forced over the encoder output), and the same call with a corrected text gives whisper's
log-probability of that text. `RescoringWhisper.align` keeps each thread's last window (`HeardWindow`), and a
segment's `HeardWindow.scorer` reads variants of that segment's text in its place, the window's other segments
around it. On the speller's checked challengers, right edits lose a median 1.5 nats of whisper's log-probability
and wrong ones 10-15 (80 synthetic LCSTS clips), so the speller adds a share of the change to the LM's gain.

A read gives the log-probability of each token of the text (`Reading`), so one read of a text with several
edits far enough apart tells each edit's change: the tokens from that edit up to the next one (`Reading.over`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["HEARD_PADDING", "HeardWindow", "Reading", "Scorer", "SegmentScorer"]

HEARD_PADDING = 100
"""Encoder positions (20 ms each) read after the window's speech when scoring texts. Each read costs about 20 ms on
2 cores against 30 ms over the whole trimmed window, and chose as well on the tuning sets (80 LCSTS clips: CER
0.1795 against 0.1790)."""


@dataclass(frozen=True)
class Reading:
    """whisper's reading of one text in place of its segment: the log-probability of each of the text's tokens and
    the offset of the character each token ends on (a token may span characters, a character several tokens)."""

    logprobs: np.ndarray
    ends: tuple[int, ...]

    @property
    def total(self) -> float:
        """The log-probability of the whole text."""
        return float(self.logprobs.sum())

    def over(self, start: int, end: int) -> float:
        """The log-probability of the tokens ending on characters ``start``..``end - 1``."""
        return float(sum(p for p, at in zip(self.logprobs, self.ends, strict=True) if start <= at < end))


Scorer = Callable[[Sequence[str]], list[Reading]]
"""Texts read in place of one segment (the window's other text around it) → whisper's `Reading` of each."""


class HeardWindow:
    """One aligned whisper window: the encoder output (a CTranslate2 StorageView, batch of one), the start
    sequence, the text token ids of its segments and its frame count, as faster-whisper handed them to ``align``."""

    def __init__(self, model: Any, tokenizer: Any, features: Any, start: Sequence[int], tokens: Sequence[int],
                 frames: int, hypotheses: Sequence[str] = ()) -> None:
        self._model = model
        self.hypotheses = tuple(hypotheses)
        self._tok = tokenizer
        self._features: Any = features
        self._short: Any = None
        self.start = list(start)
        self.tokens = list(tokens)
        self.frames = int(frames)

    @property
    def features(self) -> Any:
        """The encoder output over the speech and `HEARD_PADDING` positions after it (see `cut`)."""
        self.cut()
        return self._short

    def cut(self) -> None:
        """Copy out the encoder output this window's texts are read over, once, and let the whole window's output
        go: a scorer travels with its segments to the text stage and should hold only what it reads (0.7 MB for a
        5 s clip, where the window's output is 1.5-3 MB)."""
        if self._short is None:
            import ctranslate2

            x = np.asarray(self._features)
            keep = (self.frames + 1) // 2 + HEARD_PADDING
            self._short = self._features if x.ndim != 3 or keep >= x.shape[1] else \
                ctranslate2.StorageView.from_array(np.array(x[:, :keep]))  # a copy: a view would keep the rest
            self._features = None

    def scorer(self, segment_tokens: Sequence[int], end_of_text: int) -> SegmentScorer | None:
        """A `SegmentScorer` for the segment whose decoded token ids are ``segment_tokens`` (timestamp and special
        tokens, ids from ``end_of_text`` up, are ignored); None when this window does not hold that segment."""
        seg = [t for t in segment_tokens if t < end_of_text]
        at = _find(self.tokens, seg) if seg else -1
        if at < 0:
            return None
        features = self.features  # cut now: the scorer may wait in a queue
        before, after = self.tokens[:at], self.tokens[at + len(seg):]

        def score(texts: Sequence[str]) -> list[Reading]:
            out = []
            for text in texts:
                encoded = self._tok.encode(text, add_special_tokens=False)
                ids = before + encoded.ids + after
                result = self._model.align(features, self.start, [ids], self.frames)[0]
                logprobs = _logs(result.text_token_probs)[len(before):len(before) + len(encoded.ids)]
                out.append(Reading(logprobs, tuple(end - 1 for _start, end in encoded.offsets)))
            return out

        return SegmentScorer(score, self.hypotheses)


class SegmentScorer:
    """A `Scorer` for one segment (called with texts: whisper's `Reading` of each in the segment's place) that also
    holds the other texts whisper's beam wrote for the segment's window (``hypotheses``)."""

    def __init__(self, read: Scorer, hypotheses: Sequence[str] = ()) -> None:
        self._read = read
        self.hypotheses = tuple(hypotheses)

    def __call__(self, texts: Sequence[str]) -> list[Reading]:
        return self._read(texts)


def _logs(probs: Sequence[float]) -> np.ndarray:
    return np.log(np.maximum(np.asarray(probs, dtype=np.float64), 1e-30))


def _find(seq: Sequence[int], part: Sequence[int]) -> int:
    """Offset of the last occurrence of ``part`` in ``seq`` (-1 when absent)."""
    n = len(part)
    for i in range(len(seq) - n, -1, -1):
        if seq[i:i + n] == part:
            return i
    return -1
