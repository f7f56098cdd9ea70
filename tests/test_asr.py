"""Speech recognition with the packaged whisper-base: real dev recordings, silence, long audio, bad input,
and the transcript normaliser used for scoring."""

from __future__ import annotations

import re
import subprocess
import threading
import wave
from pathlib import Path

import numpy as np
import pytest

from zhimei.models import ModelError, get_backend
from zhimei.models.asr_whisper import clean_segment_text, is_hallucination
from zhimei.models.audio import read_windows
from zhimei.models.textnorm import edit_distance, normalize_en, normalize_zh, score_tokens, to_simplified

SPEECH = (Path(__file__).resolve().parents[2] / "shared" / "eval-dev" / "speech").resolve()
JFK = SPEECH / "jfk.wav"
ZH = SPEECH / "funasr_sample_zh.wav"


@pytest.fixture(scope="module")
def asr(model_home):
    return get_backend("asr")


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args], check=True)


# ---------------------------------------------------------------- real speech
def test_jfk_english(asr):
    seen = []
    t = asr.transcribe(JFK, language="en", progress=seen.append)
    assert "ask not what your country can do for you" in t.text.lower().replace(",", "")
    assert t.language == "en" and t.segments
    words = [w for s in t.segments for w in s.words]
    assert words and all(0 <= w.start <= w.end <= 11.1 for w in words)
    assert all(a.start <= b.start for a, b in zip(t.segments, t.segments[1:], strict=False))
    assert seen and seen[-1] == pytest.approx(1.0) and seen == sorted(seen)


def test_language_detected_when_not_given(asr):
    t = asr.transcribe(JFK)
    assert t.language == "en" and t.language_probability > 0.5
    assert "country" in t.text.lower()


def test_chinese_comes_out_simplified(asr):
    t = asr.transcribe(ZH, language="zh")
    assert t.language == "zh"
    assert any("\u4e00" <= ch <= "\u9fff" for ch in t.text)
    assert to_simplified(t.text) == t.text  # no Traditional characters left
    assert t.text.startswith("我想问"), t.text
    for w in (w for s in t.segments for w in s.words):
        assert to_simplified(w.text) == w.text


def test_the_beams_other_texts_mend_a_misheard_place_name(asr):
    """whisper-base writes 滨海新区 as 冰台新区; another text of its beam has 海 for 台 (冰海星区), and with 滨 a
    sound-alike of 冰 the speller reaches the dictionary word 滨海 (`ChineseSpeller.beam_candidates`)."""
    from zhimei.models.asr_whisper import beam_alternatives

    alts = beam_alternatives("我想问我在冰台新区有房", ["我想问我在冰海星区有房", "我想问我在冰台新居有房。", "我想问"])
    assert alts == ["", "", "", "", "", "", "海", "星", "居", "", ""]
    assert beam_alternatives("冰台新区", []) == [""] * 4
    t = asr.transcribe(ZH, language="zh")
    assert "滨海新区" in t.text, t.text


def test_hotwords_are_accepted(asr):
    t = asr.transcribe(ZH, language="zh", hotwords=["滨海新区"])
    assert "新区" in t.text


@pytest.mark.slow
def test_telephone_speech_keeps_its_first_words(asr, tmp_path):
    """Speech from the first instant, through a telephone band: faster-whisper's default VAD detected it late and
    cut "The striker" / "The ceasefire" / "The school board" off (asr_whisper.VAD_OPTIONS). Piper speaks each line
    without sampling its timing or noise (noise scales 0), so every run hears the same audio: with the default VAD
    this take of the third line came out as "board voted to extend…"."""
    from piper.config import SynthesisConfig

    lines = {"scored": "The striker scored twice in the second half to send his club into the final.",
             "appeared": "The ceasefire appeared to be holding on Tuesday despite reports of sporadic shelling.",
             "voted": "The school board voted to extend the academic year by two weeks."}
    voice = get_backend("tts").model()
    steady = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    for verb, line in lines.items():
        clean, phone = tmp_path / f"{verb}.wav", tmp_path / f"{verb}_phone.wav"
        with wave.open(str(clean), "wb") as w:
            voice.synthesize_wav(line, w, syn_config=steady)
        subprocess.run(["sox", str(clean), "-r", "16000", str(phone), "silence", "1", "0.02", "1%",
                        "sinc", "300-3400", "rate", "8000", "rate", "16000"], check=True)
        words = re.findall(r"[a-z']+", asr.transcribe(phone, language="en").text.lower())
        # the subject before the verb was heard (whisper may still mishear a word of it: "this tracker scored")
        assert verb in words and words.index(verb) >= 2, words


