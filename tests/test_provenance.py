"""Labelling stored assets (derived asset with lineage, idempotent), propagator fields at publication, inbound
labels in Asset.meta["provenance"] (the provenance stage), and the REST + CLI surfaces."""

from __future__ import annotations

import json
import subprocess

import pytest
from conftest import run_ffmpeg
from PIL import Image
from typer.testing import CliRunner

from zhimei.library.assets import ingest_bytes, ingest_file
from zhimei.review.labels import (
    AigcLabel,
    LabelError,
    add_propagator,
    label_asset,
    make_dev_chain,
    provenance_of,
    read_c2pa,
    read_inbound_labels,
    record_inbound,
    write_aigc,
)
from zhimei.store.blobs import get_blob_store
from zhimei.store.db import session_scope
from zhimei.store.models import Asset, Rendition


@pytest.fixture
def signing(zhome, tmp_path, monkeypatch):
    chain, key, root = make_dev_chain(tmp_path / "c2pa-test", common_name="zhimei test signer")
    monkeypatch.setenv("ZHIMEI_C2PA_CERT", str(chain))
    monkeypatch.setenv("ZHIMEI_C2PA_KEY", str(key))
    monkeypatch.setenv("ZHIMEI_C2PA_TRUST_ANCHORS", str(root))
    return root


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _original(asset_id: int, tmp_path, name: str):
    with session_scope() as s:
        sha = next(r.blob_sha for r in s.get(Asset, asset_id).renditions if r.kind == "original")
    p = tmp_path / name
    p.write_bytes(get_blob_store().read_bytes(sha))
    return p


def _image_asset(tmp_path, colour=(200, 60, 40)) -> int:
    p = tmp_path / "photo.png"
    img = Image.new("RGB", (480, 320), colour)
    for x in range(0, 480, 40):
        img.paste((20, 20, 20), (x, 0, x + 20, 320))
    img.save(p)
    return ingest_file(p, source="ai-studio", title="生成图").asset_id


def test_label_image_asset_makes_a_derived_labelled_asset(signing, tmp_path):
    src_id = _image_asset(tmp_path)
    res = label_asset(src_id, producer="91110108MA01KP2T5U", created_by="t-editor")
    assert res["created"] and res["asset_id"] != src_id
    with session_scope() as s:
        child = s.get(Asset, res["asset_id"])
        assert child.parent_id == src_id and child.kind == "image" and child.mime == "image/png"
        assert child.meta["provenance"]["labelled"]["source_asset"] == src_id
    out = _original(res["asset_id"], tmp_path, "labelled.png")
    exif = json.loads(subprocess.run(["exiftool", "-j", "-G1", str(out)], capture_output=True, text=True).stdout)[0]
    aigc = json.loads(exif["XMP-TC260:Aigc"])
    assert aigc["ContentProducer"] == "91110108MA01KP2T5U" and aigc["Label"] == "1" and aigc["ProduceID"]
    assert read_c2pa(out)["state"] == "Trusted"
    info = read_inbound_labels(out)
    assert info["status"] == "labelled" and info["codes"]["ReservedCode1"] == "valid"
    # the explicit label is drawn: the labelled pixels differ from the source
    assert Image.open(out).convert("RGB").getpixel((470, 310)) != (200, 60, 40)
    # again: the same derived asset, no duplicate
    again = label_asset(src_id, producer="91110108MA01KP2T5U")
    assert again["asset_id"] == res["asset_id"] and again["created"] is False
    assert [v["asset_id"] for v in provenance_of(src_id)["labelled_versions"]] == [res["asset_id"]]
    with pytest.raises(LabelError, match="already a labelled asset"):
        label_asset(res["asset_id"])


def test_propagator_fields_at_publication(signing, tmp_path):
    labelled = label_asset(_image_asset(tmp_path), producer="zhimei")["asset_id"]
    pub = add_propagator(labelled, "91440300MA5FYBFG1P", "weibo-123")
    assert pub["created"] and pub["rendition"].startswith("aigc_pub_")
    assert add_propagator(labelled, "91440300MA5FYBFG1P", "weibo-123")["created"] is False
    with session_scope() as s:
        r = s.query(Rendition).filter_by(asset_id=labelled, kind=pub["rendition"]).one()
        data = get_blob_store().read_bytes(r.blob_sha)
    p = tmp_path / "pub.png"
    p.write_bytes(data)
    info = read_inbound_labels(p)
    assert info["aigc_fields"]["ContentPropagator"] == "91440300MA5FYBFG1P"
    assert info["aigc_fields"]["PropagateID"] == "weibo-123"
    assert info["codes"] == {"ReservedCode1": "valid", "ReservedCode2": "valid"}
    assert info["c2pa"]["state"] == "Trusted" and info["c2pa"]["manifests"] == 2  # earlier manifest kept
    assert provenance_of(labelled)["propagations"][0]["aigc"]["PropagateID"] == "weibo-123"
    with pytest.raises(LabelError, match="printable ASCII"):
        add_propagator(labelled, "微博", "x")
    plain = _image_asset(tmp_path, colour=(10, 200, 10))
    with pytest.raises(LabelError, match="carries no AIGC label"):
        add_propagator(plain, "p", "q")


