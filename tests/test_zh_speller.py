"""The Chinese speller as a model-level component: one shared gemma reader for the speller and the ASR rescorer,
recogniser confidence gating which characters are challenged, and the ASR backend's use of it (hotwords kept)."""

from __future__ import annotations

import numpy as np
import pytest

from zhimei.models.asr_acoustic import Reading
from zhimei.models.zh_speller import ChineseSpeller, apply_edits, edit_groups, get_scorer

pytestmark = pytest.mark.slow

TEXT = "那时后我们还继续使用俄罗斯的货币。"
"""One slip: 那时后 for 那时候 (the character at offset 2)."""


def test_the_speller_and_the_asr_rescorer_share_one_reader(model_home):
    from zhimei.models.asr_rescore import LMScorer, rescoring_lm_path

    speller_lm = get_scorer()
    rescorer = LMScorer(rescoring_lm_path("zh", model_home), threads=model_home.model_threads)
    assert rescorer.llm is speller_lm.llm  # one copy of gemma in the process
    scores = speller_lm.score(TEXT)
    alone = speller_lm.rescore(scores, 2, 3, "候")
    # the rescorer reads other text in between: the speller's re-read comes out the same
    rescorer.logprobs(["据报道，文化行业有望成为国务院大部制改革的排头兵。"])
    assert speller_lm.rescore(scores, 2, 3, "候") == pytest.approx(alone, abs=0.5)
    assert alone > 5


def test_confidence_decides_which_characters_are_challenged(model_home):
    speller = ChineseSpeller(shape_penalty=99.0, margin=5.0, max_checks=8, max_confidence=0.5)
    unsure = [0.9] * len(TEXT)
    unsure[2] = 0.2
    assert apply_edits(TEXT, speller.correct(TEXT, unsure)) == "那时候我们还继续使用俄罗斯的货币。"
    assert speller.correct(TEXT, [0.9] * len(TEXT)) == []  # the recogniser was sure of every character
    assert apply_edits(TEXT, speller.correct(TEXT)) == "那时候我们还继续使用俄罗斯的货币。"  # no figures: all open
    with pytest.raises(ValueError, match="confidence figures"):
        speller.correct(TEXT, [0.5])


def test_asr_spelling_keeps_the_words_and_the_hotwords(model_home):
    from zhimei.models.asr_whisper import _spell_words

    words = ["那时", "后", "我们", "还", "继续", "使用", "俄罗斯", "的", "货币", "。"]
    probs = [0.9, 0.2, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]
    fixed = _spell_words(words, probs, [])
    assert fixed[1] == "候" and [len(w) for w in fixed] == [len(w) for w in words]
    assert _spell_words(words, probs, ["那时后"]) == words  # a hotword (a name from the archive) is never changed


def test_a_word_miswritten_by_its_sound_is_replaced_whole(model_home):
    """Speech writes whole words by their sound (贝高 for 被告); one-character changes cannot mend both characters
    (neighbouring edits are refused), a same-sound dictionary word re-read by gemma can."""
    text = "法庭上贝高拒不认罪。"
    unsure = [0.95] * len(text)
    unsure[3] = unsure[4] = 0.3
    chars_only = ChineseSpeller(shape_penalty=99.0, margin=5.0, max_checks=4, max_confidence=0.8)
    assert apply_edits(text, chars_only.correct(text, unsure)) == text
    words = ChineseSpeller(shape_penalty=99.0, margin=5.0, max_checks=4, max_confidence=0.8, max_homophone_checks=4)
    edits = words.correct(text, unsure)
    assert [(e.start, e.end, e.original, e.replacement, e.kind) for e in edits] == [(3, 5, "贝高", "被告", "homophone")]
    assert edits[0].gain > 5
    assert words.correct(text, [0.95] * len(text)) == []  # the recogniser was sure: nothing is challenged
    proposed = [c[1:] for c in words.homophone_candidates(text, lambda at: at in (3, 4))]
    assert (3, "被告", "homophone") in proposed and len(proposed) <= 4
    assert all(text[at:at + len(rep)] != rep and len(rep) >= 2 for at, rep, _kind in proposed)


def test_the_transcript_speller_mends_a_front_back_nasal_slip(model_home):
    """whisper-base hears 原名 (yuan ming) as 员民 (yuan min); the transcript speller re-reads nasal twins."""
    from zhimei.models.asr_whisper import ASR_SPELLER

    text = "山东女子学院员民中华女子学院山东分院"
    unsure = [0.95] * len(text)
    unsure[6] = unsure[7] = 0.5
    edits = ChineseSpeller(**ASR_SPELLER).correct(text, unsure)
    assert [(e.start, e.replacement, e.kind) for e in edits] == [(6, "原名", "nasal")]
    assert ChineseSpeller(**{**ASR_SPELLER, "nasal_words": False}).correct(text, unsure) == []


