"""N-best rescoring of whisper's beam: the choice rule, the packaged language models that read the hypotheses,
and the wrapped decoder on real speech."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from zhimei.models.asr_acoustic import HEARD_PADDING
from zhimei.models.asr_rescore import LMScorer, RescoringWhisper, best_hypothesis, rescoring_lm_path
from zhimei.settings import get_settings

JFK = (Path(__file__).resolve().parents[2] / "shared" / "eval-dev" / "speech" / "jfk.wav").resolve()
ZH = JFK.with_name("funasr_sample_zh.wav")


def _table(scores: dict[str, float], calls: list[list[str]]):
    """A language model read from a table (the choice rule's test; the packaged models are tested below)."""
    def lm(texts):
        calls.append(list(texts))
        return [scores[t] for t in texts]
    return lm


def test_the_language_model_promotes_a_close_hypothesis():
    calls: list[list[str]] = []
    lm = _table({"sporadic chilling": -40.0, "sporadic shelling": -30.0}, calls)
    # acoustic: the wrong word is 0.5 nats ahead; the LM prefers the right one by 10 nats
    assert best_hypothesis([-5.0, -5.5], ["sporadic chilling", "sporadic shelling"], lm, weight=0.3) == 1
    assert best_hypothesis([-5.0, -5.5], ["sporadic chilling", "sporadic shelling"], lm, weight=0.0) == 0
    assert calls[0] == ["sporadic chilling", "sporadic shelling"]  # best acoustic first (it fills the cache)


def test_far_hypotheses_and_timestamp_twins_are_not_read():
    calls: list[list[str]] = []
    lm = _table({"a": -50.0, "b": -10.0}, calls)
    # "b" is 4 nats behind: outside the margin, so it cannot win however much the LM likes it
    assert best_hypothesis([-1.0, -5.0], ["a", "b"], lm, weight=1.0) == 0
    # the same text twice (different timestamps): one distinct text, no LM call, best acoustic copy kept
    assert best_hypothesis([-2.0, -1.5, -9.0], ["a", "a", "b"], lm, weight=1.0) == 1
    assert calls == []
    assert best_hypothesis([], [], lm, weight=1.0) == 0
    # texts that differ only in punctuation, case or spacing are one text: the acoustically best is kept unread
    assert best_hypothesis([-2.0, -1.0], ["Rates and change, but", "rates and change but"], lm, weight=1.0) == 1
    assert best_hypothesis([-1.0, -1.2], ["我想问，我在新区", "我想问我在新区。"], lm, weight=1.0) == 0
    assert calls == []


def test_a_hypothesis_that_stops_early_never_wins():
    calls: list[list[str]] = []
    sentence = "这是一个堪称基进的军令状"
    lm = _table({sentence: -60.0, "": 0.0, "这是一个": -20.0, "a roman villa": -30.0, "a roman village": -35.0},
                calls)
    # seen on a clean Mandarin clip: the empty hypothesis had the best total (fewer tokens) and the LM reads
    # nothing for it; the beam's own choice (lead 0, by length-normalised score) must stay
    assert best_hypothesis([-7.8, -5.8], [sentence, ""], lm, weight=0.3) == 0
    assert best_hypothesis([-7.8, -6.0], [sentence, "这是一个"], lm, weight=0.3) == 0
    assert calls == []  # neither short text competed, so nothing was read
    # a different last word is not a truncation, even when it has fewer letters
    assert best_hypothesis([-5.0, -5.4], ["a roman village", "a roman villa"], lm, weight=1.0) == 1
    # the lead is the beam's choice wherever it stands in the list
    assert best_hypothesis([-5.8, -7.8], ["", sentence], lm, weight=0.3, lead=1) == 1


@pytest.mark.slow
@pytest.mark.parametrize("language,right,wrong", [
    ("en", "The prime minister defended the decision to raise fuel taxes.",
     "The prime minister defended the decision to raise dual taxes."),
    ("zh", "据报道，文化行业有望成为国务院大部制改革的排头兵。", "据报道，文化行业有望成为国务院大部制改革的排旁边。"),
])
def test_packaged_language_models_prefer_the_right_words(language, right, wrong):
    path = rescoring_lm_path(language, get_settings())
    assert path is not None and path.is_file()
    scorer = LMScorer(path, threads=2)
    together = scorer.logprobs([wrong, right])
    assert together[1] > together[0]
    # the texts were read together, as sequences of one batch: the figure it has read alone
    assert scorer.logprobs([right])[0] == pytest.approx(together[1], abs=0.5)  # batch sizes differ: kernels round
    # compare() reads only the stretch around the difference: same ranking, a smaller sum
    near = scorer.compare([wrong, right])
    assert near[1] > near[0] and together[1] <= near[1] + 1e-3 and near[1] < 0
    assert scorer.logprobs([""]) == [0.0]


def test_languages_without_a_packaged_model_are_not_rescored():
    assert rescoring_lm_path("fr", get_settings()) is None


@pytest.fixture(scope="module")
def whisper(model_home):
    from zhimei.models import get_backend

    return get_backend("asr").model()


@pytest.mark.slow
def test_the_wrapped_decoder_returns_one_chosen_hypothesis(whisper):
    from faster_whisper.audio import decode_audio
    from faster_whisper.tokenizer import Tokenizer

    assert isinstance(whisper.model, RescoringWhisper)
    tokenizer = Tokenizer(whisper.hf_tokenizer, True, task="transcribe", language="en")
    features = whisper.feature_extractor(decode_audio(str(JFK)))[:, :3000]
    encoded = whisper.encode(np.pad(features, ((0, 0), (0, 3000 - features.shape[1]))))
    prompt = whisper.get_prompt(tokenizer, [])
    beam = whisper.model.generate(encoded, [prompt], beam_size=5, return_scores=True, max_length=224)
    assert len(beam) == 1 and len(beam[0].sequences_ids) == 1 and len(beam[0].scores) == 1
    text = tokenizer.decode([t for t in beam[0].sequences_ids[0] if t < tokenizer.eot]).lower()
    assert "ask not what your country can do for you" in text.replace(",", "")
    # sampling (temperature fallback) passes straight through to CTranslate2
    sampled = whisper.model.generate(encoded, [prompt], beam_size=1, num_hypotheses=2, sampling_temperature=0.5,
                                     sampling_topk=0, return_scores=True, max_length=224)
    assert len(sampled[0].sequences_ids) == 2


@pytest.mark.slow
def test_weight_zero_leaves_the_decoder_alone(tmp_path, monkeypatch):
    """Weight 0: no LM reads the beam; with whisper's whole window as well, whisper is not even wrapped."""
    from zhimei.models import asr_rescore, get_backend, reset_backends

    monkeypatch.setenv("ZHIMEI_HOME", str(tmp_path))
    monkeypatch.setenv("ZHIMEI_ASR_LM_WEIGHT", "0")
    get_settings.cache_clear()
    reset_backends()
    try:
        asr = get_backend("asr")
        assert isinstance(asr.model().model, RescoringWhisper)  # Chinese windows are still trimmed
        ranked: list[int] = []
        monkeypatch.setattr(asr_rescore, "best_hypothesis", lambda *a, **k: ranked.append(1) or 0)
        assert asr.transcribe(ZH, language="zh").text
        assert ranked == []
        monkeypatch.setenv("ZHIMEI_ASR_ENCODER_PADDING", "30")
        get_settings.cache_clear()
        reset_backends()
        assert not isinstance(get_backend("asr").model().model, RescoringWhisper)
    finally:
        monkeypatch.delenv("ZHIMEI_ASR_LM_WEIGHT")
        monkeypatch.delenv("ZHIMEI_ASR_ENCODER_PADDING", raising=False)
        get_settings.cache_clear()
        reset_backends()


def test_padding_is_trimmed_to_the_content_and_the_padding_asked_for():
    import ctranslate2

    from zhimei.models.asr_rescore import _trim_padding

    x = np.zeros((1, 80, 3000), dtype=np.float32)
    x[..., :501] = -0.5  # 5 s of mel frames, then faster-whisper's zero padding
    short = np.asarray(_trim_padding(ctranslate2.StorageView.from_array(x), 1000))
    assert short.shape == (1, 80, 1502) and np.array_equal(short, x[..., :1502])  # rounded up to an even count
    x[..., :2501] = -0.5  # no room for 10 s of padding: the whole window
    whole = ctranslate2.StorageView.from_array(x)
    assert _trim_padding(whole, 1000) is whole


@pytest.mark.slow
def test_the_encoder_padding_is_per_thread_and_per_language(model_home, monkeypatch):
    """Inside `padding`, this thread's encodes read the speech and the padding asked for; another thread's
    encodes, and languages outside asr_encoder_languages, read whisper's whole window."""
    import threading

    import ctranslate2

    from zhimei.models import asr_rescore, get_backend, reset_backends

    monkeypatch.setenv("ZHIMEI_ASR_ENCODER_LANGUAGES", '["en"]')
    monkeypatch.setenv("ZHIMEI_ASR_ENCODER_PADDING", "5")
    get_settings.cache_clear()
    reset_backends()
    try:
        asr = get_backend("asr")
        wrapper = asr.model().model
        assert isinstance(wrapper, RescoringWhisper)
        x = np.zeros((1, 80, 3000), dtype=np.float32)
        x[..., :400] = -0.5
        frames: dict[str, int] = {}

        def encode(name: str) -> None:
            out = wrapper.encode(ctranslate2.StorageView.from_array(x), to_cpu=True)
            frames[name] = np.asarray(out).shape[1]

        with wrapper.padding(5):
            other = threading.Thread(target=encode, args=("other thread",))
            other.start()
            other.join()
            encode("this thread")
        assert frames == {"this thread": 450, "other thread": 1500}  # the encoder halves the frame count
        seen: list[int] = []
        trim = asr_rescore._trim_padding
        monkeypatch.setattr(asr_rescore, "_trim_padding", lambda f, p: seen.append(p) or trim(f, p))
        t = asr.transcribe(JFK, language="en")
        assert "ask not what your country can do for you" in t.text.lower().replace(",", "")
        assert all(0 <= w.start <= w.end <= 11.1 for s in t.segments for w in s.words)
        assert seen and set(seen) == {500}
        seen.clear()
        asr.transcribe(ZH, language="zh")
        assert seen == []  # Chinese is not in this test's asr_encoder_languages
    finally:
        monkeypatch.delenv("ZHIMEI_ASR_ENCODER_LANGUAGES")
        monkeypatch.delenv("ZHIMEI_ASR_ENCODER_PADDING")
        get_settings.cache_clear()
        reset_backends()


@pytest.mark.slow
def test_whisper_reads_a_corrected_segment_over_its_own_audio(whisper):
    """Each window faster-whisper aligns is kept for its thread; a segment's scorer reads texts in its place over the
    window's audio (the speller's acoustic check, `asr_acoustic`)."""
    from faster_whisper.audio import decode_audio

    from zhimei.models.asr_whisper import decode_options

    wrapper = whisper.model
    with wrapper.padding(10):
        segments = list(whisper.transcribe(decode_audio(str(ZH)), **decode_options("zh", 5, True))[0])
    assert len(segments) == 1
    seg = [t for t in segments[0].tokens if t < whisper.hf_tokenizer.token_to_id("<|endoftext|>")]
    window = wrapper.heard_window()
    assert window.tokens == seg  # one segment: the window's text is the segment's
    whole = np.asarray(window._features)
    score = wrapper.heard(segments[0].tokens)
    assert score is not None and wrapper.heard([seg[0]] * (len(seg) + 1)) is None  # text this window never held
    short = np.asarray(window.features)  # the scorer keeps a copy of the speech's encoder output, not the window's
    assert window._features is None and not np.shares_memory(short, whole)
    assert short.shape[1] == (window.frames + 1) // 2 + HEARD_PADDING < whole.shape[1]
    said = segments[0].text.strip()  # 我想问我在冰台新区有房: whisper-base mishears 滨海
    assert said.endswith("新区有房")
    readings = score([said, said.replace("新区", "心区"), said.replace("新区", "新疆"), "我想问我在宾馆里吃饭"])
    as_said, same_sound, other_word, other_text = (r.total for r in readings)
    assert 0 > as_said > same_sound > other_word > other_text
    assert as_said - same_sound < 3 < as_said - other_word  # a same-sound slip costs whisper little
    whole_text = readings[0]  # token by token, each token placed on the character it ends on
    assert len(whole_text.logprobs) == len(whole_text.ends) and whole_text.ends[-1] == len(said) - 1
    assert list(whole_text.ends) == sorted(whole_text.ends) and whole_text.over(0, len(said)) == as_said
    at = said.index("新区")  # the slip's cost lies from where it stands on: the tokens before it read the same
    assert readings[1].over(0, at) == pytest.approx(whole_text.over(0, at), abs=1e-3)
    assert readings[1].over(at, len(said)) == pytest.approx(same_sound - as_said + whole_text.over(at, len(said)),
                                                            abs=1e-3)


def test_a_looping_text_is_told_by_its_compression():
    from zhimei.models.asr_rescore import LOOP_RATIO, _compression_ratio

    assert _compression_ratio("两岁起，他跟随伯伯" + "伯" * 90) > LOOP_RATIO
    assert _compression_ratio("两岁起，他跟随伯伯和伯母去南美生活。") < LOOP_RATIO
    assert _compression_ratio("And so my fellow Americans, ask not what your country can do for you.") < LOOP_RATIO
    assert _compression_ratio("") == 0.0


@pytest.mark.slow
def test_a_trimmed_window_that_loops_is_decoded_again_whole(whisper, monkeypatch):
    """A short clip encoded over its speech and 10 s of padding can send whisper's beam into a loop (伯伯伯…, all
    five hypotheses) where the whole 30 s window does not: the window is then encoded whole and decoded again."""
    from faster_whisper.audio import decode_audio
    from faster_whisper.tokenizer import Tokenizer

    wrapper = whisper.model
    tokenizer = Tokenizer(whisper.hf_tokenizer, True, task="transcribe", language="en")
    features = whisper.feature_extractor(decode_audio(str(JFK)))[:, :3000]
    window = np.pad(features, ((0, 0), (0, 3000 - features.shape[1])))
    prompt = whisper.get_prompt(tokenizer, [])
    loop = tokenizer.encode(" ask" * 60)
    real = wrapper._generate
    read: list[int] = []

    def stuck_when_trimmed(encoded, prompts, **kwargs):
        read.append(np.asarray(encoded).shape[1])  # encoder positions: 1,500 for the whole window
        out = real(encoded, prompts, **kwargs)
        if read[-1] < 1500 and not kwargs.get("sampling_temperature"):
            out[0].sequences_ids[0][:] = loop
        return out

    monkeypatch.setattr(wrapper, "_generate", stuck_when_trimmed)
    with wrapper.padding(10):
        encoded = whisper.encode(window)
        beam = wrapper.generate(encoded, [prompt], beam_size=5, return_scores=True, max_length=224)
    assert read[0] < 1500 and read[1:] == [1500]  # trimmed, looped, then read whole
    text = tokenizer.decode([t for t in beam[0].sequences_ids[0] if t < tokenizer.eot]).lower()
    assert "ask not what your country can do for you" in text.replace(",", "")
    read.clear()
    with wrapper.padding(10):  # sampling (faster-whisper's fallback) is never retried
        encoded = whisper.encode(window)
        wrapper.generate(encoded, [prompt], beam_size=1, sampling_temperature=0.5, sampling_topk=0, max_length=224)
    assert len(read) == 1
    read.clear()
    encoded = whisper.encode(window)  # the whole window to begin with: nothing to retry
    wrapper.generate(encoded, [prompt], beam_size=5, return_scores=True, max_length=224)
    assert read == [1500]