def test_silence_gives_an_honest_empty_transcript(asr, tmp_path):
    silence = tmp_path / "silence.wav"
    _ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "6", "-c:a", "pcm_s16le", str(silence))
    t = asr.transcribe(silence)
    assert t.segments == [] and t.text == "" and t.language is None
    assert t.duration == pytest.approx(6.0, abs=0.05)


def test_tone_is_not_speech(asr, tmp_path):
    tone = tmp_path / "tone.wav"
    _ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000", "-t", "5", str(tone))
    assert asr.transcribe(tone, language="en").segments == []


def test_no_speech_is_not_transcribed_even_with_a_language_given(asr, tmp_path, monkeypatch):
    noise = tmp_path / "noise.wav"
    _ffmpeg("-f", "lavfi", "-i", "anoisesrc=color=pink:amplitude=0.2:sample_rate=16000:seed=7", "-t", "5",
            str(noise))
    asked = []
    monkeypatch.setattr(asr.model(), "transcribe", lambda *a, **k: asked.append(a) or ([], None))
    for lang in ("zh", "en"):
        t = asr.transcribe(noise, language=lang)
        assert t.segments == [] and t.text == ""
    assert asked == []  # the default VAD heard nothing, so whisper was never run on it


def test_compressed_input_is_converted(asr, tmp_path):
    mp3 = tmp_path / "jfk.mp3"
    _ffmpeg("-i", str(JFK), "-ar", "44100", "-ac", "2", "-b:a", "96k", str(mp3))
    t = asr.transcribe(mp3, language="en")
    assert "your country" in t.text.lower()
    assert not list(tmp_path.glob("zhimei-audio-*"))


def test_bad_audio_is_refused_clearly(asr, tmp_path):
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(b"ID3\x03\x00\x00\x00garbage" * 50)
    with pytest.raises(ModelError, match="junk.mp3"):
        asr.transcribe(junk)
    with pytest.raises(ModelError, match="not found"):
        asr.transcribe(tmp_path / "nothing.wav")
    with pytest.raises(ModelError, match="language"):
        asr.transcribe(JFK, language="klingon")


def _whisper_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "zhimei-asr-whisper" and t.is_alive()]


def test_many_recordings_come_back_in_order_as_one_at_a_time(asr):
    """transcribe_many overlaps whisper with the text stage of the recording before: same transcripts, same order."""
    one = [asr.transcribe(p) for p in (JFK, ZH)]
    many = list(asr.transcribe_many([JFK, ZH, JFK]))
    assert [t.language for t in many] == ["en", "zh", "en"]
    assert many[0].text == many[2].text == one[0].text
    assert edit_distance(list(many[1].text), list(one[1].text)) <= 1  # the speller's float sums may differ by a hair
    assert [s.start for s in many[0].segments] == [s.start for s in one[0].segments]
    assert not _whisper_threads()


def test_a_bad_recording_in_a_batch_fails_in_its_turn(asr, tmp_path):
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(b"ID3\x03\x00\x00\x00garbage" * 50)
    batch = asr.transcribe_many([JFK, junk, JFK], language="en")
    assert "your country" in next(batch).text.lower()
    with pytest.raises(ModelError, match="junk.mp3"):
        next(batch)
    assert not _whisper_threads()
    assert list(asr.transcribe_many([])) == []
    with pytest.raises(ModelError, match="language"):
        asr.transcribe_many([JFK], language="klingon")


def test_cancelling_through_progress_stops_whisper(asr):
    class Cancelled(Exception):
        pass

    def cancel(fraction: float) -> None:
        raise Cancelled

    with pytest.raises(Cancelled):
        asr.transcribe(JFK, language="en", progress=cancel)
    assert not _whisper_threads()
    batch = asr.transcribe_many([JFK, JFK], language="en")
    next(batch)
    batch.close()  # the caller stops reading: whisper's thread ends instead of reading the second file
    assert not _whisper_threads()


