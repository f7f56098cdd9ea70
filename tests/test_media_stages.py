"""The audio/video/image stages through the real job system, real ffmpeg and real PySceneDetect."""

from __future__ import annotations

import io
import json
import os
import subprocess
import wave
from pathlib import Path

import pytest
from conftest import SAMPLES, run_ffmpeg
from PIL import Image, ImageStat
from sqlalchemy import func, select

import zhimei.jobs as jobs
from zhimei.library.assets import ingest_file
from zhimei.library.media.ffmpeg import FFmpegError
from zhimei.library.media.ffmpeg import run_ffmpeg as run_ffmpeg_progress
from zhimei.library.media.shoteval import read_scene_list
from zhimei.settings import get_settings
from zhimei.store.blobs import get_blob_store
from zhimei.store.db import session_scope
from zhimei.store.models import Asset, Job, Keyframe, Rendition, Shot
from zhimei.store.refs import referenced_blobs

SAMPLE_PHOTO = SAMPLES / "sample-photo.jpg"


def _renditions(session, asset_id: int) -> dict[str, Rendition]:
    return {r.kind: r for r in session.scalars(select(Rendition).where(Rendition.asset_id == asset_id))}


def _ffprobe(path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", "-show_format",
                          str(path)], capture_output=True, check=True)
    return json.loads(out.stdout)


def _counts(asset_id: int) -> tuple[int, int, int, int]:
    with session_scope() as s:
        return (s.scalar(select(func.count()).select_from(Rendition).where(Rendition.asset_id == asset_id)),
                s.scalar(select(func.count()).select_from(Shot).where(Shot.asset_id == asset_id)),
                s.scalar(select(func.count()).select_from(Keyframe).where(Keyframe.asset_id == asset_id)),
                len(set(get_blob_store().keys())))


