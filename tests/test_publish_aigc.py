"""AI-generated content at publication: the GB 45438 propagator fields (ContentPropagator, PropagateID) are written
into the published file — read back with exiftool, as the labels tests do — and every format says the item is
AI-generated; AI content without its label is refused."""

from __future__ import annotations

import json
import subprocess

import feedparser
import pytest
from lxml import etree
from PIL import Image
from publish_helpers import pass_review, use_stages

from zhimei.distribute.publish import PublishError, create_channel, export_item, feed_document, publish
from zhimei.library.assets import ingest_file
from zhimei.review.labels import label_asset, make_dev_chain, read_inbound_labels
from zhimei.store.db import session_scope
from zhimei.store.models import Asset

NAR = "{http://iptc.org/std/nar/2006-10-01/}"
PROPAGATOR = "91440300MA5FYBFG1P"


@pytest.fixture
def ai_image(zhome, tmp_path, monkeypatch):
    use_stages(monkeypatch)
    chain, key, root = make_dev_chain(tmp_path / "c2pa-test", common_name="zhimei test signer")
    monkeypatch.setenv("ZHIMEI_C2PA_CERT", str(chain))
    monkeypatch.setenv("ZHIMEI_C2PA_KEY", str(key))
    monkeypatch.setenv("ZHIMEI_C2PA_TRUST_ANCHORS", str(root))
    monkeypatch.setenv("ZHIMEI_PUBLISH_PROPAGATOR", PROPAGATOR)
    from zhimei.settings import reset_settings

    reset_settings()
    p = tmp_path / "generated.png"
    img = Image.new("RGB", (480, 320), (40, 90, 200))
    for x in range(0, 480, 40):
        img.paste((230, 230, 230), (x, 0, x + 20, 320))
    img.save(p)
    src = ingest_file(p, source="ai-studio", title="生成的城市夜景").asset_id
    labelled = label_asset(src, producer="91110108MA01KP2T5U", created_by="t-editor")["asset_id"]
    with session_scope() as s:
        create_channel(s, "web", "rss", title="Web")
        create_channel(s, "app", "jsonfeed", title="App")
    return {"source": src, "labelled": labelled}


def _exif_aigc(data: bytes, tmp_path) -> dict:
    f = tmp_path / "published.png"
    f.write_bytes(data)
    out = subprocess.run(["exiftool", "-j", "-G1", "-a", str(f)], capture_output=True, text=True, check=True)
    meta = json.loads(out.stdout)[0]
    values = [v for k, v in meta.items() if k.lower().endswith(":aigc")]
    assert values, f"no AIGC metadata in the published file: {sorted(meta)}"
    return json.loads(values[0])


def test_published_ai_image_carries_the_propagator_fields(ai_image, client, tokens, tmp_path):
    labelled = ai_image["labelled"]
    pass_review(labelled)
    p = publish(labelled, "web", actor="t-editor")
    assert p["ai_generated"] and p["aigc"]["ContentPropagator"] == PROPAGATOR
    propagate_id = p["aigc"]["PropagateID"]
    assert propagate_id.startswith(f"zm-web-{labelled}-")

    # the file the public URL serves carries producer + propagator fields (exiftool reads them)
    r = client.get(f"/pub/web/media/{labelled}")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    aigc = _exif_aigc(r.content, tmp_path)
    assert aigc["ContentProducer"] == "91110108MA01KP2T5U" and aigc["Label"] == "1"
    assert aigc["ContentPropagator"] == PROPAGATOR and aigc["PropagateID"] == propagate_id
    assert aigc["ReservedCode2"].startswith("ed25519:")
    info = read_inbound_labels(tmp_path / "published.png")
    assert info["codes"] == {"ReservedCode1": "valid", "ReservedCode2": "valid"}
    with session_scope() as s:  # the original labelled file is untouched
        props = s.get(Asset, labelled).meta["provenance"]["propagations"]
    assert [x["aigc"]["PropagateID"] for x in props] == [propagate_id]

    # publishing again writes nothing new; another channel gets its own PropagateID
    assert publish(labelled, "web")["created"] is False
    other = publish(labelled, "app")
    assert other["aigc"]["PropagateID"] != propagate_id and other["aigc"]["ContentPropagator"] == PROPAGATOR

    # every format says it is AI-generated
    rss = feedparser.parse(feed_document("web", "rss", base_url="http://news.test")[0])
    entry = rss.entries[0]
    assert any(t.term == "AI生成 AI-generated" for t in entry.tags)
    assert entry.summary.startswith("【本内容由人工智能生成】") and entry.enclosures[0].type == "image/png"
    jf = json.loads(feed_document("app", "jsonfeed", base_url="http://news.test")[0])
    assert jf["items"][0]["_aigc"]["fields"]["PropagateID"] == other["aigc"]["PropagateID"]
    assert "人工智能生成" in jf["items"][0]["_aigc"]["label"]
    ninjs = json.loads(export_item(labelled, "ninjs", channel="web"))
    assert {"role": "aigc:PropagateID", "value": propagate_id} in ninjs["altids"]
    assert "AI-generated" in ninjs["ednote"] and ninjs["type"] == "picture"
    g2 = etree.fromstring(export_item(labelled, "newsml", channel="web", base_url="http://news.test"))
    assert "人工智能生成" in g2.find(f"{NAR}itemMeta/{NAR}edNote").text
    assert any(a.get("type") == "aigc:PropagateID" and a.text == propagate_id
               for a in g2.findall(f"{NAR}contentMeta/{NAR}altId"))
    assert g2.find(f"{NAR}contentSet/{NAR}remoteContent").get("href") == f"http://news.test/pub/web/media/{labelled}"
    page = client.get("/publish", headers={"Authorization": f"Bearer {tokens['editor']}"})
    assert page.status_code == 200 and f"AI · {propagate_id}" in page.text
    assert "&#34;PropagateID&#34;" in page.text  # the label's JSON stays inside its attribute


def test_ai_content_without_its_label_is_refused(ai_image):
    src = ai_image["source"]
    with session_scope() as s:  # the studio marks what it generates
        a = s.get(Asset, src)
        a.meta = {**(a.meta or {}), "ai_generated": True}
    pass_review(src)
    with pytest.raises(PublishError, match=f"publish its labelled version, asset {ai_image['labelled']}") as exc:
        publish(src, "web")
    assert exc.value.status == 409