def test_cli_transcribes_a_batch(asr, tmp_path):
    import json

    from typer.testing import CliRunner

    from zhimei.models.cli import models_app

    res = CliRunner().invoke(models_app, ["transcribe", str(JFK), str(ZH), "--json"])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    assert [(Path(r["file"]).name, r["language"]) for r in rows] == [("jfk.wav", "en"), (ZH.name, "zh")]
    assert rows[0]["segments"][0]["words"][0]["start"] >= 0
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF0000WAVEjunk")
    res = CliRunner().invoke(models_app, ["transcribe", str(JFK), str(junk), "-l", "en"])
    assert res.exit_code == 1 and "your country" in res.stdout.lower() and "junk.wav" in res.output


def test_the_interface_default_batch_is_one_recording_after_another(tmp_path):
    from zhimei.models.interfaces import ASR
    from zhimei.models.types import Segment, Transcript

    class Listing(ASR):
        """The interface's default transcribe_many over a backend that names each file it is given."""

        name = "listing"
        licence = "MIT"

        def _load(self) -> None:
            return None

        def transcribe(self, audio_path, language=None, hotwords=None, progress=None):
            if progress:
                progress(1.0)
            return Transcript(language=language, language_probability=1.0,
                              segments=[Segment(start=0.0, end=1.0, text=Path(audio_path).name)])

    seen: list[float] = []
    texts = [t.text for t in Listing().transcribe_many(["a.wav", "b.wav"], language="en", progress=seen.append)]
    assert texts == ["a.wav", "b.wav"] and seen == [0.5, 1.0]


@pytest.mark.slow
def test_long_audio_is_windowed(asr, tmp_path, monkeypatch):
    """A 75 s recording read in 60 s windows: both copies of the speech found, times in order and in range."""
    long = tmp_path / "long.wav"
    _ffmpeg("-i", str(JFK), "-f", "lavfi", "-t", "53", "-i", "anullsrc=r=16000:cl=mono", "-i", str(JFK),
            "-filter_complex", "[0:a][1:a][2:a]concat=n=3:v=0:a=1", "-ar", "16000", "-ac", "1", str(long))
    monkeypatch.setattr(asr.settings, "asr_window_seconds", 60.0)
    t = asr.transcribe(long, language="en")
    assert t.text.lower().count("your country") >= 3, t.text
    starts = [s.start for s in t.segments]
    assert starts == sorted(starts) and t.segments[-1].end <= t.duration + 0.5
    assert any(s.start > 60 for s in t.segments)


def test_word_timings_do_not_move_the_decoder():
    """faster-whisper decides where the next 30 s starts with ``get_end``; the product's words are hidden from it."""
    from faster_whisper.utils import get_end

    from zhimei.models.asr_whisper import _WordsAfterTheFact

    segments = [{"start": 0.0, "end": 2.0, "words": _WordsAfterTheFact([{"word": "a", "end": 1.5}])},
                {"start": 2.0, "end": 4.0, "words": _WordsAfterTheFact([{"word": "b", "end": 3.2}])}]
    assert get_end(segments) == 4.0  # the last timestamp token, not the last word's end (3.2)
    assert [w["word"] for s in segments for w in s["words"]] == ["a", "b"]


@pytest.mark.slow
def test_long_form_text_is_the_same_with_word_timings(asr, tmp_path):
    """Over several 30 s windows, asking for word timings changes nothing in what is decoded."""
    from zhimei.models.asr_whisper import decode_options

    long = tmp_path / "long.wav"
    _ffmpeg(*[a for _ in range(5) for a in ("-i", str(JFK))], "-filter_complex",
            "".join(f"[{i}:a]" for i in range(5)) + "concat=n=5:v=0:a=1", "-ar", "16000", "-ac", "1", str(long))
    audio = next(read_windows(long, 600))[1]
    model = asr.model()
    texts = {}
    for words in (False, True):
        # temperature 0 only: five copies of one speech compress well enough to set off faster-whisper's sampling
        # fallback, which is random
        segments, _ = model.transcribe(audio, **{**decode_options("en", 5, words), "temperature": [0.0]})
        segments = list(segments)
        texts[words] = "".join(s.text for s in segments)
        if words:
            assert all(s.words for s in segments)
            ends = [w.end for s in segments for w in s.words]
            assert ends == sorted(ends) and ends[-1] > 45
    assert texts[True] == texts[False] and texts[True].lower().count("your country") >= 8


