"""智能校对 over HTTP and the CLI: /api/proofread, /apply, /terms (roles, 422 on bad input, a 100,000-character
text), the /proofread page, and `zhimei proofread`."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from zhimei.cli import app

NO_LM = ["term", "english", "number", "date", "punctuation"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_proofread_apply_and_terms_over_http(client, tokens):
    viewer, editor = bearer(tokens["viewer"]), bearer(tokens["editor"])
    r = client.post("/api/proofread/terms", json={"term": "乌鲁木齐", "variants": ["乌市"]}, headers=viewer)
    assert r.status_code == 403
    r = client.post("/api/proofread/terms", json={"term": "乌鲁木齐", "variants": ["乌市"]}, headers=editor)
    assert r.status_code == 200 and r.json() == {"term": "乌鲁木齐", "variants": ["乌市"], "note": ""}
    assert client.get("/api/proofread/terms", headers=viewer).json()["terms"][0]["term"] == "乌鲁木齐"

    text = "会议在乌鲁木其举行,乌市很美!! The goverment agreed."
    r = client.post("/api/proofread", json={"text": text, "kinds": NO_LM}, headers=viewer)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["lang"] == "zh" and body["chars"] == len(text)
    pairs = [(s["original"], s["replacement"], s["kind"]) for s in body["suggestions"]]
    assert pairs == [("乌鲁木其", "乌鲁木齐", "term"), (",", "，", "punctuation"), ("乌市", "乌鲁木齐", "term"),
                     ("!!", "！", "punctuation"), ("goverment", "government", "english")]
    r = client.post("/api/proofread/apply", json={"text": text, "accepted": body["suggestions"]}, headers=viewer)
    assert r.status_code == 200
    assert r.json()["text"] == "会议在乌鲁木齐举行，乌鲁木齐很美！ The government agreed."

    r = client.delete("/api/proofread/terms", params={"term": "乌鲁木齐"}, headers=editor)
    assert r.status_code == 200
    r = client.delete("/api/proofread/terms", params={"term": "乌鲁木齐"}, headers=editor)
    assert r.status_code == 404 and "no term" in r.json()["detail"]


def test_bad_input_is_422_never_500(client, tokens):
    h = bearer(tokens["viewer"])
    cases = [
        ("/api/proofread", {"text": 5}), ("/api/proofread", {}), ("/api/proofread", {"text": "x", "lang": "fr"}),
        ("/api/proofread", {"text": "x", "kinds": ["grammar"]}), ("/api/proofread", {"text": "字" * 200_001}),
        ("/api/proofread/apply", {"text": "abc", "accepted": [{"start": 0, "end": 1, "original": "z",
                                                                "replacement": "y"}]}),
        ("/api/proofread/apply", {"text": "abc", "accepted": [{"start": -1, "end": 1, "original": "a",
                                                                "replacement": "y"}]}),
        ("/api/proofread/apply", {"text": "abc", "accepted": "all"}),
    ]
    for url, body in cases:
        r = client.post(url, json=body, headers=h)
        assert r.status_code == 422, (url, body, r.status_code, r.text)
        assert "detail" in r.json()
    r = client.post("/api/proofread", content=b"{not json", headers={**h, "content-type": "application/json"})
    assert r.status_code == 422
    editor = bearer(tokens["editor"])
    for body in ({"term": ""}, {"term": "a\nb"}, {"term": "x", "variants": "y"}, {"term": "x" * 101}):
        r = client.post("/api/proofread/terms", json=body, headers=editor)
        assert r.status_code == 422, (body, r.text)
    assert client.post("/api/proofread", json={"text": "x"}).status_code == 401


def test_a_100000_character_text_is_proofread(client, tokens):
    para = "2026-11-22,我们在乌鲁木齐开会!!参加人数12345人。以前没什么医料设备。"
    text = (para * (100_000 // len(para) + 1))[:100_000]
    r = client.post("/api/proofread", json={"text": text}, headers=bearer(tokens["viewer"]))
    assert r.status_code == 200
    body = r.json()
    assert body["chars"] == 100_000 and body["spelling_skipped"] is True  # too long for the LM pass
    assert "5,000" in body["note"]
    assert len(body["suggestions"]) > 3 * (100_000 // len(para))
    accepted = [{k: s[k] for k in ("start", "end", "original", "replacement")} for s in body["suggestions"]]
    r = client.post("/api/proofread/apply", json={"text": text, "accepted": accepted},
                    headers=bearer(tokens["viewer"]))
    assert r.status_code == 200 and ("2026年11月22日，我们在乌鲁木齐开会！参加人数12,345人。以前没什么医料设备。"
                                     in r.json()["text"])


def test_the_page_renders(client, tokens):
    r = client.get("/proofread", headers=bearer(tokens["viewer"]))
    assert r.status_code == 200
    assert 'data-testid="pr-text"' in r.text and "/static/proofread.js" in r.text
    assert 'data-can-edit="false"' in r.text
    assert client.get("/static/proofread.js").status_code == 200
    assert client.get("/proofread?asset=999999", headers=bearer(tokens["viewer"])).status_code == 404
    assert client.get("/proofread?asset=abc", headers=bearer(tokens["viewer"])).status_code == 422


@pytest.mark.slow
def test_the_page_opens_an_asset(client, tokens):
    import zhimei.jobs as jobs
    from zhimei.library.assets import ingest_bytes
    doc = "# 校对测试稿\n\n会议于2026-11-22在北京召开,参加人数12345人。\n"
    aid = ingest_bytes(doc.encode(), "draft.md", source="desk").asset_id
    jobs.drain()
    r = client.get(f"/proofread?asset={aid}", headers=bearer(tokens["editor"]))
    assert r.status_code == 200 and 'data-can-edit="true"' in r.text
    assert "会议于2026-11-22在北京召开,参加人数12345人。" in r.text


def test_cli_proofread_and_terms(zhome, tmp_path):
    runner = CliRunner()
    r = runner.invoke(app, ["proofread", "terms", "add", "乌鲁木齐", "-v", "乌市"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["proofread", "terms", "list", "--json"])
    assert json.loads(r.stdout) == [{"term": "乌鲁木齐", "variants": ["乌市"], "note": ""}]
    src = tmp_path / "a.txt"
    src.write_text("会议在乌市举行,很成功!!\n" * 200, encoding="utf-8")
    out = tmp_path / "fixed.txt"
    r = runner.invoke(app, ["proofread", str(src), "--json", "--kinds", "term,punctuation", "--apply", str(out)])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert len(doc["suggestions"]) == 600
    assert out.read_text("utf-8") == "会议在乌鲁木齐举行，很成功！\n" * 200
    r = runner.invoke(app, ["proofread", str(src), "--kinds", "term,punctuation"])  # table + progress bar
    assert r.exit_code == 0 and "600" in r.output
    r = runner.invoke(app, ["proofread", "他说\"好的\"", "--kinds", "punctuation", "--json"])
    assert [s["replacement"] for s in json.loads(r.stdout)["suggestions"]] == ["“", "”"]
    r = runner.invoke(app, ["proofread", "x", "--lang", "fr"])
    assert r.exit_code == 2 and "lang must be one of" in r.output
    r = runner.invoke(app, ["proofread", "terms", "remove", "nope"])
    assert r.exit_code == 2 and "no term" in r.output
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe\x00garbage\xff")
    r = runner.invoke(app, ["proofread", str(bad)])
    assert r.exit_code == 2 and "not UTF-8" in r.output
