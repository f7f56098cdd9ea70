"""The understanding REST API and pages: tags with who-changed-what, people (name/merge/split), the topic
vocabulary (admin only), the transcript endpoint — roles enforced by require(role)."""

from __future__ import annotations

import importlib.util
import uuid
from pathlib import Path

import pytest
from PIL import Image, ImageOps
from sqlalchemy import select

import zhimei.jobs as jobs
from zhimei.api.auth import csrf_token_for
from zhimei.library.assets import ingest_bytes, ingest_file
from zhimei.store import session_scope
from zhimei.store.models import Face, Tag

ARTICLE = """<!doctype html><html lang="zh"><head><title>市政府批准新建跨江大桥 {tag}</title></head><body>
<p>市政府今天召开常务会议，批准新建跨江大桥项目。市长李明表示，大桥将于明年三月开工，预计两年建成。</p>
<p>居民代表在会上表示欢迎。交通部门将调整公交线路，方便市民出行。</p>
<p>The city council approved the new river bridge on Monday, said Mayor Li Ming in Shanghai.</p>
</body></html>"""


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _article() -> int:
    data = ARTICLE.format(tag=uuid.uuid4().hex[:6]).encode()
    aid = ingest_bytes(data, "bridge.html", source="test").asset_id
    jobs.drain()
    return aid


