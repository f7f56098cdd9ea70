"""Bad media fails with a reason a person can read, leaves no blob behind, and never blocks the next job."""

from __future__ import annotations

import os
import random
import struct
import zlib
from pathlib import Path

import pytest
from conftest import SAMPLES, run_ffmpeg
from sqlalchemy import select

import zhimei.jobs as jobs
from zhimei.library.assets import IngestError, ingest_file
from zhimei.library.media.images import count_gif_frames
from zhimei.store.blobs import get_blob_store
from zhimei.store.db import session_scope
from zhimei.store.models import Asset, Rendition, Shot
from zhimei.store.refs import referenced_blobs


def _gif(path: Path, frames: int) -> Path:
    """An animated 1x1 GIF with `frames` frames, written block by block (about 25 bytes a frame)."""
    frame = (b"!\xf9\x04\x00\x01\x00\x00\x00"  # graphic control: 1/100 s
             b",\x00\x00\x00\x00\x01\x00\x01\x00\x00"  # image descriptor 1x1
             b"\x02\x02D\x01\x00")  # LZW data
    head = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00"
            b"!\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00")
    path.write_bytes(head + frame * frames + b";")
    return path


def _png_bomb(path: Path, side: int = 30000) -> Path:
    """A side x side 1-bit PNG of zeros: tiny on disk, side² pixels when decoded."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" * (1 + (side + 7) // 8)
    comp = zlib.compressobj(9)
    rows_per = 2000
    body = b"".join(comp.compress(row * min(rows_per, side - i)) for i in range(0, side, rows_per)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return path


def _assert_failed(asset_id: int, *needles: str) -> str:
    with session_scope() as s:
        asset = s.get(Asset, asset_id)
        assert asset.status == "failed"
        reason = asset.failure_reason or ""
        kinds = set(s.scalars(select(Rendition.kind).where(Rendition.asset_id == asset_id)))
        assert kinds == {"original"}, kinds  # nothing but the original remains
    assert reason and "Traceback" not in reason
    for n in needles:
        assert n.lower() in reason.lower(), reason
    return reason


def _assert_no_orphans() -> None:
    with session_scope() as s:
        assert set(get_blob_store().keys()) == referenced_blobs(s)


def test_count_gif_frames_stops_early(tmp_path):
    gif = _gif(tmp_path / "a.gif", 3000)
    assert count_gif_frames(gif, 10_000) == 3000
    assert count_gif_frames(gif, 100) == 101


def test_bad_video_and_audio_files(zhome, sample_video, tmp_path):
    data = sample_video.read_bytes()
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(data[: len(data) // 2])
    rng = random.Random(7)
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + rng.randbytes(200_000))
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(IngestError, match="empty"):
        ingest_file(empty)

    ids = {"truncated": ingest_file(truncated).asset_id, "garbage": ingest_file(garbage).asset_id}
    jobs.drain()
    reason = _assert_failed(ids["truncated"], "truncated")
    assert reason.startswith("probe:")
    _assert_failed(ids["garbage"], "corrupt")
    _assert_no_orphans()

    # the queue is not stuck: good files after bad ones finish
    silent = tmp_path / "silent.mp4"  # video without an audio track
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=3", "-c:v", "libx264", "-preset", "ultrafast",
               str(silent))
    wav = tmp_path / "tone.wav"
    run_ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-ac", "2", "-ar", "44100", str(wav))
    mp3 = tmp_path / "tone.mp3"
    run_ffmpeg("-f", "lavfi", "-i", "sine=frequency=300:duration=2", "-c:a", "libmp3lame", str(mp3))
    m4v = tmp_path / "voice-only.mp4"  # an MP4 holding only audio: sniffed as video, treated as audio
    run_ffmpeg("-f", "lavfi", "-i", "sine=frequency=500:duration=2", "-c:a", "aac", "-f", "mp4", str(m4v))
    good = {name: ingest_file(p).asset_id for name, p in
            (("silent", silent), ("wav", wav), ("mp3", mp3), ("m4v", m4v))}
    jobs.drain()
    with session_scope() as s:
        for name, aid in good.items():
            asset = s.get(Asset, aid)
            assert asset.status == "ready", (name, asset.failure_reason)
        kinds = {name: set(s.scalars(select(Rendition.kind).where(Rendition.asset_id == aid)))
                 for name, aid in good.items()}
        assert kinds["silent"] == {"original", "proxy", "thumbnail"}  # no audio16k
        assert s.get(Asset, good["silent"]).meta["probe"]["has_audio"] is False
        for name in ("wav", "mp3", "m4v"):
            assert {"original", "proxy", "audio16k"} <= kinds[name] and "thumbnail" not in kinds[name]
            assert s.get(Asset, good[name]).kind == "audio"
            assert s.get(Asset, good[name]).duration == pytest.approx(2.0, abs=0.1)
        assert s.get(Asset, good["m4v"]).meta["probe"]["note"].startswith("no video stream")
        assert s.get(Asset, good["m4v"]).mime == "audio/mp4"
        assert s.scalars(select(Shot).where(Shot.asset_id == good["m4v"])).first() is None
    _assert_no_orphans()


def test_bad_images(zhome, tmp_path):
    gif = _gif(tmp_path / "many.gif", 50_000)
    assert os.path.getsize(gif) < 2_000_000
    bomb = _png_bomb(tmp_path / "bomb.png")
    assert os.path.getsize(bomb) < 1_000_000
    photo = (SAMPLES / "sample-photo.jpg").read_bytes()
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0" + random.Random(3).randbytes(20_000))
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(photo[: len(photo) // 2])
    ids = {p.name: ingest_file(p).asset_id for p in (gif, bomb, corrupt, truncated)}
    jobs.drain()
    _assert_failed(ids["many.gif"], "50,000 frames", "2,000")
    _assert_failed(ids["bomb.png"], "900,000,000 pixels", "200,000,000")
    _assert_failed(ids["corrupt.jpg"], "corrupt")
    _assert_failed(ids["truncated.jpg"], "truncated")
    _assert_no_orphans()
    ok = ingest_file(SAMPLES / "sample-photo.jpg").asset_id
    jobs.drain()
    with session_scope() as s:
        assert s.get(Asset, ok).status == "ready"


def test_ffmpeg_failure_leaves_nothing(zhome, monkeypatch, sample_video):
    from zhimei.settings import reset_settings

    monkeypatch.setenv("ZHIMEI_PROXY_PRESET", "no-such-preset")
    reset_settings()
    aid = ingest_file(sample_video).asset_id
    jobs.drain()
    _assert_failed(aid, "normalize:", "ffmpeg failed")
    _assert_no_orphans()
