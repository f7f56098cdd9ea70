"""Understanding (智能编目) through the real job system and the real packaged models: transcript, OCR,
faces and people, entities, tags and topics, embeddings, safety — and the bad inputs around them."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import run_ffmpeg
from PIL import Image, ImageDraw, ImageFont, ImageOps
from sqlalchemy import func, select
from typer.testing import CliRunner

import zhimei.jobs as jobs
from zhimei.jobs import enqueue_pipeline
from zhimei.library.assets import ingest_file
from zhimei.library.understand import (
    add_user_tag,
    list_people,
    merge_people,
    name_person,
    person_detail,
    remove_tag,
    split_faces,
    topic_dicts,
)
from zhimei.library.understand.common import unpack_vector
from zhimei.store import collect_garbage, get_blob_store, referenced_blobs, session_scope
from zhimei.store.models import Asset, Embedding, Entity, Face, Job, Person, SafetyScore, Segment, Tag, TagChange

CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")


def _skimage(name: str) -> Path:
    """A real photograph shipped in the scikit-image wheel (astronaut.png: Eileen Collins, NASA, public domain;
    coffee.png: a cup, no people); lfw_subset.npy: 25x25 real faces from Labeled Faces in the Wild."""
    spec = importlib.util.find_spec("skimage")
    assert spec is not None, "scikit-image (test dependency) is not installed"
    return Path(next(iter(spec.submodule_search_locations))) / "data" / name


def _status(asset_id: int) -> tuple[str, str | None]:
    with session_scope() as s:
        a = s.get(Asset, asset_id)
        return a.status, a.failure_reason


def _segments(asset_id: int, kind: str) -> list[Segment]:
    with session_scope() as s:
        return list(s.scalars(select(Segment).where(Segment.asset_id == asset_id, Segment.kind == kind)
                              .order_by(Segment.seq)))


def _count(model, asset_id: int) -> int:
    with session_scope() as s:
        return s.scalar(select(func.count()).select_from(model).where(model.asset_id == asset_id))


def _job(asset_id: int, stage: str) -> Job:
    with session_scope() as s:
        return s.scalars(select(Job).where(Job.asset_id == asset_id, Job.stage == stage)).one()


def _reprocess(asset_id: int) -> None:
    with session_scope() as s:
        enqueue_pipeline(s, s.get(Asset, asset_id), restart=True)
    jobs.drain()


def _font(size: int):
    return ImageFont.truetype(str(CJK_FONT), size)


# ---------------------------------------------------------------- the sample clip

@pytest.mark.slow
def test_sample_video_is_catalogued_and_a_rerun_does_not_duplicate(zhome, sample_video):
    with session_scope() as s:  # the default vocabulary, so that both runs hear the same hints
        assert len(topic_dicts(s)) == 10
    res = ingest_file(sample_video, source="test")
    jobs.drain()
    aid = res.asset_id
    assert _status(aid) == ("ready", None)

    lines = _segments(aid, "transcript")
    text = " ".join(s.text for s in lines).lower()
    assert "city council" in text and "bridge" in text
    council = next(s for s in lines if "city council" in s.text.lower())
    assert 1.0 <= council.start <= 4.5 and council.start < council.end <= 13.0
    assert all(0.0 <= s.start < s.end <= 13.1 for s in lines)
    assert [s.start for s in lines] == sorted(s.start for s in lines)
    assert all(s.language == "en" for s in lines)
    words = council.meta["words"]
    assert any(w["text"].strip(" .,").lower() == "council" for w in words)
    assert all(council.start - 0.5 <= w["start"] <= w["end"] <= council.end + 0.5 for w in words)

    # on-screen text: the colour card's "RIVER BRIDGE" during shot 3 (8.0-10.6 s)
    ocr = _segments(aid, "ocr")
    bridge = next(s for s in ocr if "RIVER BRIDGE" in s.text.upper())
    assert 7.5 <= bridge.start < bridge.end <= 11.0

    with session_scope() as s:
        asset = s.get(Asset, aid)
        assert asset.language == "en" and asset.meta["asr"]["segments"] == len(lines)
        ents = {(e.kind, e.text) for e in s.scalars(select(Entity).where(Entity.asset_id == aid))}
        council_ent = s.scalars(select(Entity).where(Entity.asset_id == aid, Entity.norm == "city council")).first()
        tags = {t.name: t for t in s.scalars(select(Tag).where(Tag.asset_id == aid))}
        embs = list(s.scalars(select(Embedding).where(Embedding.asset_id == aid)))
        n_text = s.scalar(select(func.count()).select_from(Segment).where(Segment.asset_id == aid))
    assert ("ORG", "City Council") in ents
    assert council_ent is not None and council.start <= council_ent.start < council_ent.end <= council.end
    assert {t.origin for t in tags.values()} == {"auto", "topic"}
    assert "river bridge" in tags and "city council" in tags
    assert any(t.origin == "topic" and t.name == "社会" for t in tags.values())  # a council approves a bridge
    assert sum(e.owner_kind == "asset" for e in embs) == 1
    assert sum(e.owner_kind == "segment" for e in embs) == n_text == len(lines) + len(ocr)
    for e in embs:
        v = unpack_vector(e.vector)
        assert e.dim == v.size == 384 and math.isclose(float(np.linalg.norm(v)), 1.0, abs_tol=1e-3)
    assert _count(SafetyScore, aid) == 5  # one per keyframe
    assert _count(Face, aid) == 0  # test patterns and colour cards: nobody

    # `zhimei asset show --json` carries the same understanding
    from zhimei.cli import app

    out = CliRunner().invoke(app, ["asset", "show", str(aid), "--json"])
    assert out.exit_code == 0, out.output
    d = json.loads(out.output)
    assert {"people", "faces", "entities", "tags", "tag_changes", "safety", "embeddings"} <= set(d)
    assert any(e["text"] == "City Council" for e in d["entities"]["summary"])
    assert d["embeddings"]["asset"] == 1 and d["safety"]["checked"] == 5

    # an editor's tag stays and a removed automatic tag stays removed; nothing doubles on a rerun
    with session_scope() as s:
        add_user_tag(s, aid, "桥梁 bridges", "editor-1")
        assert remove_tag(s, aid, "newsroom", "editor-2")
        s.add(Person(name="汪钢"))  # a named person: the archive's names reach speech recognition
    before = {m: _count(m, aid) for m in (Segment, Entity, Tag, Embedding, SafetyScore, Face)}
    _reprocess(aid)
    assert _status(aid) == ("ready", None)
    after = {m: _count(m, aid) for m in (Segment, Entity, Tag, Embedding, SafetyScore, Face)}
    assert after == before
    with session_scope() as s:
        tags = {t.name: t for t in s.scalars(select(Tag).where(Tag.asset_id == aid))}
        changes = [(c.tag, c.action, c.who) for c in s.scalars(select(TagChange).order_by(TagChange.id))]
    assert tags["桥梁 bridges"].origin == "user" and tags["桥梁 bridges"].created_by == "editor-1"
    assert "newsroom" not in tags
    assert changes == [("桥梁 bridges", "add", "editor-1"), ("newsroom", "remove", "editor-2")]
    # speech recognition got the archive's names (people, not topic labels) as preferred spellings
    assert _job(aid, "asr").result["hotwords"] == 1


# ---------------------------------------------------------------- on-screen text

def _caption_card(path: Path, size: tuple[int, int], bg: tuple[int, int, int], caption: str, shape: str) -> None:
    img = Image.new("RGB", size, bg)
    d = ImageDraw.Draw(img)
    w, h = size
    if shape == "circle":
        d.ellipse((w // 3, h // 8, 2 * w // 3, h // 2 + h // 8), fill=(240, 240, 240))
    else:
        for x in range(0, w, 60):
            d.rectangle((x, 0, x + 25, h // 2), fill=(30, 30, 30))
    d.rectangle((0, int(h * 0.72), w, int(h * 0.9)), fill=(180, 20, 40))
    d.text((40, int(h * 0.74)), caption, font=_font(int(h * 0.1)), fill=(255, 255, 255))
    img.save(path)


def test_image_with_chinese_and_english_text_gives_ocr_segments_and_no_faces(zhome, tmp_path):
    p = tmp_path / "poster.png"
    img = Image.new("RGB", (1200, 420), (255, 255, 255))
    d = ImageDraw.Draw(img)
    d.text((60, 60), "城市议会批准新大桥", font=_font(80), fill=(10, 10, 10))
    d.text((60, 240), "City council approves the bridge", font=_font(64), fill=(10, 10, 10))
    img.save(p)
    res = ingest_file(p, source="test")
    jobs.drain()
    assert _status(res.asset_id) == ("ready", None)
    ocr = _segments(res.asset_id, "ocr")
    texts = ["".join(s.text.split()) for s in ocr]
    assert any("城市议会批准新大桥" in t for t in texts), texts
    assert any("councilapproves" in t.lower() for t in texts), texts
    zh = next(s for s in ocr if "城市" in s.text)
    assert zh.language == "zh" and zh.start is None and zh.meta["score"] > 0.8
    assert zh.meta["box"][1] < 200  # the Chinese line is the upper one, in original pixels
    assert _count(Face, res.asset_id) == 0
    assert _job(res.asset_id, "faces").status == "done"
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Embedding).where(Embedding.asset_id == res.asset_id)) == \
            len(ocr) + 1


@pytest.mark.slow
def test_the_same_caption_on_two_shots_is_one_segment_spanning_both(zhome, tmp_path):
    caption = "突发新闻 大桥今日通车 BREAKING NEWS"
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    _caption_card(a, (640, 360), (20, 60, 140), caption, "circle")
    _caption_card(b, (640, 360), (230, 150, 20), caption, "stripes")
    clip = tmp_path / "caption.mp4"
    run_ffmpeg("-loop", "1", "-t", "3", "-i", str(a), "-loop", "1", "-t", "3", "-i", str(b), "-filter_complex",
               "[0][1]concat=n=2:v=1:a=0,format=yuv420p", "-r", "25", "-c:v", "libx264", "-preset", "veryfast",
               str(clip))
    res = ingest_file(clip, source="test")
    jobs.drain()
    aid = res.asset_id
    assert _status(aid) == ("ready", None)
    ocr = _segments(aid, "ocr")
    matches = [s for s in ocr if "大桥今日通车" in "".join(s.text.split())]
    assert len(matches) == 1, [(s.text, s.start, s.end) for s in ocr]
    seg = matches[0]
    assert seg.start == pytest.approx(0.0, abs=0.1) and seg.end == pytest.approx(6.0, abs=0.2)
    assert seg.meta["shots"] == [0, 1]
    # no audio track: an honest empty transcript with a note, nothing else stops
    assert _segments(aid, "transcript") == []
    with session_scope() as s:
        assert s.get(Asset, aid).meta["asr"]["note"] == "no audio track"


# ---------------------------------------------------------------- faces and people

def _lfw_face_far_from(tmp_path: Path, reference: list[float]) -> Path:
    """The LFW face (upscaled to 200 px) whose descriptor is farthest from `reference` — a clearly other person."""
    from zhimei.models import get_backend

    faces = get_backend("faces")
    data = np.load(_skimage("lfw_subset.npy"))
    best, best_d = None, -1.0
    for i in range(100):  # the first 100 are faces
        p = tmp_path / f"lfw-{i}.png"
        Image.fromarray((data[i] * 255).astype("uint8")).resize((200, 200), Image.Resampling.BICUBIC) \
            .convert("RGB").save(p)
        found = faces.detect(p)
        if found:
            d = faces.distance(found[0].embedding, reference)
            if d > best_d:
                best, best_d = p, d
        else:
            p.unlink()
    assert best is not None and best_d > 2 * faces.match_distance * 0.6
    return best


@pytest.mark.slow
def test_faces_cluster_across_images_and_video_and_people_can_be_named_merged_and_split(zhome, tmp_path):
    astronaut = _skimage("astronaut.png")
    # 1. the photo: one face, one new person with a face-crop thumbnail
    first = ingest_file(astronaut, source="test").asset_id
    jobs.drain()
    with session_scope() as s:
        (face,) = s.scalars(select(Face).where(Face.asset_id == first)).all()
        assert face.shot_seq is None and face.time is None and face.w > 60 and 150 < face.x < 220
        assert face.person_id is not None and face.thumb_sha
        person_id = face.person_id
        reference = unpack_vector(face.descriptor).tolist()
        assert s.get(Person, person_id).thumb_sha == face.thumb_sha
    assert get_blob_store().exists(face.thumb_sha)

    # 2. a mirrored, smaller, recompressed copy: the same person
    copy = tmp_path / "astronaut-copy.jpg"
    ImageOps.mirror(Image.open(astronaut).convert("RGB")).resize((384, 384)).save(copy, quality=80)
    second = ingest_file(copy, source="test").asset_id
    # 3. a video: the astronaut on a wide frame, then a cup of coffee (no faces)
    wide = tmp_path / "wide.png"
    canvas = Image.new("RGB", (1280, 720), (25, 25, 30))
    canvas.paste(Image.open(astronaut).convert("RGB").resize((600, 600)), (340, 60))
    canvas.save(wide)
    clip = tmp_path / "interview.mp4"
    run_ffmpeg("-loop", "1", "-t", "3", "-i", str(wide), "-loop", "1", "-t", "3", "-i", str(_skimage("coffee.png")),
               "-filter_complex", "[0]scale=1280:720,setsar=1[a];[1]scale=1280:720,setsar=1[b];"
               "[a][b]concat=n=2:v=1:a=0,format=yuv420p", "-r", "25", "-c:v", "libx264", "-preset", "veryfast",
               str(clip))
    video = ingest_file(clip, source="test").asset_id
    # 4. a cup of coffee: nobody; 5. somebody else
    coffee = ingest_file(_skimage("coffee.png"), source="test").asset_id
    other = ingest_file(_lfw_face_far_from(tmp_path, reference), source="test").asset_id
    jobs.drain()
    for aid in (second, video, coffee, other):
        assert _status(aid) == ("ready", None)
    assert _count(Face, coffee) == 0
    with session_scope() as s:
        by_asset = {aid: [f.person_id for f in s.scalars(select(Face).where(Face.asset_id == aid))]
                    for aid in (first, second, video, other)}
        vface = s.scalars(select(Face).where(Face.asset_id == video)).one()
        assert vface.shot_seq == 0 and 0.0 <= vface.time < 3.0
    assert by_asset[second] == [person_id] and by_asset[video] == [person_id]
    assert len(by_asset[other]) == 1 and by_asset[other][0] != person_id
    stranger = by_asset[other][0]

    with session_scope() as s:
        items, total = list_people(s)
        assert total == 2 and items[0]["id"] == person_id and items[0]["faces"] == 3 and items[0]["assets"] == 3
        d = person_detail(s, person_id)
        assert {a["asset_id"] for a in d["appearances"]} == {first, second, video}
        assert next(a for a in d["appearances"] if a["asset_id"] == video)["time"] == vface.time
        name_person(s, person_id, "  Eileen   Collins ", "editor-1")
    with session_scope() as s:
        p = s.get(Person, person_id)
        assert (p.name, p.named_by) == ("Eileen Collins", "editor-1")

    # split the video's face off, then reprocess the video: the face stays where a person put it
    with session_scope() as s:
        new = split_faces(s, [vface.id], "editor-2", name="")
        assert new["faces"] == 1 and s.get(Person, person_id).face_count == 2
    _reprocess(video)
    with session_scope() as s:
        again = s.scalars(select(Face).where(Face.asset_id == video)).one()
        assert again.person_id == new["id"] and again.pinned
        assert s.scalar(select(func.count()).select_from(Person)) == 3
        # merge the split-off person and the stranger back into Eileen Collins
        merged = merge_people(s, person_id, [new["id"], stranger], "editor-1")
        assert merged["faces"] == 4 and merged["name"] == "Eileen Collins"
        assert s.scalar(select(func.count()).select_from(Person)) == 1

    # face thumbnails are never garbage
    with session_scope() as s:
        refs = referenced_blobs(s)
        thumbs = set(s.scalars(select(Face.thumb_sha)))
        assert thumbs <= refs
        deleted = collect_garbage(s, get_blob_store(), grace_seconds=0)
    assert not thumbs & set(deleted)
    assert all(get_blob_store().exists(t) for t in thumbs)


# ---------------------------------------------------------------- bad input

@pytest.mark.slow
def test_silence_music_and_a_third_language(zhome, tmp_path):
    silence, music, french = tmp_path / "silence.wav", tmp_path / "tones.wav", tmp_path / "french.wav"
    run_ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "6", str(silence))
    run_ffmpeg("-f", "lavfi", "-i", "sine=f=440:d=2", "-f", "lavfi", "-i", "sine=f=660:d=2", "-f", "lavfi", "-i",
               "sine=f=550:d=2", "-filter_complex", "[0][1][2]concat=n=3:v=0:a=1,volume=0.5", "-ar", "16000",
               str(music))
    subprocess.run(["espeak-ng", "-v", "fr", "-w", str(french), "Bonjour à tous. Le conseil municipal a approuvé "
                    "la construction du nouveau pont sur la rivière. Les travaux commenceront en mars."], check=True)
    ids = {p.name: ingest_file(p, source="test").asset_id for p in (silence, music, french)}
    jobs.drain()
    for name in ("silence.wav", "tones.wav"):
        aid = ids[name]
        assert _status(aid) == ("ready", None)
        assert _segments(aid, "transcript") == []
        with session_scope() as s:
            assert s.get(Asset, aid).meta["asr"]["note"].startswith("no speech found")
        assert _count(Embedding, aid) <= 1  # a title vector at most
    fr = ids["french.wav"]
    assert _status(fr) == ("ready", None)
    lines = _segments(fr, "transcript")
    assert lines and all(s.language == "fr" for s in lines)
    assert "municipal" in " ".join(s.text for s in lines).lower()


def _png_header_only(path: Path, side: int) -> None:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    body = zlib.compress(b"\x00" * (side // 8 + 1) * 64)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b""))


def test_a_20000_pixel_square_image_is_refused_before_any_model_runs(zhome, tmp_path):
    p = tmp_path / "huge.png"
    _png_header_only(p, 20_000)
    aid = ingest_file(p, source="test").asset_id
    jobs.drain()
    status, reason = _status(aid)
    assert status == "failed" and "400,000,000" in reason and reason.startswith("image_meta")
    for stage in ("ocr", "faces", "image_safety", "entities", "tags", "embed"):
        assert _job(aid, stage).status == "cancelled"


@pytest.mark.slow
def test_a_large_photo_is_downscaled_before_ocr_and_faces(zhome, tmp_path):
    p = tmp_path / "large.jpg"
    img = Image.new("RGB", (9000, 6000), (250, 250, 250))
    d = ImageDraw.Draw(img)
    d.text((400, 2400), "新闻发布会 PRESS CONFERENCE", font=_font(420), fill=(0, 0, 0))
    img.save(p, quality=85)
    del img, d
    aid = ingest_file(p, source="test").asset_id
    jobs.drain()
    assert _status(aid) == ("ready", None)
    ocr = _segments(aid, "ocr")
    joined = "".join("".join(s.text.split()) for s in ocr)
    assert "新闻发布会" in joined and "CONFERENCE" in joined.upper()
    left, top, right, bottom = next(s for s in ocr if "新闻" in s.text).meta["box"]
    assert 300 <= left <= 800 and 2300 <= top <= 2900 and right > 2500  # original pixels, not working ones
    assert _count(Face, aid) == 0


def test_a_stage_whose_model_is_missing_fails_clearly(zhome, monkeypatch, tmp_path):
    monkeypatch.setenv("ZHIMEI_OCR_BACKEND", "no-such-ocr")
    from zhimei.settings import reset_settings

    reset_settings()
    p = tmp_path / "plain.png"
    Image.new("RGB", (320, 200), (200, 200, 200)).save(p)
    aid = ingest_file(p, source="test").asset_id
    jobs.drain()
    status, reason = _status(aid)
    assert status == "failed"
    assert reason.startswith("ocr: the ocr model is not available") and "no-such-ocr" in reason
    assert _job(aid, "ocr").attempts == 1  # permanent: not retried


_LONG_RUN = """
import json, resource, sys
from zhimei.library.assets import ingest_file
import zhimei.jobs as jobs
aid = ingest_file(sys.argv[1], source="test").asset_id
jobs.drain()
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(json.dumps({"asset_id": aid, "peak_kib": hwm}))
"""


@pytest.mark.slow
def test_a_three_hour_recording_is_transcribed_in_bounded_memory(zhome, tmp_path):
    src = tmp_path / "three-hours.flac"  # silence with a quiet hum: tiny on disk, 3 h long
    run_ffmpeg("-f", "lavfi", "-i", "sine=f=50:r=16000,volume=0.001", "-t", "10800", "-ac", "1", str(src))
    out = subprocess.run([sys.executable, "-c", _LONG_RUN, str(src)], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    info = json.loads(out.stdout.strip().splitlines()[-1])
    aid = info["asset_id"]
    assert _status(aid) == ("ready", None)
    with session_scope() as s:
        asset = s.get(Asset, aid)
        assert asset.duration == pytest.approx(10800, abs=1)
        assert asset.meta["asr"]["segments"] == 0
    # the 16 kHz WAV alone is 345 MB (690 MB as float32): it is read in windows, never whole
    assert info["peak_kib"] < 1_200_000, info


def test_people_cli_lists_names_and_refuses_bad_requests(zhome):
    from zhimei.library.people_cli import people_app

    with session_scope() as s:
        a, b = Person(name=""), Person(name="")
        s.add_all([a, b])
        s.flush()
        ids = (a.id, b.id)
    runner = CliRunner()
    out = runner.invoke(people_app, ["name", str(ids[0]), "李强", "--who", "desk"])
    assert out.exit_code == 0 and "李强" in out.output
    out = runner.invoke(people_app, ["list", "--json"])
    assert out.exit_code == 0
    listed = json.loads(out.output)
    assert listed["total"] == 1 and listed["items"][0]["name"] == "李强" and listed["items"][0]["named_by"] == "desk"
    out = runner.invoke(people_app, ["merge", str(ids[0]), str(ids[1])])
    assert out.exit_code == 0
    out = runner.invoke(people_app, ["show", str(ids[1])])
    assert out.exit_code == 1 and f"no person {ids[1]}" in out.output
    out = runner.invoke(people_app, ["split", "424242"])
    assert out.exit_code == 1 and "no face 424242" in out.output