# ---------------------------------------------------------------- text-only decoding of short windows
def test_a_text_said_twice_over_is_told():
    from zhimei.models.asr_whisper import repeats_itself

    assert repeats_itself("Archaeologists uncovered the remains. Archaeologists uncovered the remains.")
    assert repeats_itself("我想问我在滨海新区有房。我想问，我在滨海新区有房")
    assert not repeats_itself("我想问我在滨海新区有房") and not repeats_itself("新区新区") and not repeats_itself("")
    assert not repeats_itself("Ask not what your country can do for you, ask what you can do for your country.")


def test_short_mandarin_windows_are_decoded_as_text_only(asr, monkeypatch):
    """Mandarin windows of up to 30 s are decoded without timestamp tokens (``asr_plain_text_languages``), longer
    ones and English with them; the transcript keeps its word timings."""
    assert asr.plain_text("zh", 30.0) and not asr.plain_text("zh", 30.5) and not asr.plain_text("en", 5.0)
    model = asr.model()
    real = model.transcribe
    asked: list[bool] = []

    def transcribe(audio, **options):
        asked.append(options["without_timestamps"])
        return real(audio, **options)

    monkeypatch.setattr(model, "transcribe", transcribe)
    t = asr.transcribe(ZH, language="zh")
    assert asked == [True] and t.text.startswith("我想问")
    words = [w for s in t.segments for w in s.words]
    assert words and all(0 <= w.start <= w.end <= t.duration + 0.1 for w in words)
    assert [w.start for w in words] == sorted(w.start for w in words)
    asked.clear()
    asr.transcribe(JFK, language="en")
    assert asked == [False]


@pytest.mark.slow
def test_a_text_only_window_said_twice_over_is_decoded_again_with_timestamps(asr, tmp_path, monkeypatch):
    """whisper-base without timestamp tokens can read a sentence again after its end (English Piper takes did, so
    English keeps them); a text-only window whose text says one thing twice over is decoded again with them. Here
    the speech really is said twice (English opted in to text-only decoding): both copies stay."""
    from zhimei.models.asr_whisper import repeats_itself

    twice = tmp_path / "twice.wav"
    _ffmpeg("-i", str(JFK), "-i", str(JFK), "-filter_complex", "[0:a][1:a]concat=n=2:v=0:a=1", "-ar", "16000",
            "-ac", "1", str(twice))
    monkeypatch.setattr(asr.settings, "asr_plain_text_languages", ["en"])
    model = asr.model()
    real = model.transcribe
    said: list[tuple[bool, str]] = []

    def transcribe(audio, **options):
        segments, info = real(audio, **options)
        segments = list(segments)
        said.append((options["without_timestamps"], "".join(s.text for s in segments)))
        return iter(segments), info

    monkeypatch.setattr(model, "transcribe", transcribe)
    t = asr.transcribe(twice, language="en")
    assert [plain for plain, _text in said] == [True, False], said
    assert repeats_itself(said[0][1])
    assert t.text.lower().replace(",", "").count("what your country can do for you") == 2, t.text
    assert t.segments[-1].end > 15


# ---------------------------------------------------------------- windows, clean-up, scoring
def test_windows_cover_the_file_exactly(tmp_path):
    path = tmp_path / "tone.wav"
    sr = 16000
    x = (np.sin(np.arange(sr * 130) / 7) * 8000 * (np.arange(sr * 130) % (sr * 3) > sr)).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(x.tobytes())
    windows = list(read_windows(path, window_seconds=60, search_seconds=10))
    assert len(windows) == 3
    assert sum(len(a) for _, a in windows) == len(x)
    offset = 0.0
    for start, audio in windows:
        assert start == pytest.approx(offset) and len(audio) <= 60 * sr
        offset += len(audio) / sr
    # cuts land in the quiet stretch (the first second of each 3 s period is silent)
    for start, _ in windows[1:]:
        assert (start * sr) % (sr * 3) <= sr


def test_segment_clean_up():
    assert clean_segment_text("我想問,我在濱海新區有房", "zh") == "我想问，我在滨海新区有房"
    assert clean_segment_text(" Hello, world. ", "en") == "Hello, world."
    assert is_hallucination("字幕由Amara.org社区提供", -0.2, 0.1)
    assert is_hallucination("Thank you for watching.", -0.8, 0.5)
    assert not is_hallucination("Thank you, Mr. President.", -0.2, 0.05)


