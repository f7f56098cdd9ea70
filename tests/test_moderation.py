"""Moderation (内容审核): adversarial spellings caught with original spans, allow-lists, hot reload under
concurrent matching, the committed classifier, channel policies and strict mode, asset moderation over
ingested content, malformed input."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from zhimei.review.moderation import (
    Lexicon,
    ModerationError,
    PolicyError,
    get_policy,
    load_classifier,
    moderate_asset,
    moderate_text,
    normalize_text,
)
from zhimei.review.moderation.classifier import latest_model_path
from zhimei.review.moderation.lexicon import MAX_HITS, package_wordlist_dir


@pytest.fixture(scope="module")
def lex() -> Lexicon:
    return Lexicon([package_wordlist_dir()], check_every=0)


def _spans(lex: Lexicon, text: str) -> list[tuple[int, int, str, str]]:
    return [(h.start, h.end, h.text, h.word) for h in lex.find(text)]


@pytest.mark.parametrize(("text", "expected"), [
    ("你个ｓｂ吧", [(2, 4, "ｓｂ", "sb")]),                          # full width
    ("ⓈⒷ一个", [(0, 2, "ⓈⒷ", "sb")]),                             # circled letters
    ("what the 𝐟𝐮𝐜𝐤", [(9, 13, "𝐟𝐮𝐜𝐤", "fuck")]),                 # mathematical bold
    ("what the fυсk", [(9, 13, "fυсk", "fuck")]),                  # Greek upsilon + Cyrillic es
    ("你是傻\u200b逼吗", [(2, 5, "傻\u200b逼", "傻逼")]),            # zero-width space inserted
    ("你是傻*逼吗", [(2, 5, "傻*逼", "傻逼")]),                       # punctuation inserted
    ("你是傻 逼吗", [(2, 5, "傻 逼", "傻逼")]),                       # space inserted
    ("測.試.禁.詞", [(0, 7, "測.試.禁.詞", "测试禁词")]),            # traditional + dots between every char
    ("你個傻逼", [(2, 4, "傻逼", "傻逼")]),                          # traditional context
    ("煞筆", [(0, 2, "煞筆", "煞笔")]),                               # traditional form of the word itself
    ("f u c k you", [(0, 7, "f u c k", "fuck")]),                  # every letter spaced
    ("s\u200bh\u200bi\u200bt", [(0, 7, "s\u200bh\u200bi\u200bt", "shit")]),
    ("sh1t happens", [(0, 4, "sh1t", "shit")]),                    # leet digit inside a word
    ("FUCKERS everywhere", [(0, 7, "FUCKERS", "fuck")]),           # "fuck*" covers the whole word
    ("go ｋｉｌｌ ｙｏｕｒｓｅｌｆ", [(3, 16, "ｋｉｌｌ ｙｏｕｒｓｅｌｆ", "kill yourself")]),  # a phrase
    ("k i l l y o u r s e l f", [(0, 23, "k i l l y o u r s e l f", "kill yourself")]),
])
def test_adversarial_spellings_are_caught_with_original_spans(lex, text, expected):
    assert _spans(lex, text) == expected
    for start, end, found, _ in expected:
        assert text[start:end] == found


@pytest.mark.parametrize("text", [
    "我很傻，逼着自己学习",     # a clause break between two words is not an inserted character
    "class assignment",        # "ass" inside words; no such list entry matches across letters
    "a usb cable",              # "sb" inside a word
    "fu ck",                    # a space splitting a Latin word into pieces is not "every letter spaced"
    "scunthorpe",
    "skill yourself up",        # phrase inside a longer word
    "kill, yourself",           # a clause break inside a phrase
    "今天天气很好",
])
def test_normal_text_and_word_boundaries_give_no_hits(lex, text):
    assert lex.find(text) == []


def test_allow_list_suppresses_a_banned_word_inside_an_allowed_phrase(lex):
    assert _spans(lex, "你去死吧") == [(1, 3, "去死", "去死")]
    assert lex.find("这款去死皮膏很好用") == []        # 去死皮 is allowed
    assert lex.find("这款去.死.皮膏很好用") == []      # also when obfuscated the same way


def test_admin_list_hot_reload_while_another_thread_keeps_matching(tmp_path):
    d = tmp_path / "lists"
    d.mkdir()
    (d / "a.tsv").write_text("alphaword\ttest\t2\n", encoding="utf-8")
    lex = Lexicon([d], check_every=0)
    first = lex.current()
    assert [h.word for h in lex.find("say alphaword")] == ["alphaword"]
    stop = threading.Event()
    seen: list[set[str]] = []
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            while not stop.is_set():
                seen.append({h.word for h in lex.find("alphaword and betaword")})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    t = threading.Thread(target=reader)
    t.start()
    try:
        time.sleep(0.05)
        (d / "b.yaml").write_text("category: test\nseverity: 3\nwords: [betaword]\n", encoding="utf-8")
        deadline = time.monotonic() + 10
        while "betaword" not in {h.word for h in lex.find("betaword")} and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.05)
    finally:
        stop.set()
        t.join(10)
    assert not errors
    assert seen and all("alphaword" in s for s in seen)  # the old word was matched all along
    assert {"alphaword", "betaword"} in seen              # and the reader picked up the new list
    assert lex.current() is not first                     # a new compiled matcher was swapped in
    assert [h.word for h in first.find("betaword")] == []  # the old one is unchanged (immutable)
    # a broken file does not take the others down; the error names it
    (d / "c.tsv").write_text("gammaword\ttest\tnine\n", encoding="utf-8")
    os.utime(d / "c.tsv")
    assert [h.word for h in lex.find("alphaword")] == ["alphaword"]
    assert any("c.tsv:1" in e and "severity" in e for e in lex.errors)


def test_committed_classifier_loads_and_scores_obvious_examples():
    path = latest_model_path()
    assert path.stat().st_size < 5_000_000
    meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    assert meta["version"] and meta["data"][0]["sha256"] and meta["cv"]["candidates"]
    clf = load_classifier()
    offensive = ["黑人都是垃圾，滚出中国", "河南人都是骗子，没一个好东西", "女人就是头发长见识短，只配在家做饭",
                 "you are a stupid idiot, fuck off"]
    benign = ["今天天气很好，我们去公园散步吧", "感谢大家的支持，我们下周见", "这篇文章介绍了新疆的美食和风景",
              "thank you for the helpful edit, the article reads much better now"]
    for t in offensive:
        assert clf.score(t) >= 0.5, t
    for t in benign:
        assert clf.score(t) < 0.5, t
    assert clf.score("") == 0.0
    # normalisation: full-width / traditional variants score like the plain text
    assert abs(clf.score("黑人都是垃圾，滾出中國") - clf.score("黑人都是垃圾，滚出中国")) < 1e-6
    assert normalize_text("ＡＢＣ滾") == "abc滚"


def test_policy_tiers_strict_mode_and_channels():
    v = moderate_text("今天天气很好，我们去公园散步吧")
    assert v.tier == "pass" and v.reasons == [] and v.classifier is not None
    v = moderate_text("你就是个傻逼")
    assert v.tier == "block"
    assert v.hits[0].word == "傻逼" and (v.hits[0].start, v.hits[0].end) == (4, 6)
    r = next(r for r in v.reasons if r.code == "lexicon.abuse")
    assert "傻逼" in r.zh and "傻逼" in r.en and r.where == {"start": 4, "end": 6} and r.tier == "block"
    v = moderate_text("这是脑残的想法")  # severity 2 → 0.8: review by default, block in strict mode
    assert v.tier == "needs_review"
    assert moderate_text("这是脑残的想法", strict=True).tier == "block"
    assert moderate_text("这是脑残的想法", channel="kids").tier == "block"
    p = get_policy("default")
    assert p.limits("abuse", strict=True) < p.limits("abuse")
    with pytest.raises(PolicyError, match="unknown channel 'nope'.*default"):
        moderate_text("hi", channel="nope")
    d = json.loads(json.dumps(v.to_dict(), ensure_ascii=False))
    assert d["tier"] == "needs_review" and d["reasons"][0]["code"] == "lexicon.abuse" and d["hits"][0]["word"] == "脑残"


def test_malformed_text_is_handled():
    v = moderate_text("\ud800傻逼\x00 and \udfff")  # lone surrogates and NUL
    assert v.tier == "block" and v.hits[0].text == "傻逼"
    json.dumps(v.to_dict(), ensure_ascii=False)
    assert moderate_text("").tier == "pass"
    assert moderate_text("\u200b\u200b  \n").tier == "pass"
    big = ("今天天气很好。" * 150_000)[:1_000_000] + "傻逼"
    v = moderate_text(big)
    assert [h.start for h in v.hits] == [1_000_000]
    many = "傻逼去死皮" * 200_000  # a million characters full of listed and allowed words
    v = moderate_text(many, use_classifier=False)
    assert v.tier == "block" and len(v.hits) == MAX_HITS and v.hits[0].start == 0
    with pytest.raises(ModerationError, match="too long"):
        moderate_text("a" * 3_000_000)


def test_cli_check_json(zhome):
    from typer.testing import CliRunner

    from zhimei.cli import app

    r = CliRunner().invoke(app, ["review", "check", "你是傻*逼", "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output.strip().splitlines()[-1])
    assert d["tier"] == "block" and d["hits"][0]["text"] == "傻*逼"
    r = CliRunner().invoke(app, ["review", "check", "hello", "--channel", "nope"])
    assert r.exit_code == 2 and "unknown channel" in r.output
    r = CliRunner().invoke(app, ["review", "asset", "999"])
    assert r.exit_code == 2 and "asset 999 not found" in r.output


def test_admin_word_list_in_home_is_used(zhome):
    d = Path(zhome) / "review" / "wordlists"
    d.mkdir(parents=True)
    (d / "local.tsv").write_text("本地禁词\ttest\t3\n", encoding="utf-8")
    v = moderate_text("这里有本地禁词", use_classifier=False)
    assert v.tier == "block" and v.hits[0].word == "本地禁词" and v.hits[0].source == "local.tsv"


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_moderate_asset_on_an_ingested_article_points_at_the_segment(zhome):
    from sqlalchemy import select

    from zhimei.jobs import worker
    from zhimei.library.assets import ingest_bytes
    from zhimei.store.db import session_scope
    from zhimei.store.models import SafetyScore, Segment

    body = "# 社区新闻\n\n本周社区举办了读书会，居民踊跃参加。\n\n有网友留言说组织者是个傻*逼，引发争议。\n"
    aid = ingest_bytes(body.encode(), "news.md", source="wire").asset_id
    worker.drain()
    v = moderate_asset(aid)
    assert v.tier == "block" and v.asset_id == aid
    with session_scope() as s:
        seg = next(g for g in s.scalars(select(Segment).where(Segment.asset_id == aid)) if "傻*逼" in g.text)
        seg_id, seg_text, base = seg.id, seg.text, seg.char_start
    r = next(r for r in v.reasons if r.code == "lexicon.abuse")
    assert r.where["segment_id"] == seg_id
    local = seg_text.index("傻*逼")
    assert r.where["start"] - (base or 0) == local and r.where["end"] - r.where["start"] == 3
    assert f"#{seg_id}" in r.en and f"#{seg_id}" in r.zh
    # a clean article passes; an image-safety score stored for it is judged too, pointing at the keyframe
    clean = ingest_bytes("# 读书会\n\n居民们分享了自己喜欢的书。\n".encode(), "clean.md").asset_id
    worker.drain()
    assert moderate_asset(clean).tier == "pass"
    with session_scope() as s:
        s.add(SafetyScore(asset_id=clean, shot_seq=2, time=12.5, scores={"FEMALE_BREAST_EXPOSED": 0.93},
                          max_score=0.93, model="nudenet"))
    v = moderate_asset(clean)
    assert v.tier == "block"
    r = v.reasons[0]
    assert r.code == "image.sexual" and r.where == {"keyframe": 2, "time": 12.5} and "12.5" in r.en
    with pytest.raises(ModerationError, match="not found"):
        moderate_asset(10**9)