def test_article_entities_topics_and_editable_tags(client, tokens):
    aid = _article()
    d = client.get(f"/api/assets/{aid}", headers=bearer(tokens["viewer"])).json()
    assert d["status"] == "ready", d["failure_reason"]
    ents = {(e["kind"], e["text"]) for e in d["entities"]["summary"]}
    assert ("PER", "李明") in ents and ("LOC", "Shanghai") in ents
    names = {t["name"]: t for t in d["tags"]}
    assert names["社会"]["origin"] == "topic" or names.get("时政", {}).get("origin") == "topic"
    assert any(t["origin"] == "auto" for t in d["tags"])
    assert d["embeddings"]["segments"] == 3 and d["embeddings"]["asset"] == 1

    # viewers read, editors change; every change is recorded with who made it
    url = f"/api/assets/{aid}/tags"
    assert client.post(url, json={"name": "桥梁"}, headers=bearer(tokens["viewer"])).status_code == 403
    r = client.post(url, json={"name": "  桥梁  "}, headers=bearer(tokens["editor"]))
    assert r.status_code == 201 and r.json()["name"] == "桥梁" and r.json()["origin"] == "user"
    assert client.post(url, json={"name": ""}, headers=bearer(tokens["editor"])).status_code == 422
    auto = next(t["name"] for t in d["tags"] if t["origin"] == "auto")
    assert client.delete(f"{url}/{auto}", headers=bearer(tokens["editor"])).status_code == 200
    assert client.delete(f"{url}/{auto}", headers=bearer(tokens["editor"])).status_code == 404
    body = client.get(url, headers=bearer(tokens["viewer"])).json()
    assert [(c["tag"], c["action"], c["who"]) for c in body["changes"]] == [(auto, "remove", "t-editor"),
                                                                             ("桥梁", "add", "t-editor")]
    assert "桥梁" in {t["name"] for t in body["items"]} and auto not in {t["name"] for t in body["items"]}
    assert client.post("/api/assets/999999/tags", json={"name": "x"}, headers=bearer(tokens["editor"])).status_code \
        == 404

    # the page shows tags, entities and the history; an editor's form adds a tag (CSRF field checked)
    client.cookies.set("zhimei_token", tokens["editor"])
    page = client.get(f"/assets/{aid}")
    assert page.status_code == 200 and 'data-testid="tags"' in page.text and "李明" in page.text
    assert client.post(f"/assets/{aid}/tags", data={"name": "no-csrf"}, follow_redirects=False).status_code == 403
    r = client.post(f"/assets/{aid}/tags", data={"name": "大桥", "csrf_token": csrf_token_for(tokens["editor"])},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("notice=tag-added")
    r = client.post(f"/assets/{aid}/tags/remove", data={"name": "大桥", "csrf_token": csrf_token_for(tokens["editor"])},
                    follow_redirects=False)
    assert r.status_code == 303
    with session_scope() as s:
        assert "大桥" not in set(s.scalars(select(Tag.name).where(Tag.asset_id == aid)))


def test_topic_vocabulary_is_admin_only(client, tokens):
    items = client.get("/api/topics", headers=bearer(tokens["viewer"])).json()["items"]
    assert [t["name"] for t in items] == ["时政", "财经", "科技", "体育", "文化", "社会", "国际", "健康", "教育",
                                          "环境"]
    assert all(t["keywords"] and t["name_en"] for t in items)
    new = {"name": "交通", "name_en": "transport", "keywords": ["大桥", "公交", "bridge", "traffic"]}
    assert client.post("/api/topics", json=new, headers=bearer(tokens["editor"])).status_code == 403
    r = client.post("/api/topics", json=new, headers=bearer(tokens["admin"]))
    assert r.status_code == 201 and r.json()["updated_by"] == "t-admin"
    tid = r.json()["id"]
    assert client.post("/api/topics", json=new, headers=bearer(tokens["admin"])).status_code == 422
    r = client.patch(f"/api/topics/{tid}", json={"keywords": ["大桥", "地铁", " "]}, headers=bearer(tokens["admin"]))
    assert r.status_code == 200 and r.json()["keywords"] == ["大桥", "地铁"]
    assert client.patch("/api/topics/99999", json={"enabled": False}, headers=bearer(tokens["admin"])).status_code \
        == 404
    # the new topic is used at the next processing
    aid = _article()
    tags = client.get(f"/api/assets/{aid}/tags", headers=bearer(tokens["viewer"])).json()["items"]
    assert any(t["name"] == "交通" and t["origin"] == "topic" for t in tags)
    assert client.delete(f"/api/topics/{tid}", headers=bearer(tokens["editor"])).status_code == 403
    assert client.delete(f"/api/topics/{tid}", headers=bearer(tokens["admin"])).status_code == 200
    client.cookies.set("zhimei_token", tokens["admin"])
    assert client.get("/topics").status_code == 200
    client.cookies.set("zhimei_token", tokens["editor"])
    assert client.get("/topics").status_code == 403


def _astronaut() -> Path:
    spec = importlib.util.find_spec("skimage")
    assert spec is not None, "scikit-image (test dependency) is not installed"
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "astronaut.png"


@pytest.mark.slow
def test_people_api_and_pages(client, tokens, tmp_path):
    first = ingest_file(_astronaut(), source="test").asset_id
    copy = tmp_path / "copy.jpg"
    ImageOps.mirror(Image.open(_astronaut()).convert("RGB")).save(copy, quality=85)
    second = ingest_file(copy, source="test").asset_id
    jobs.drain()
    people = client.get("/api/people", headers=bearer(tokens["viewer"])).json()
    assert people["total"] == 1
    pid = people["items"][0]["id"]
    assert people["items"][0]["faces"] == 2 and people["items"][0]["assets"] == 2
    d = client.get(f"/api/people/{pid}", headers=bearer(tokens["viewer"])).json()
    assert {a["asset_id"] for a in d["appearances"]} == {first, second}

    assert client.post(f"/api/people/{pid}/name", json={"name": "Eileen Collins"},
                       headers=bearer(tokens["viewer"])).status_code == 403
    r = client.post(f"/api/people/{pid}/name", json={"name": "Eileen Collins"}, headers=bearer(tokens["editor"]))
    assert r.status_code == 200 and r.json()["name"] == "Eileen Collins" and r.json()["named_by"] == "t-editor"
    assert client.get("/api/people?q=eileen", headers=bearer(tokens["viewer"])).json()["total"] == 1

    with session_scope() as s:
        face_id = s.scalars(select(Face.id).where(Face.asset_id == second)).one()
    r = client.post("/api/people/split", json={"face_ids": [face_id], "name": "Copy"}, headers=bearer(tokens["editor"]))
    assert r.status_code == 201
    new = r.json()["id"]
    assert client.post("/api/people/split", json={"face_ids": [123456]},
                       headers=bearer(tokens["editor"])).status_code == 404
    assert client.post(f"/api/people/{pid}/merge", json={"others": [pid]},
                       headers=bearer(tokens["editor"])).status_code == 422

    # pages: the people grid, a person's appearances linking to the player, and the merge form
    client.cookies.set("zhimei_token", tokens["editor"])
    grid = client.get("/people")
    assert grid.status_code == 200 and grid.text.count('data-testid="person-card"') == 2
    page = client.get(f"/people/{pid}")
    assert page.status_code == 200 and f'href="/assets/{first}"' in page.text and "Eileen Collins" in page.text
    r = client.post(f"/people/{pid}/merge", data={"other": str(new), "csrf_token": csrf_token_for(tokens["editor"])},
                    follow_redirects=False)
    assert r.status_code == 303
    after = client.get(f"/api/people/{pid}", headers=bearer(tokens["viewer"])).json()
    assert after["faces"] == 2 and client.get(f"/api/people/{new}", headers=bearer(tokens["viewer"])).status_code == 404
    transcript = client.get(f"/api/assets/{first}/transcript", headers=bearer(tokens["viewer"])).json()
    assert transcript == {"asset_id": first, "lines": []}