def test_scoring_normaliser():
    assert normalize_en("Mr. Smith paid $5 in 1995.") == ["mister", "smith", "paid", "five", "dollars", "in",
                                                          "nineteen", "ninety", "five"]
    assert normalize_en("IT WAS THE FIRST") == normalize_en("It was the 1st")
    assert "".join(normalize_zh("2012年營收增長10%，達3.5億元")) == "二零一二年营收增长百分之十达三点五亿元"
    assert "".join(normalize_zh("共105人，20001元")) == "共一百零五人二万零一元"
    assert score_tokens("我想问我在滨海新区有房", "我想问，我在冰台新区有房。", "zh") == (2, 11)
    assert score_tokens("ask not what your country", "Ask not, what your country!", "en") == (0, 5)


# ---------------------------------------------------------------- Chinese homophone correction
def test_homophone_correction_fixes_unsure_characters_only():
    from zhimei.models.zh_correct import get_corrector

    c = get_corrector()
    text = "农民说今年的甘汉导致粮食减产"
    unsure = [0.95] * 6 + [0.3] * 2 + [0.95] * 6
    assert c.correct(text, unsure) == "农民说今年的干旱导致粮食减产"
    assert c.correct(text, [0.99] * len(text)) == text  # the recogniser was sure: left alone
    assert c.correct("救援人员仍在匪序中搜寻性存者", [0.4] * 14) == "救援人员仍在废墟中搜寻幸存者"
    clean = "国务院总理李强在人民大会堂作政府工作报告"
    assert c.correct(clean, [0.4] * len(clean)) == clean  # correct text stays correct
    assert c.correct("Hello 世界 2026", None) == "Hello 世界 2026"


def test_same_sound_words_come_most_frequent_first():
    from zhimei.models.zh_correct import get_corrector
    from zhimei.models.zh_speller import ChineseSpeller

    c = get_corrector()
    words = c.same_sound_words("式验")
    assert [w for w, _f in words][:2] == ["实验", "试验"] and words[0] == c.same_sound("式验")
    assert [f for _w, f in words] == sorted((f for _w, f in words), reverse=True) and len(words) <= 3
    assert all(w != "实验" for w, _f in c.same_sound_words("实验"))  # never the span itself
    # the transcript speller re-reads several same-sound words of a span (the LM decides between 实验 and 试验)
    one = ChineseSpeller(max_homophone_checks=12).homophone_candidates("这次式验很成功")
    several = ChineseSpeller(max_homophone_checks=12, homophone_words=3).homophone_candidates("这次式验很成功")
    assert {rep for _g, at, rep, _k in one if at == 2} == {"实验"}
    assert {"实验", "试验"} <= {rep for _g, at, rep, _k in several if at == 2}


def test_modern_words_jieba_lacks_are_offered_and_counted():
    import jieba

    from zhimei.models.zh_correct import MODERN_SCALE, get_corrector, modern_word_counts

    c = get_corrector()
    # wordfreq's list fills jieba's gaps without changing jieba's own table (segmentation stays jieba's)
    assert "吐槽" in c.freq and "吐槽" not in jieba.dt.FREQ
    assert "吐槽" in dict(c.same_sound_words("土槽"))  # a span that sounds like it is offered the modern word
    assert c.freq["滨海"] == jieba.dt.FREQ["滨海"]  # jieba's counts win where both have a word
    counts = modern_word_counts({"吐槽": 1}, jieba.dt.total)
    assert "吐槽" not in counts and "闺蜜" in counts  # only words the given table lacks
    assert all(2 <= len(w) <= 4 for w in counts) and all(v > 0 for v in counts.values())
    scaled = modern_word_counts({}, jieba.dt.total, scale=MODERN_SCALE * 2)
    assert abs(scaled["闺蜜"] - 2 * counts["闺蜜"]) <= 1
    from zhimei.models.zh_speller import ChineseSpeller

    offered = ChineseSpeller(max_homophone_checks=12, homophone_words=3).homophone_candidates("更多怪咖土槽")
    assert (4, "吐槽", "homophone") in [h[1:] for h in offered]


