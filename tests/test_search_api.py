"""智搜 over HTTP: /api/search with filters and facets, more like this, source credibility, the re-index, cited
answers and timelines, the search/ask/timeline/sources pages — hostile input answers 200 or 422, never 500;
roles enforced by require(role)."""

from __future__ import annotations

import re
import time
import uuid
from urllib.parse import quote

import pytest

import zhimei.jobs as jobs
from zhimei.library.assets import ingest_bytes

BRIDGE = """<!doctype html><html lang="zh"><head><title>市政府批准新建跨江大桥 {tag}</title></head><body>
<p>市政府今天召开常务会议，批准新建跨江大桥项目。市长李明表示，大桥将于明年三月开工，预计两年建成。</p>
<p>The city council approved the new river bridge on Monday, said Mayor Li Ming in Shanghai.</p>
</body></html>"""
WEATHER = ("# Typhoon warning for the coast {tag}\n\nThe weather service issued a typhoon warning for coastal "
           "districts. Ferries were cancelled and schools closed as the storm approached.\n")

HOSTILE = ['"OR* (', "NEAR(", 'NEAR(bridge council, 2)', "bridge AND OR NOT", "*", "^", "-", ":", "a:b", "{}",
           "\\", "'", '"', "桥 bridge 😀🚀", "😀", "x" * 10_000, "大" * 10_000, "\x00bridge", "  ", "%", "_",
           "()", "[]", "Ünïcödé ﬁ", "ا ب ت", "SELECT * FROM asset; --"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _library() -> dict[str, int]:
    tag = uuid.uuid4().hex[:6]
    bridge = ingest_bytes(BRIDGE.format(tag=tag).encode(), "bridge.html", source="city-news").asset_id
    weather = ingest_bytes(WEATHER.format(tag=tag).encode(), "typhoon.md", source="wire").asset_id
    jobs.drain()
    return {"bridge": bridge, "weather": weather}


def _get(client, token: str, path: str = "/api/search", **params):
    return client.get(path, params=params, headers=bearer(token))


@pytest.mark.slow
def test_search_finds_article_words_with_filters_facets_and_snippets(client, tokens):
    ids = _library()
    viewer = tokens["viewer"]
    # Chinese and English words of the same article, keyword-only and hybrid
    for q in ("大桥", "bridge", "council"):
        for mode in ("keyword", "hybrid"):
            r = _get(client, viewer, q=q, mode=mode)
            assert r.status_code == 200, r.text
            body = r.json()
            top = body["hits"][0]
            assert top["asset_id"] == ids["bridge"], (q, mode, body["hits"])
            assert top["kind"] in ("title", "paragraph") and top["source"] == "city-news"
            assert "<mark>" in top["snippet"] and top["credibility"] == 3
            assert body["mode"] == mode and body["took_ms"] >= 0
    r = _get(client, viewer, q="council", mode="keyword").json()
    hit = r["hits"][0]
    assert hit["kind"] == "paragraph" and hit["url"] == f"/assets/{ids['bridge']}#seg-{hit['segment_id']}"
    assert hit["char_start"] is not None and "<mark>council</mark>" in hit["snippet"]
    assert [h["asset_id"] for h in _get(client, viewer, q="typhoon", mode="keyword").json()["hits"]] == \
        [ids["weather"]]

    # facets count every matching asset; a facet value is a filter
    browse = _get(client, viewer).json()  # empty query: newest assets
    assert {h["asset_id"] for h in browse["hits"]} == set(ids.values())
    facets = browse["facets"]
    assert {f["value"]: f["count"] for f in facets["source"]} == {"city-news": 1, "wire": 1}
    assert {f["value"]: f["count"] for f in facets["kind"]} == {"article": 2}
    # the pipeline's review stage opened a case for each article: both await a reviewer
    assert facets["review_status"] == [{"value": "pending", "label": "pending", "count": 2}]
    assert len(facets["month"]) == 1 and re.fullmatch(r"\d{4}-\d{2}", facets["month"][0]["value"])
    only_wire = _get(client, viewer, source="wire").json()
    assert [h["asset_id"] for h in only_wire["hits"]] == [ids["weather"]]
    assert only_wire["filters"] == {"source": ["wire"]}
    nothing = _get(client, viewer, q="大桥", source="wire", mode="keyword").json()
    assert nothing["hits"] == [] and any("nothing in the archive matches" in n for n in nothing["notes"])
    assert _get(client, viewer, q="bridge", kind="video").json()["hits"] == []
    both = _get(client, viewer, kind=["article", "video"], source="city-news,wire").json()
    assert both["total"] == 2
    month = facets["month"][0]["value"]
    assert _get(client, viewer, date_from=f"{month}-01").json()["total"] == 2
    assert _get(client, viewer, date_to="2001-01-01").json()["total"] == 0
    assert _get(client, viewer, language="xx").json()["total"] == 0
    ungrouped = _get(client, viewer, q="大桥 bridge", mode="keyword", group="false").json()
    assert len({h["segment_id"] for h in ungrouped["hits"]}) == len(ungrouped["hits"]) >= 2
    paged = _get(client, viewer, limit=1, offset=1).json()
    assert len(paged["hits"]) == 1 and paged["total"] == 2 and paged["offset"] == 1

    # more like this: the other article, never the asset itself
    similar = _get(client, viewer, "/api/search/similar", asset_id=ids["bridge"]).json()
    assert ids["bridge"] not in [h["asset_id"] for h in similar["hits"]]
    assert [h["asset_id"] for h in similar["hits"]] == [ids["weather"]]
    seg = _get(client, viewer, "/api/search/similar", segment_id=hit["segment_id"]).json()
    assert ids["bridge"] not in [h["asset_id"] for h in seg["hits"]]

    # the hit's #seg- anchor is on the asset page
    client.get(f"/login?token={viewer}")
    page = client.get(f"/assets/{ids['bridge']}").text
    assert f'id="seg-{hit["segment_id"]}"' in page


@pytest.mark.slow
def test_hostile_queries_and_bad_filters_answer_200_or_422_never_500(client, tokens):
    _library()
    viewer = tokens["viewer"]
    for q in HOSTILE:
        for mode in ("keyword", "hybrid", "vector"):
            r = client.post("/api/search", json={"q": q, "mode": mode}, headers=bearer(viewer))
            assert r.status_code == 200, (q[:30], mode, r.status_code, r.text[:300])
            assert isinstance(r.json()["hits"], list)
            if len(quote(q)) < 60_000:  # the GET form takes what fits in a URL
                r = _get(client, viewer, q=q, mode=mode)
                assert r.status_code == 200, (q[:30], mode, r.status_code, r.text[:300])
    assert _get(client, viewer, q="x" * 10_001).status_code == 422
    r = client.post("/api/search", json={"q": "bridge", "filters": {"colour": "red"}}, headers=bearer(viewer))
    assert r.status_code == 422 and "unknown filter" in r.json()["detail"]
    bad = {"kind": ("foo", "kind"), "mode": ("fuzzy", "mode"), "limit": ("0", "limit"), "offset": ("-1", "offset"),
           "date_from": ("yesterday", "date_from"), "min_credibility": ("9", "min_credibility"),
           "people": ("someone", "people"), "review_status": ("maybe", "review status")}
    for name, (value, word) in bad.items():
        r = _get(client, viewer, q="bridge", **{name: value})
        assert r.status_code == 422, (name, r.status_code)
        assert isinstance(r.json()["detail"], str) and word in r.json()["detail"], r.json()
    r = _get(client, viewer, q="bridge", date_from="2030-01-01", date_to="2020-01-01")
    assert r.status_code == 422 and "date_from is after date_to" in r.json()["detail"]
    assert _get(client, viewer, q="bridge", limit="many").status_code == 422
    r = _get(client, viewer, "/api/search/similar")
    assert r.status_code == 422 and "asset_id or segment_id" in r.json()["detail"]
    assert _get(client, viewer, "/api/search/similar", asset_id=1, segment_id=1).status_code == 422
    assert _get(client, viewer, "/api/search/similar", asset_id=999_999).status_code == 422

    # the pages take the same input: a page with the problem named, never a 500
    client.get(f"/login?token={viewer}")
    for q in HOSTILE:
        if len(quote(q)) > 60_000:
            continue
        r = client.get("/search", params={"q": q})
        assert r.status_code == 200, (q[:30], r.status_code)
    r = client.get("/search", params={"q": "bridge", "kind": "foo"})
    assert r.status_code == 422 and "unknown kind" in r.text and 'name="q"' in r.text
    r = client.get("/search", params={"q": "bridge", "mode": "fuzzy"})
    assert r.status_code == 422 and "unknown search mode" in r.text


@pytest.mark.slow
def test_search_page_facets_active_filters_and_players(client, tokens):
    ids = _library()
    client.get(f"/login?token={tokens['viewer']}")
    r = client.get("/search", params={"q": "bridge", "mode": "keyword"})
    assert r.status_code == 200
    html = r.text
    assert f'data-asset-id="{ids["bridge"]}"' in html and "<mark>bridge</mark>" in html
    assert 'data-testid="credibility"' in html and f'href="/search?similar={ids["bridge"]}"' in html
    assert 'data-facet="source"' in html and "city-news" in html
    # a facet link adds the filter; the chip removes it again
    link = re.search(r'href="([^"]+)" data-testid="facet" data-facet="source" data-value="city-news"', html)
    assert link
    url = link.group(1).replace("&amp;", "&")
    assert "source=city-news" in url and "q=bridge" in url
    filtered = client.get(url).text
    chip = re.search(r'class="chip" href="([^"]+)" data-testid="active-filter" data-key="source"', filtered)
    assert chip and "source=" not in chip.group(1).replace("&amp;", "&")
    assert client.get(chip.group(1).replace("&amp;", "&")).status_code == 200
    month = re.search(r'data-facet="month" data-value="(\d{4}-\d{2})"', html).group(1)
    assert "date_from=" in client.get("/search", params={"q": "bridge", "date_from": f"{month}-01"}).text
    # more like this and an empty query (newest first) render
    assert 'data-testid="similar-to"' in client.get(f"/search?similar={ids['bridge']}").text
    assert client.get("/search").text.count('data-testid="hit"') == 2
    assert "no-hits" in client.get("/search", params={"q": "zzqxj", "mode": "keyword"}).text


def test_search_routes_enforce_roles(client, tokens):
    assert client.get("/api/search", params={"q": "x"}).status_code == 401
    assert client.post("/api/ask", json={"question": "x"}).status_code == 401
    assert client.get("/api/sources").status_code == 401
    assert client.get("/search", follow_redirects=False).headers["location"].startswith("/login")
    viewer, editor, admin = tokens["viewer"], tokens["editor"], tokens["admin"]
    assert _get(client, viewer, q="anything").status_code == 200
    assert _get(client, viewer, "/api/sources").status_code == 200
    for token in (viewer, editor):
        r = client.put("/api/sources/wire", json={"level": 5}, headers=bearer(token))
        assert r.status_code == 403 and r.json()["needed_role"] == "admin"
        assert client.post("/api/search/reindex", headers=bearer(token)).status_code == 403
    client.get(f"/login?token={viewer}")
    assert client.get("/sources").status_code == 403
    assert client.get("/search").status_code == 200 and client.get("/ask").status_code == 200
    assert client.get("/timeline").status_code == 200
    # cookie posts need the CSRF token even for an admin
    client.get(f"/login?token={admin}")
    assert client.post("/sources", data={"source": "wire", "level": "4"}).status_code == 403
    page = client.get("/sources")
    assert page.status_code == 200 and 'href="/sources"' in page.text
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
    r = client.post("/sources", data={"source": "wire", "level": "4", "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/sources?notice=source-saved"
    assert {s["source"]: s["level"] for s in _get(client, viewer, "/api/sources").json()["items"]} == {"wire": 4}
    assert client.post("/sources/reindex").status_code == 403  # no CSRF token
    r = client.post("/sources/reindex", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/sources?notice=reindex-started"
    deadline = time.monotonic() + 120
    while (state := client.get("/api/search/reindex", headers=bearer(admin)).json())["status"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert state["status"] == "done" and state["counts"]["assets"] == 0 and state["started_by"] == "t-admin"
    assert "reindex-status" in client.get("/sources").text


@pytest.mark.slow
def test_credibility_ranks_filters_and_shows_and_the_reindex(client, tokens):
    ids = _library()
    admin, viewer = tokens["admin"], tokens["viewer"]
    r = client.put("/api/sources/wire", json={"level": 5, "note": "checked"}, headers=bearer(admin))
    assert r.status_code == 200 and r.json()["label"] == "authoritative"
    assert client.put("/api/sources/wire", json={"level": 9}, headers=bearer(admin)).status_code == 422
    assert client.put("/api/sources/wire", json={"level": "high"}, headers=bearer(admin)).status_code == 422
    items = {s["source"]: s for s in _get(client, viewer, "/api/sources").json()["items"]}
    assert items["wire"]["level"] == 5 and items["wire"]["note"] == "checked" and items["wire"]["assets"] == 1
    assert items["city-news"]["level"] == 3 and items["wire"]["updated_by"] == "t-admin"
    hits = _get(client, viewer).json()["hits"]
    assert {h["asset_id"]: h["credibility"] for h in hits} == {ids["weather"]: 5, ids["bridge"]: 3}
    assert [h["asset_id"] for h in _get(client, viewer, min_credibility=4).json()["hits"]] == [ids["weather"]]
    cred = {f["value"]: f["count"] for f in _get(client, viewer).json()["facets"]["credibility"]}
    assert cred == {5: 1, 3: 1}

    # re-index: now (wait=true) with counts, or in the background with progress to poll
    r = client.post("/api/search/reindex", params={"wait": "true"}, headers=bearer(admin))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["status"] == "done" and out["counts"]["assets"] == 2 and out["counts"]["documents"] >= 5
    assert out["done"] == out["total"] == 2 and out["started_by"] == "t-admin"
    r = client.post("/api/search/reindex", headers=bearer(admin))
    assert r.status_code == 202 and r.json()["status"] in ("running", "done")
    deadline = time.monotonic() + 120
    while (state := client.get("/api/search/reindex", headers=bearer(admin)).json())["status"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert state["status"] == "done" and state["counts"]["documents"] == out["counts"]["documents"]
    assert _get(client, viewer, q="大桥", mode="keyword").json()["hits"][0]["asset_id"] == ids["bridge"]


@pytest.mark.slow
def test_ask_cites_the_moment_and_says_plainly_when_the_archive_has_no_answer(client, tokens):
    ids = _library()
    viewer = tokens["viewer"]
    r = client.post("/api/ask", json={"question": "What did the city council approve?"}, headers=bearer(viewer))
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["found"] is True and a["sources"] and a["sentences"]
    assert a["sources"][0]["asset_id"] == ids["bridge"] and "bridge" in a["text"].lower()
    assert re.search(r"\[1\]", a["text"]) and a["sources"][0]["url"].startswith(f"/assets/{ids['bridge']}#seg-")
    cited = {c for s in a["sentences"] for c in s["citations"]}
    assert cited and all(0 <= c < len(a["sources"]) for c in cited)
    zh = client.post("/api/ask", json={"question": "大桥什么时候开工？", "mode": "extractive"},
                     headers=bearer(viewer)).json()
    assert zh["found"] and "三月" in zh["text"]
    absent = client.post("/api/ask", json={"question": "Who won the 1930 football world cup in Uruguay?"},
                         headers=bearer(viewer)).json()
    assert absent["found"] is False and "does not contain" in absent["text"]
    for body, word in (({"question": ""}, "empty"), ({"question": "bridge", "mode": "psychic"}, "mode"),
                       ({"question": "bridge", "filters": {"kind": "foo"}}, "kind")):
        r = client.post("/api/ask", json=body, headers=bearer(viewer))
        assert r.status_code == 422 and word in r.json()["detail"], r.text
    for q in HOSTILE:
        r = client.post("/api/ask", json={"question": q}, headers=bearer(viewer))
        assert r.status_code in (200, 422), (q[:30], r.status_code, r.text[:200])
    assert client.post("/api/ask", json={"question": "桥" * 20_000}, headers=bearer(viewer)).status_code == 200

    # the page: citation links to the moment, found / not found said plainly
    client.get(f"/login?token={viewer}")
    page = client.get("/ask", params={"q": "What did the city council approve?"}).text
    assert 'data-testid="answer-found"' in page
    assert re.search(rf'class="cite" href="/assets/{ids["bridge"]}#seg-\d+" data-testid="citation" data-n="1"', page)
    page = client.get("/ask", params={"q": "Who won the 1930 football world cup in Uruguay?"}).text
    assert 'data-testid="answer-not-found"' in page
    assert client.get("/ask", params={"q": "x", "mode": "psychic"}).status_code == 422


@pytest.mark.slow
def test_timeline_groups_assets_into_events_in_time_order(client, tokens):
    ids = _library()
    viewer = tokens["viewer"]
    r = _get(client, viewer, "/api/timeline", q="bridge")
    assert r.status_code == 200, r.text
    tl = r.json()
    starts = [e["start"] for e in tl["events"]]
    assert starts == sorted(starts) and tl["query"] == "bridge"
    event = next(e for e in tl["events"] if ids["bridge"] in [a["asset_id"] for a in e["assets"]])
    assert {"Li Ming", "李明"} & set(event["who"]) and "Shanghai" in event["where"] and event["title"]
    assert event["assets"][0]["url"].startswith(f"/assets/{ids['bridge']}")
    r = _get(client, viewer, "/api/timeline", q="")
    assert r.status_code == 422 and "query" in r.json()["detail"]
    assert _get(client, viewer, "/api/timeline", q="bridge", kind="foo").status_code == 422
    for q in HOSTILE:
        if len(quote(q)) < 60_000 and q.strip():
            assert _get(client, viewer, "/api/timeline", q=q).status_code == 200, q[:30]
    client.get(f"/login?token={viewer}")
    page = client.get("/timeline", params={"q": "bridge"}).text
    assert 'data-testid="event"' in page and "Shanghai" in page and f'href="/assets/{ids["bridge"]}' in page
