"""Covers (智能封面) and voice-over (配音) on the ingested sample video: ranked keyframes, titled covers in three
aspects with A/B variants, speech from Piper and espeak-ng — each a new AI-marked asset with lineage."""

from __future__ import annotations

import wave

import pytest

import zhimei.jobs as jobs
from zhimei.library.assets import ingest_file
from zhimei.studio.errors import StudioError
from zhimei.studio.media.voiceover import split_script


def test_split_script_keeps_every_character():
    text = "第一句话。第二句话！" + "很长的一句，" * 120 + "结束。 An English sentence. Another one?"
    parts = split_script(text, limit=100)
    assert all(len(p) <= 100 for p in parts)
    assert "".join(parts).replace(" ", "") == text.replace(" ", "")


def test_compose_cover_refuses_bad_input(tmp_path):
    from PIL import Image

    from zhimei.studio.media.covers import compose_cover

    frame = tmp_path / "f.png"
    Image.new("RGB", (640, 360), (40, 80, 120)).save(frame)
    out = compose_cover(frame, "市议会批准新河桥建设 River bridge approved", "9:16", tmp_path / "c.jpg")
    with Image.open(out) as im:
        assert im.size == (720, 1280)
    with pytest.raises(StudioError, match="unknown aspect"):
        compose_cover(frame, "t", "4:3", tmp_path / "d.jpg")
    with pytest.raises(StudioError, match="needs a title"):
        compose_cover(frame, "   ", "16:9", tmp_path / "d.jpg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.jpg", "f.png"]  # nothing half-written


@pytest.mark.slow
def test_covers_and_voiceover_on_the_sample(zhome, sample_video, client, tokens):
    from zhimei.store.blobs import get_blob_store
    from zhimei.store.db import read_scope
    from zhimei.store.models import Asset, Rendition
    from zhimei.studio.media import rank_keyframes

    aid = ingest_file(sample_video, source="test").asset_id
    jobs.drain()
    ranked = rank_keyframes(aid)
    assert len(ranked) == 5
    # the card with big burned-in text ("RIVER BRIDGE / APPROVED", shot 3) ranks below the plain test pattern
    by_shot = {f.shot_seq: f for f in ranked}
    assert by_shot[3].text < by_shot[0].text and by_shot[3].score < by_shot[0].score
    assert ranked[0].score >= ranked[-1].score

    editor = {"Authorization": f"Bearer {tokens['editor']}"}
    viewer = {"Authorization": f"Bearer {tokens['viewer']}"}
    r = client.get(f"/api/studio/media/covers/{aid}/frames", headers=viewer)
    assert r.status_code == 200 and len(r.json()["frames"]) == 5
    body = {"title": "市议会批准新河桥 River bridge approved", "aspects": ["16:9", "9:16", "3:4"], "variants": 2}
    assert client.post(f"/api/studio/media/covers/{aid}", headers=viewer, json=body).status_code == 403
    r = client.post(f"/api/studio/media/covers/{aid}", headers=editor, json=body)
    assert r.status_code == 200, r.text
    covers = r.json()["covers"]
    assert len(covers) == 6 and len({c["asset_id"] for c in covers}) == 6
    sizes = {"16:9": (1280, 720), "9:16": (720, 1280), "3:4": (900, 1200)}
    from PIL import Image

    with read_scope() as s:
        for c in covers:
            a = s.get(Asset, c["asset_id"])
            assert a.kind == "image" and a.parent_id == aid and a.meta["ai_generated"]
            assert a.meta["review_status"] == "pending" and a.meta["studio"]["task"] == "covers"
            sha = s.query(Rendition.blob_sha).filter_by(asset_id=a.id, kind="original").scalar()
            with Image.open(get_blob_store().path(sha)) as im:
                assert im.size == sizes[c["aspect"]]
    assert {c["keyframe_id"] for c in covers if c["aspect"] == "16:9"} == {ranked[0].keyframe_id, ranked[1].keyframe_id}
    r = client.post(f"/api/studio/media/covers/{aid}", headers=editor, json={**body, "aspects": ["4:3"]})
    assert r.status_code == 422 and "unknown aspect" in r.json()["detail"]

    # voice-over: English by Piper, Chinese by espeak-ng; the transcript of a source asset can be the script
    r = client.post("/api/studio/media/voiceover", headers=editor,
                    json={"text": "The city council approved the new river bridge.", "language": "en"})
    assert r.status_code == 200, r.text
    en = r.json()
    assert en["backend"] == "piper" and en["seconds"] > 1.0
    r = client.post("/api/studio/media/voiceover", headers=editor, json={"text": "市议会批准了新的河桥建设计划。"})
    zh = r.json()
    assert zh["backend"] == "espeak" and zh["language"] == "zh"
    r = client.post("/api/studio/media/voiceover", headers=editor, json={"sources": [aid], "backend": "espeak"})
    src = r.json()
    assert r.status_code == 200 and src["seconds"] > 3.0
    with read_scope() as s:
        for out in (en, zh, src):
            a = s.get(Asset, out["asset_id"])
            assert a.kind == "audio" and a.meta["ai_generated"] and a.meta["studio"]["model"] == out["backend"]
            sha = s.query(Rendition.blob_sha).filter_by(asset_id=a.id, kind="original").scalar()
            with wave.open(str(get_blob_store().path(sha))) as w:
                assert abs(w.getnframes() / w.getframerate() - out["seconds"]) < 0.05
        assert s.get(Asset, src["asset_id"]).parent_id == aid
    bad = [({"text": "Hello.", "backend": "piper", "language": "zh"}, "English only"),
           ({}, "give a script"), ({"sources": [99999]}, "unknown source")]
    for body, words in bad:
        r = client.post("/api/studio/media/voiceover", headers=editor, json=body)
        assert r.status_code == 422 and words in r.json()["detail"], (body, r.text)
    for page in (f"/studio/covers?asset={aid}", "/studio/voiceover", "/studio/covers"):
        assert client.get(page, headers=viewer).status_code == 200
    from conftest import SAMPLES

    article = ingest_file(SAMPLES / "sample-article.md", source="test").asset_id
    r = client.get(f"/studio/clips?asset={article}", headers=viewer)
    assert r.status_code == 422 and "needs a video or audio asset" in r.text
    assert client.get("/studio/subtitles?asset=99999", headers=viewer).status_code == 404