def test_label_video_audio_and_article_assets(signing, tmp_path):
    v = tmp_path / "clip.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-f", "lavfi", "-i", "sine", "-t", "4",
               "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(v))
    a = tmp_path / "voice.mp3"
    run_ffmpeg("-f", "lavfi", "-i", "sine=frequency=300", "-t", "2", str(a))
    vid = ingest_file(v, title="AI video").asset_id
    aud = ingest_file(a, title="AI voice").asset_id
    art = ingest_bytes("<html><head><title>AI稿</title></head><body><p>这是一篇由模型写成的稿件。</p></body></html>"
                       .encode(), "ai.html").asset_id
    rv = label_asset(vid, producer="zhimei")
    ra = label_asset(aud, producer="zhimei")
    rt = label_asset(art, producer="zhimei")
    assert rv["labelled"]["explicit"]["seconds"] >= 2 and rv["labelled"]["c2pa"]["validation"]["state"] == "Trusted"
    assert ra["labelled"]["explicit"]["notice_seconds"] > 1 and ra["labelled"]["format"] == "mp3"
    assert rt["labelled"]["format"] == "html" and rt["labelled"]["c2pa"]["signed"] is False
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format_tags", "-of", "json",
                            str(_original(rv["asset_id"], tmp_path, "v.mp4"))], capture_output=True, text=True)
    assert json.loads(json.loads(probe.stdout)["format"]["tags"]["AIGC"])["ContentProducer"] == "zhimei"
    html = _original(rt["asset_id"], tmp_path, "t.html").read_text("utf-8")
    assert "【本内容由人工智能生成】" in html and 'name="AIGC"' in html
    import mutagen

    assert "TXXX:AIGC" in mutagen.File(str(_original(ra["asset_id"], tmp_path, "a.mp3"))).tags


def test_inbound_labels_recorded_and_lookalike_without_label(signing, tmp_path):
    import zhimei.jobs as jobs
    from zhimei.library.media_stages import image_meta_stage  # noqa: F401  (the stage the check builds on)
    from zhimei.review.labels import stages

    assert jobs.registry.get("provenance").run is stages.provenance_stage
    assert "image" in jobs.registry.get("provenance").kinds
    # an inbound file with an AIGC label from another producer
    src = tmp_path / "in.png"
    Image.new("RGB", (200, 150), (90, 90, 200)).save(src)
    inbound = write_aigc(src, tmp_path / "inbound.png",
                         AigcLabel(ContentProducer="001191440300708461136T1XGW3", ProduceID="remote-1"))
    aid = ingest_file(inbound, title="来稿").asset_id
    info = record_inbound(aid)
    assert info["status"] == "labelled" and info["aigc_fields"]["ContentProducer"] == "001191440300708461136T1XGW3"
    with session_scope() as s:
        assert s.get(Asset, aid).meta["provenance"]["inbound"]["status"] == "labelled"
    # labelling keeps the inbound producer's fields (a label is never replaced)
    res = label_asset(aid, producer="zhimei")
    assert res["labelled"]["aigc"]["ContentProducer"] == "001191440300708461136T1XGW3"
    assert res["labelled"]["aigc_kept_from"] == "inbound"


def test_known_label_removed_by_phash(signing, tmp_path):
    src_id = _image_asset(tmp_path)
    labelled = label_asset(src_id)["asset_id"]
    out = _original(labelled, tmp_path, "labelled.png")
    # someone screenshots / re-saves the labelled image: no metadata, no manifest
    stripped = tmp_path / "stripped.jpg"
    Image.open(out).convert("RGB").save(stripped, quality=85)
    sid = ingest_file(stripped, title="转载").asset_id
    import imagehash

    with session_scope() as s:  # the pHashes as the image_meta stage stores them
        for i, p in ((labelled, out), (sid, stripped)):
            s.get(Asset, i).phash = str(imagehash.phash(Image.open(p)))
    info = record_inbound(sid)
    assert info["status"] == "label-removed" and info["known_label_removed"]["asset_id"] == labelled
    assert any("the label was removed" in n for n in info["notes"])