def test_sample_video_pipeline_and_rerun(zhome, sample_video, tmp_path):
    res = ingest_file(sample_video, source="test")
    assert res.kind == "video"
    jobs.drain()
    store = get_blob_store()
    with session_scope() as s:
        asset = s.get(Asset, res.asset_id)
        assert asset.status == "ready", asset.failure_reason
        assert asset.duration == pytest.approx(13.0, abs=0.1)
        assert (asset.width, asset.height) == (640, 360)
        probe = asset.meta["probe"]
        assert probe["video_codec"] == "h264" and probe["audio_codec"] == "aac" and probe["has_audio"]
        assert probe["streams"] and probe["bit_rate"] > 0
        rend = _renditions(s, asset.id)
        assert {"original", "proxy", "audio16k", "thumbnail"} <= set(rend)
        assert rend["proxy"].mime == "video/mp4" and rend["audio16k"].mime == "audio/wav"
        assert rend["thumbnail"].mime == "image/jpeg" and rend["thumbnail"].width == get_settings().thumbnail_width
        shots = list(s.scalars(select(Shot).where(Shot.asset_id == asset.id).order_by(Shot.seq)))
        kfs = list(s.scalars(select(Keyframe).where(Keyframe.asset_id == asset.id).order_by(Keyframe.shot_seq)))
        proxy_sha, wav_sha = rend["proxy"].blob_sha, rend["audio16k"].blob_sha
    # proxy: H.264/AAC, even size, yuv420p, moov before mdat (faststart)
    with store.local_path(proxy_sha) as p:
        info = _ffprobe(p)
        head = p.read_bytes()[:200_000]
    v = next(st for st in info["streams"] if st["codec_type"] == "video")
    a = next(st for st in info["streams"] if st["codec_type"] == "audio")
    assert v["codec_name"] == "h264" and v["pix_fmt"] == "yuv420p" and a["codec_name"] == "aac"
    assert v["width"] % 2 == 0 and v["height"] % 2 == 0 and v["height"] <= get_settings().proxy_height
    assert 0 <= head.find(b"moov") < head.find(b"mdat")
    with store.local_path(wav_sha) as p, wave.open(str(p)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        assert w.getnframes() / 16000 == pytest.approx(13.0, abs=0.2)
    # shots match the sample's own scene list; one keyframe per shot, inside it
    truth = read_scene_list(SAMPLES / "newsroom-sample_scenes.csv")
    assert [sh.start for sh in shots[1:]] == pytest.approx(truth, abs=0.1)
    assert shots[0].start == 0 and shots[-1].end == pytest.approx(13.0, abs=0.1)
    assert [k.shot_seq for k in kfs] == [sh.seq for sh in shots]
    for sh, k in zip(shots, kfs, strict=True):
        assert sh.start <= k.time < sh.end
        img = Image.open(io.BytesIO(store.read_bytes(k.blob_sha)))
        assert img.format == "JPEG" and img.size == (k.width, k.height)
        thumb = Image.open(io.BytesIO(store.read_bytes(k.thumb_sha))).convert("L")
        assert ImageStat.Stat(thumb).mean[0] > get_settings().shot_dark_level  # not a black frame
    before = _counts(res.asset_id)

    # run the whole pipeline again: same rows, same blobs
    with session_scope() as s:
        jobs.enqueue_pipeline(s, s.get(Asset, res.asset_id), restart=True)
    assert jobs.drain() == len(jobs.registry.graph_for("video"))  # every stage ran once, none twice
    assert _counts(res.asset_id) == before
    with session_scope() as s:
        assert s.get(Asset, res.asset_id).status == "ready"
        assert set(store.keys()) == referenced_blobs(s)

    # retry of one stage also replaces, never duplicates
    with session_scope() as s:
        kf_job = s.scalars(select(Job).where(Job.asset_id == res.asset_id, Job.stage == "keyframes")).one()
        kf_job.status = "failed"
    assert jobs.retry(kf_job.id)
    jobs.drain()
    assert _counts(res.asset_id) == before


def test_ffmpeg_progress_is_reported(sample_video, tmp_path):
    seen: list[float] = []
    written = run_ffmpeg_progress(["-i", str(sample_video), "-vn", "-ac", "1", "-ar", "16000",
                                   str(tmp_path / "a.wav")], duration=13.0, on_progress=seen.append)
    assert written == pytest.approx(13.0, abs=0.2)
    assert seen and seen == sorted(seen) and seen[-1] > 50


def _child_commands() -> set[str]:
    """Names of this process's live child processes (from /proc)."""
    names = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            comm = stat.read_text().split("(", 1)[1].rsplit(")", 1)[0]
        except (OSError, IndexError):
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z":
            names.add(comm)
    return names


def test_ffmpeg_stopped_by_progress_callback_leaves_no_process(sample_video, tmp_path):
    class Stop(Exception):
        pass

    def cancel(_p: float) -> None:
        raise Stop

    with pytest.raises(Stop):
        run_ffmpeg_progress(["-re", "-i", str(sample_video), "-f", "null", "-"], duration=13.0, on_progress=cancel)
    assert "ffmpeg" not in _child_commands()
    with pytest.raises(FFmpegError, match="ffmpeg failed"):
        run_ffmpeg_progress(["-i", str(tmp_path / "missing.mp4"), str(tmp_path / "x.wav")])


def test_sample_photo_exif_xmp_thumbnail(zhome):
    res = ingest_file(SAMPLE_PHOTO)
    assert res.kind == "image"
    jobs.drain()
    with session_scope() as s:
        asset = s.get(Asset, res.asset_id)
        assert asset.status == "ready", asset.failure_reason
        assert (asset.width, asset.height) == (800, 600)
        exif = asset.meta["exif"]
        assert exif["Make"] == "Zhimei" and exif["Model"] == "SampleCam 1"
        assert exif["DateTimeOriginal"] == "2024:03:14 07:12:45" and exif["Orientation"] == 1
        json.dumps(asset.meta)  # JSON-safe
        assert "<x:xmpmeta" in asset.meta["xmp"]
        xf = asset.meta["xmp_fields"]
        assert xf["title"] == "New river bridge at dawn"
        assert xf["creator"] == ["Sample Photographer"] and xf["credit"] == "Zhimei Sample Desk"
        assert asset.phash and len(asset.phash) == 16 and asset.duplicate_of is None
        thumb = _renditions(s, asset.id)["thumbnail"]
        assert (thumb.width, thumb.height) == (320, 240)
        thumb_sha = thumb.blob_sha
    assert Image.open(io.BytesIO(get_blob_store().read_bytes(thumb_sha))).size == (320, 240)


def test_near_duplicate_and_orientation(zhome, tmp_path):
    # a resized, recompressed copy of the sample photo is a near-duplicate (different bytes)
    copy = tmp_path / "copy.jpg"
    Image.open(SAMPLE_PHOTO).resize((640, 480)).save(copy, quality=60)
    other = tmp_path / "other.png"
    run_ffmpeg("-f", "lavfi", "-i", "mandelbrot=s=400x300", "-frames:v", "1", str(other))
    first = ingest_file(SAMPLE_PHOTO).asset_id
    dup = ingest_file(copy).asset_id
    different = ingest_file(other).asset_id
    # a landscape picture stored sideways with EXIF Orientation 6 (rotate 90° clockwise to view)
    rot = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new("RGB", (400, 200), (200, 30, 30)).save(rot, exif=exif.tobytes())
    rotated = ingest_file(rot).asset_id
    jobs.drain()
    with session_scope() as s:
        a_dup, a_other = s.get(Asset, dup), s.get(Asset, different)
        assert a_dup.status == "ready" and a_dup.duplicate_of == first
        nd = a_dup.meta["near_duplicate"]
        assert nd["asset_id"] == first and 0 <= nd["distance"] <= get_settings().near_duplicate_distance
        assert a_other.status == "ready" and a_other.duplicate_of is None and "near_duplicate" not in a_other.meta
        a_rot = s.get(Asset, rotated)
        assert (a_rot.width, a_rot.height) == (200, 400)
        thumb = _renditions(s, rotated)["thumbnail"]
        assert thumb.height > thumb.width
        sha = thumb.blob_sha
    w, h = Image.open(io.BytesIO(get_blob_store().read_bytes(sha))).size
    assert h > w