def test_the_speller_compares_its_own_window_past_a_change(model_home):
    """The transcript speller compares 2 tokens past a change (`ASR_SPELLER`), the proofreader the scorer's 4;
    one shared scorer serves both."""
    from zhimei.models.asr_whisper import ASR_SPELLER

    assert ASR_SPELLER["window"] == 2
    short = ChineseSpeller(**ASR_SPELLER)
    scores, _picked = short.candidates(TEXT)
    assert scores.window == 2 and get_scorer().window == 4
    assert get_scorer().score(TEXT).window == 4
    unsure = [0.9] * len(TEXT)
    unsure[2] = 0.2
    assert apply_edits(TEXT, short.correct(TEXT, unsure)) == "那时候我们还继续使用俄罗斯的货币。"


def _reading(text: str, total: float):
    """A recogniser's reading of ``text``: every token one character, ``total`` nats on the last, none elsewhere."""
    logprobs = np.zeros(len(text))
    logprobs[-1] = total
    return Reading(logprobs, tuple(range(len(text))))


def test_the_recogniser_hearing_keeps_or_vetoes_an_edit(model_home):
    """With ``heard`` (whisper's log-probability of texts over the audio), the likeliest edit under the ceiling is
    read in place: kept when whisper finds it about as likely as what it wrote, refused when whisper heard something
    else. Edits the LM is surer of are taken on its word; with nothing open, nothing is read."""
    from zhimei.models.asr_whisper import ASR_SPELLER

    text, right = "法庭上贝高拒不认罪。", "法庭上被告拒不认罪。"
    unsure = [0.95] * len(text)
    unsure[3] = unsure[4] = 0.3
    read: list[list[str]] = []

    def heard(table: dict[str, float]):
        def score(texts):
            read.append(list(texts))
            return [_reading(t, table.get(t, -99.0)) for t in texts]
        return score

    speller = ChineseSpeller(**{**ASR_SPELLER, "acoustic_ceiling": 30.0, "acoustic_reads": 1})  # 被告: ~21 nats
    edits = speller.correct(text, unsure, heard({text: -3.0, right: -4.0}))
    assert [(e.start, e.replacement, e.kind) for e in edits] == [(3, "被告", "heard")]
    assert read == [[text, right]]  # the text as written, then the one likeliest edit in place
    read.clear()
    several = ChineseSpeller(**{**ASR_SPELLER, "acoustic_ceiling": 30.0})  # the shipped 4 reads
    edits = several.correct(text, unsure, heard({text: -3.0, right: -4.0}))  # the others: whisper never heard them
    assert [(e.start, e.replacement, e.kind) for e in edits] == [(3, "被告", "heard")]
    assert len(read) == 1 and read[0][:2] == [text, right] and 2 < len(read[0]) <= 1 + ASR_SPELLER["acoustic_reads"]
    read.clear()
    vetoed = speller.correct(text, unsure, heard({text: -3.0, right: -40.0}))
    assert "被告" not in [e.replacement for e in vetoed]
    read.clear()
    shipped = ChineseSpeller(**ASR_SPELLER)
    assert [e.replacement for e in shipped.correct(text, unsure, heard({}))] == ["被告"]  # above the ceiling
    assert len(read) == 1 and right not in read[0] and len(read[0]) == 2  # the best challenger under it was read
    assert [e.replacement for e in speller.correct(text, unsure)] == ["被告"]  # unheard: the LM alone, as before
    assert speller.correct(text, [0.95] * len(text), heard({})) == [] and len(read) == 1  # nothing open: not read