# ---- REST ---------------------------------------------------------------------------------------------

def test_rest_provenance_label_propagate(signing, client, tokens, tmp_path):
    src_id = _image_asset(tmp_path)
    r = client.get(f"/api/assets/{src_id}/provenance", headers=bearer(tokens["viewer"]))
    assert r.status_code == 200 and r.json()["inbound"] is None
    r = client.post(f"/api/assets/{src_id}/provenance/refresh", headers=bearer(tokens["editor"]))
    assert r.status_code == 200 and r.json()["inbound"]["status"] == "none"
    assert client.post(f"/api/assets/{src_id}/labels", headers=bearer(tokens["viewer"])).status_code == 403
    r = client.post(f"/api/assets/{src_id}/labels", json={"producer": "zhimei", "corner": "top-left"},
                    headers=bearer(tokens["editor"]))
    assert r.status_code == 201, r.text
    new_id = r.json()["asset_id"]
    again = client.post(f"/api/assets/{src_id}/labels", json={"producer": "zhimei", "corner": "top-left"},
                        headers=bearer(tokens["editor"]))
    assert again.status_code == 200 and again.json()["asset_id"] == new_id
    for body, needle in (({"producer": "某公司"}, "printable ASCII"), ({"label": "9"}, "pattern"),
                         ({"corner": "center"}, "corner must be")):
        bad = client.post(f"/api/assets/{src_id}/labels", json=body, headers=bearer(tokens["editor"]))
        assert bad.status_code == 422 and needle in json.dumps(bad.json()["detail"]), bad.text
    assert client.post("/api/assets/999999/labels", headers=bearer(tokens["editor"])).status_code == 404
    r = client.post(f"/api/assets/{new_id}/propagation", json={"propagator": "zhimei-web", "propagate_id": "a1"},
                    headers=bearer(tokens["editor"]))
    assert r.status_code == 201 and r.json()["url"].endswith(r.json()["rendition"])
    media = client.get(r.json()["url"], headers=bearer(tokens["viewer"]))
    assert media.status_code == 200
    p = tmp_path / "dl.png"
    p.write_bytes(media.content)
    assert read_inbound_labels(p)["aigc_fields"]["PropagateID"] == "a1"
    # read an uploaded file's labels (nothing stored)
    r = client.post("/api/labels/read", content=p.read_bytes(), headers=bearer(tokens["viewer"]))
    assert r.status_code == 200 and r.json()["status"] == "labelled"
    r = client.post("/api/labels/read", content=b"", headers=bearer(tokens["viewer"]))
    assert r.status_code == 422 and "empty" in r.json()["detail"]
    page = client.get(f"/assets/{new_id}/provenance", headers=bearer(tokens["viewer"]))
    assert page.status_code == 200 and "ContentProducer" in page.text and "zhimei-web" in page.text


def test_cli_labels(signing, tmp_path):
    from zhimei.cli import app

    runner = CliRunner()
    src_id = _image_asset(tmp_path)
    r = runner.invoke(app, ["labels", "apply", str(src_id), "--producer", "zhimei", "--json"])
    assert r.exit_code == 0, r.output
    new_id = json.loads(r.stdout)["asset_id"]
    r = runner.invoke(app, ["labels", "propagate", str(new_id), "--propagator", "p1", "--propagate-id", "x9", "--json"])
    assert r.exit_code == 0, r.output
    out = _original(new_id, tmp_path, "l.png")
    r = runner.invoke(app, ["labels", "read", str(out), "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["status"] == "labelled"
    r = runner.invoke(app, ["labels", "read", str(out)])
    assert r.exit_code == 0 and "ContentProducer" in r.stdout
    r = runner.invoke(app, ["labels", "show", str(src_id), "--refresh", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["labelled_versions"][0]["asset_id"] == new_id
    r = runner.invoke(app, ["labels", "apply", str(src_id), "--producer", "有 空格"])
    assert r.exit_code == 2 and "printable ASCII" in r.output
    r = runner.invoke(app, ["labels", "read", str(tmp_path / "nope.jpg")])
    assert r.exit_code == 2 and "not a file" in r.output
