"""智能校对: style rules, English spelling, the term dictionary, apply_suggestions, overlap resolution, and (slow)
Chinese spelling with the embedded gemma-3-270m."""

from __future__ import annotations

import json

import pytest

from zhimei.review.proofread import (
    KINDS,
    ProofreadError,
    Term,
    TermDict,
    add_term,
    apply_suggestions,
    candidate_kinds,
    confusion_sets,
    detect_lang,
    load_terms,
    make_term,
    proofread,
    remove_term,
    split_clauses,
)
from zhimei.review.proofread.english import english_suggestions
from zhimei.review.proofread.style import (
    date_style,
    fullwidth_digits,
    halfwidth_punctuation,
    quote_style,
    repeated_punctuation,
    thousands_separators,
)

NO_LM = ["term", "english", "number", "date", "punctuation"]


def fixed(text: str, rule) -> str:
    return apply_suggestions(text, rule(text))


# ---- style rules -------------------------------------------------------------------------------------

def test_halfwidth_punctuation_after_chinese_becomes_full_width():
    assert fixed("今天下雨,我们在家;你呢?好!", halfwidth_punctuation) == "今天下雨，我们在家；你呢？好！"
    assert fixed("他说:明天见.", halfwidth_punctuation) == "他说：明天见。"
    assert fixed("会议(北京)召开", halfwidth_punctuation) == "会议（北京）召开"
    # English text, decimals, times and domains are left alone
    for text in ("Hello, world. Fine!", "增长3.5个百分点", "10:30开会", "见example.com网站", "(see above)"):
        assert halfwidth_punctuation(text) == [], text


def test_fullwidth_digits_become_half_width():
    assert fixed("从１９５０年到２０００年，ＧＤＰ增长", fullwidth_digits) == "从1950年到2000年，GDP增长"
    assert fullwidth_digits("2026年") == []


def test_date_style():
    assert fixed("会议于2026-11-22召开", date_style) == "会议于2026年11月22日召开"
    assert fixed("会议于2026/3/5召开", date_style) == "会议于2026年3月5日召开"
    assert fixed("11月22号开会", date_style) == "11月22日开会"
    assert date_style("released on 2026-11-22") == []  # English text keeps ISO dates
    assert date_style("编号2026-13-40") == []  # not a date


def test_thousands_separators():
    assert fixed("参观人数达1234567人次", thousands_separators) == "参观人数达1,234,567人次"
    assert fixed("收入12,34,567元", thousands_separators) == "收入1,234,567元"
    for text in ("2026年", "共1234人", "电话01012345678", "版本12345a", "3.14159", "1,234元"):
        assert thousands_separators(text) == [], text


def test_quote_style():
    assert fixed('他说"我们明天出发"。', quote_style) == "他说“我们明天出发”。"
    assert fixed("他说“我们明天出发\"。", quote_style) == "他说“我们明天出发”。"
    assert fixed("所谓'新质生产力'的提法", quote_style) == "所谓‘新质生产力’的提法"
    assert quote_style('He said "yes".') == []


def test_repeated_punctuation():
    assert fixed("太好了！！！真的吗？？", repeated_punctuation) == "太好了！真的吗？"
    assert fixed("好的，，我们走。。", repeated_punctuation) == "好的，我们走。"
    assert repeated_punctuation("他说……然后——走了") == []


# ---- English -----------------------------------------------------------------------------------------

def test_english_spelling_keeps_case_and_skips_names():
    text = "The goverment said teh plan is fine. Recieve it. Mr Zhangwei met NASA in Beijingg."
    got = {s.original: s.replacement for s in english_suggestions(text)}
    assert got["goverment"] == "government"
    assert got["teh"] == "the"
    assert got["Recieve"] == "Receive"
    assert "Zhangwei" not in got and "NASA" not in got and "Beijingg" not in got  # names / acronyms
    assert english_suggestions("Visit https://example.com/wrnog or mail a@bcd.com") == []


# ---- terms -------------------------------------------------------------------------------------------

def test_term_dictionary_variants_case_and_sound_alikes():
    td = TermDict([make_term("世界卫生组织", ["世卫组识"]), make_term("Xinhua News Agency"), make_term("乌鲁木齐")])
    text = "世卫组识的专家、xinhua news agency记者在乌鲁木其采访；世界卫生组织发布报告；乌鲁木齐很美。"
    got = {(s.original, s.replacement) for s in td.suggestions(text)}
    assert got == {("世卫组识", "世界卫生组织"), ("xinhua news agency", "Xinhua News Agency"),
                   ("乌鲁木其", "乌鲁木齐")}


def test_term_store_add_list_remove(zhome):
    assert load_terms() == []
    add_term("国家统计局", ["国家统记局", "国家统计局"])  # the exact form itself is not a variant
    add_term("国家统计局", "国家统计局局, 国家统记局")  # replaced, not duplicated
    terms = load_terms()
    assert [t.term for t in terms] == ["国家统计局"]
    assert terms[0].variants == ("国家统计局局", "国家统记局")
    path = zhome / "proofread" / "terms.json"
    assert json.loads(path.read_text("utf-8"))["version"] == 1
    assert remove_term("国家统计局") is True and remove_term("国家统计局") is False
    with pytest.raises(ProofreadError, match="term is empty"):
        add_term("  ")
    with pytest.raises(ProofreadError, match="one line"):
        add_term("a\nb")


def test_stored_terms_are_used_and_exact_terms_are_protected(zhome):
    add_term("徐汇区", ["徐汇县"])
    got = proofread("上海市徐汇县和徐汇区。", kinds=NO_LM)
    assert [(s.original, s.replacement, s.kind) for s in got] == [("徐汇县", "徐汇区", "term")]