def test_nasal_twins_are_offered_apart_from_same_sound_words():
    from zhimei.models.zh_correct import _nasal_forms, get_corrector

    assert _nasal_forms("xin") == ("xin", "xing") and _nasal_forms("qing") == ("qing", "qin")
    assert _nasal_forms("ben") == ("ben", "beng") and _nasal_forms("hai") == ("hai",)
    c = get_corrector()
    assert "滨海" in dict(c.nasal_words("冰海")) and "原名" in dict(c.nasal_words("员民"))  # bing/bin, min/ming
    assert all(w not in dict(c.same_sound_words("员民")) for w in dict(c.nasal_words("员民")))
    assert c.nasal_words("海边") == []  # no syllable of hai bian has a nasal twin
    from zhimei.models.zh_speller import ChineseSpeller

    text = "这所学院员民叫师范学堂"
    plain = ChineseSpeller(max_homophone_checks=12, homophone_words=3).homophone_candidates(text)
    nasal = ChineseSpeller(max_homophone_checks=12, homophone_words=3, nasal_words=True).homophone_candidates(text)
    assert all(kind == "homophone" for *_rest, kind in plain)
    assert (4, "原名", "nasal") in [c[1:] for c in nasal]


def test_hotwords_are_preferred_and_protected():
    from zhimei.models.zh_correct import get_corrector

    c = get_corrector()
    # a name from the archive wins over a same-sounding common word, and is never rewritten
    assert c.correct("记者采访了王刚", [0.3] * 7, hotwords=["汪钢"]) == "记者采访了汪钢"
    assert c.correct("记者采访了汪钢", [0.3] * 7, hotwords=["汪钢"]) == "记者采访了汪钢"
    # the transcript default (asr_correct_homophones off): only spans that sound like a hotword are swapped
    text = "农民王刚说今年的甘汉导致粮食减产"
    assert c.correct(text, [0.3] * len(text), hotwords=["汪钢"], generic=False) == "农民汪钢说今年的甘汉导致粮食减产"
    assert c.correct(text, [0.3] * len(text), generic=False) == text


def test_phantom_repeat_is_recognised():
    from zhimei.models.asr_whisper import is_phantom_repeat

    # whisper repeating the whole sentence in the last 0.14 s of a clip, every character near probability 0
    repeat = [(c, p, 4.6 + i * 0.005, 4.6 + (i + 1) * 0.005) for i, (c, p) in
              enumerate(zip("在线旅游业服务不断提升", [0.0, 0.0, 0.03, 0.02, 0.42, 0.13, 0.0, 0.01, 0.0, 0.1, 0.0],
                            strict=True))]
    assert is_phantom_repeat(repeat, "zh")
    # the same characters spoken at a natural pace, or fast but confidently, are kept
    spoken = [(c, p, i * 0.25, (i + 1) * 0.25) for i, (c, p, _, _) in enumerate(repeat)]
    assert not is_phantom_repeat(spoken, "zh")
    sure = [(c, 0.9, s, e) for c, _, s, e in repeat]
    assert not is_phantom_repeat(sure, "zh")
    words = [(" ask", 0.01, 10.0, 10.02), (" not", 0.02, 10.02, 10.04), (" what", 0.0, 10.04, 10.06)]
    assert is_phantom_repeat(words, "en") and not is_phantom_repeat([], "en")



def test_words_are_simplified_with_phrase_context():
    from zhimei.models.asr_whisper import _simplified_words

    # OpenCC alone turns the lone character 鍊 into 炼; within the phrase 拉鍊 it is 链 (zipper)
    assert _simplified_words(["這是", "拉", "鍊", "齒輪"]) == ["这是", "拉", "链", "齿轮"]
    assert _simplified_words(["滨海", "新区"]) == ["滨海", "新区"]


@pytest.mark.slow
def test_number_pieces_are_not_split_by_spaces(asr, tmp_path):
    """whisper writes 3,000 as the word pieces " 3" and ",000": the segment text must join them back."""
    from zhimei.models.speech import PiperTTS

    wav = tmp_path / "jobs.wav"
    PiperTTS().synthesize("The company plans to cut around three thousand jobs over the next two years.", wav)
    t = asr.transcribe(wav, language="en")
    assert "jobs" in t.text and " ,000" not in t.text and " ." not in t.text, t.text
    assert "3,000" in t.text or "three thousand" in t.text.lower(), t.text