def test_edits_apart_are_heard_in_one_text_each_by_its_own_stretch(model_home):
    """Challengers that do not overlap are read by the recogniser in one text, and each is judged by the change in
    the tokens from it up to the next one read with it; one that overlaps another is read in a text of its own."""
    assert edit_groups([(3, 5), (8, 9), (4, 5), (0, 2), (3, 4)]) == [[0, 1, 3], [2, 4]]
    assert edit_groups([]) == []

    text = "法庭上贝高拒不认罪，原告书记银行。"
    speller = ChineseSpeller(acoustic_weight=0.5, acoustic_floor=3.0, acoustic_ceiling=30.0, acoustic_margin=3.0,
                             acoustic_reads=3)
    checked = [(0.0, 20.0, 3, "被告", "homophone"), (0.0, 12.0, 3, "备", "sound"), (0.0, 8.0, 13, "纪", "sound")]
    read: list[list[str]] = []

    def heard(texts):
        read.append(list(texts))
        out = []
        for t in texts:
            logprobs = np.zeros(len(t))
            logprobs[4] = -1.0 if t[3:5] == "贝高" else -2.0  # the first edit costs 1 nat where it stands
            logprobs[len(t) - 1] = -30.0 if t[13] != text[13] else 0.0  # 纪 costs 30 nats at the text's end
            out.append(Reading(logprobs, tuple(range(len(t)))))
        return out

    heard_out = speller.hear(text, [(0, text, checked)], heard)
    both = text[:3] + "被告" + text[5:13] + "纪" + text[14:]
    assert read == [[text, both, text[:3] + "备" + text[4:]]]  # 被告 and 纪 together, 备 (overlapping 被告) alone
    gains = {(at, rep): (gain, kind) for _left, gain, at, rep, kind in heard_out[0][2]}
    assert gains[(3, "被告")] == (20.0 - 0.5, "heard")  # its stretch (characters 3-12) lost 1 nat; 纪's 30 are not its
    assert gains[(13, "纪")] == (8.0 - 15.0, "heard")
    assert gains[(3, "备")] == (12.0 - 0.5, "heard")
    assert [(e.start, e.replacement) for e in speller.decide(text, heard_out[0][2])] == [(3, "被告")]


def test_a_pinyin_reading_of_the_syllables_mends_what_word_lists_miss(model_home):
    """SunPinyin's word trigram writes the unsure syllables as an input method would (寒假作业, 圆珠笔); the
    frequency-ranked same-sound lists alone reach only part of it (和家作业, 圆柱笔)."""
    from zhimei.models.asr_whisper import ASR_SPELLER

    assert ASR_SPELLER["max_pinyin_checks"] > 0
    for text, unsure_at, mended, without in [
        ("韩家座也一摊子，满脑子都是老师打了骂了。", range(0, 4), "寒假作业", "和家作业"),
        ("确实用原猪笔就能轻松突破防护。", range(3, 5), "用圆珠笔", "用圆柱笔"),
    ]:
        unsure = [0.95] * len(text)
        for i in unsure_at:
            unsure[i] = 0.5
        speller = ChineseSpeller(**ASR_SPELLER)
        proposed = speller.pinyin_candidates(text, lambda at, u=unsure: u[at] <= 0.8)
        assert proposed and all(kind == "pinyin" and at in unsure_at for _g, at, _rep, kind in proposed)
        edits = speller.correct(text, unsure)
        assert mended in apply_edits(text, edits) and {e.kind for e in edits} == {"pinyin"}
        assert all(e.start in unsure_at for e in edits)  # characters whisper was sure of stay
        lists_only = ChineseSpeller(**{**ASR_SPELLER, "max_pinyin_checks": 0})
        assert without in apply_edits(text, lists_only.correct(text, unsure))
        assert speller.correct(text, [0.95] * len(text)) == []


def test_the_recognisers_runner_up_reaches_a_word_no_confusion_set_holds(model_home):
    """whisper-base writes 滨海新区 as 冰台新区: 滨 sounds nearly like 冰 (bin/bing), but 海 is no sound-alike of 台,
    so no confusion set reaches 滨海. Another text of whisper's beam wrote 海 for 台 (冰海星区): with that runner-up,
    the dictionary word is proposed and gemma takes it."""
    from zhimei.models.asr_whisper import ASR_SPELLER

    assert ASR_SPELLER["max_beam_checks"] > 0

    text = "我想问我在冰台新区有房"
    unsure = [0.95] * len(text)
    unsure[5] = unsure[6] = 0.5
    alternatives = [""] * len(text)
    alternatives[6] = "海"
    speller = ChineseSpeller(**ASR_SPELLER)
    proposed = speller.beam_candidates(text, lambda at: unsure[at] <= 0.9, alternatives)
    assert proposed[0][1:] == (5, "滨海", "beam") and len(proposed) <= ASR_SPELLER["max_beam_checks"]
    assert all(kind == "beam" and text[at:at + len(w)] != w for _g, at, w, kind in proposed)
    assert apply_edits(text, speller.correct(text, unsure, alternatives=alternatives)) == "我想问我在滨海新区有房"
    assert "滨海" not in apply_edits(text, speller.correct(text, unsure))  # without the runner-up: out of reach
    assert speller.beam_candidates(text, lambda at: False, alternatives) == []  # whisper was sure: nothing open
    with pytest.raises(ValueError, match="runner-up"):
        speller.correct(text, unsure, alternatives=["海"])