# ---- proofread / apply -------------------------------------------------------------------------------

def test_proofread_without_lm_finds_each_kind_and_applies():
    text = ('今天是2026-11-22,天气不错!!参加人数12345人。他说"好的"。The goverment said teh plan is fine. '
            "会议在乌鲁木其举行。１２月３号")
    got = proofread(text, terms=[Term("乌鲁木齐")], kinds=NO_LM)
    kinds = {s.kind for s in got}
    assert kinds == {"term", "english", "number", "date", "punctuation"}
    assert [s.start for s in got] == sorted(s.start for s in got)
    for s in got:
        assert text[s.start:s.end] == s.original and s.reason_zh and s.reason_en and 0 < s.confidence <= 1
    out = apply_suggestions(text, got)
    assert out == ("今天是2026年11月22日，天气不错！参加人数12,345人。他说“好的”。"
                   "The government said the plan is fine. 会议在乌鲁木齐举行。12月3日")
    assert proofread(out, terms=[Term("乌鲁木齐")], kinds=NO_LM) == []  # a second pass finds nothing more


def test_apply_accepts_dicts_and_refuses_stale_or_overlapping():
    text = "我们门去北京"
    assert apply_suggestions(text, [{"start": 2, "end": 3, "original": "门", "replacement": ""}]) == "我们去北京"
    assert apply_suggestions(text, []) == text
    with pytest.raises(ProofreadError, match="expects"):
        apply_suggestions(text, [{"start": 0, "end": 1, "original": "你", "replacement": "我"}])
    with pytest.raises(ProofreadError, match="overlaps"):
        apply_suggestions(text, [{"start": 0, "end": 2, "original": "我们", "replacement": "x"},
                                 {"start": 1, "end": 3, "original": "们门", "replacement": "y"}])
    with pytest.raises(ProofreadError, match="outside"):
        apply_suggestions(text, [{"start": 5, "end": 9, "original": "京", "replacement": "x"}])
    with pytest.raises(ProofreadError, match="needs start"):
        apply_suggestions(text, [{"start": 1}])


def test_bad_arguments_are_named():
    with pytest.raises(ProofreadError, match="lang"):
        proofread("x", lang="fr")
    with pytest.raises(ProofreadError, match="unknown kind"):
        proofread("x", kinds=["grammar"])
    with pytest.raises(ProofreadError, match="at most"):
        proofread("字" * 200_001)
    with pytest.raises(ProofreadError, match="string"):
        proofread(None)  # type: ignore[arg-type]
    assert set(KINDS) == {"spelling", "term", "english", "number", "date", "punctuation"}


def test_detect_lang_and_clauses():
    assert detect_lang("今天天气很好，we go out") == "zh"
    assert detect_lang("The weather is fine today 好") == "en"
    text = "第一句话。第二句，" + "很长" * 80 + "。最后"
    pieces = split_clauses(text)
    assert "".join(p for _o, p in pieces) == text
    assert all(text[o:o + len(p)] == p for o, p in pieces)
    assert all(len(p) <= 120 for _o, p in pieces)


def test_confusion_sets_are_packaged():
    conf = confusion_sets()
    assert len(conf) > 3000
    sound, shape, near = conf["题"]
    assert "提" in sound
    assert "持" in conf["特"][1]
    assert "幸" in conf["辛"][2]  # in / ing


def test_candidate_kinds_says_which_sets_propose_a_correction():
    assert "sound" in candidate_kinds("提", "题")
    assert candidate_kinds("特", "持") == ["shape"]
    assert "function" in candidate_kinds("的", "地")
    assert candidate_kinds("题", "猫") == []
    assert candidate_kinds("x", "y") == []  # not a Chinese character at all
    assert candidate_kinds("缐", "腺") == ["sound"]  # a rare character proposes the common one it is a slip for
    assert candidate_kinds("砹", "癌") == ["sound"]  # ... even one outside the 3,500 (GB 2312)
    assert "妳" not in confusion_sets()  # deliberate variants are not slips


# ---- Chinese spelling with the language model --------------------------------------------------------

@pytest.mark.slow
def test_chinese_spelling_with_the_language_model():
    text = "我们独立之后的经济情况很差，那时后我们还继续使用俄罗斯的货币。问提就在于人口越来越少。"
    got = proofread(text, kinds=["spelling"])
    pairs = {(s.original, s.replacement) for s in got}
    assert ("后", "候") in pairs and ("提", "题") in pairs, pairs
    assert all(s.kind == "spelling" and s.reason_zh.startswith("疑似错别字") for s in got)
    fixed_text = apply_suggestions(text, got)
    assert "那时候" in fixed_text and "问题" in fixed_text
    clean = "我们独立之后的经济情况很差，那时候我们还继续使用俄罗斯的货币。"
    assert proofread(clean, kinds=["spelling"]) == []


@pytest.mark.slow
def test_a_rare_character_slip_is_corrected():
    got = proofread("甲状缐肿大怎么治疗？", kinds=["spelling"])
    assert [(s.original, s.replacement) for s in got] == [("缐", "腺")]


@pytest.mark.slow
def test_long_texts_skip_spelling_unless_allowed():
    from zhimei.review.proofread import LM_MAX_CHARS, spelling_skipped

    text = "以前没什么医料设备。" * (LM_MAX_CHARS // 10 + 1)
    assert spelling_skipped(text) and not spelling_skipped(text[:LM_MAX_CHARS])
    assert proofread(text, kinds=["spelling"]) == []
    got = proofread(text[:40], kinds=["spelling"], lm_max_chars=40)
    assert [(s.original, s.replacement) for s in got] == [("料", "疗")] * 4
