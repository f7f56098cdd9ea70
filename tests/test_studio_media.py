"""Studio media: subtitle rules (Chinese and English), SRT/WebVTT, and on the ingested sample video: the track,
its REST endpoints, saving with lineage, clip suggestions and MP4 export (landscape and 9:16), bad input."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import zhimei.jobs as jobs
from zhimei.library.assets import ingest_file
from zhimei.studio.errors import StudioError
from zhimei.studio.media.subtitles import (
    EN_MAX_CPS,
    EN_MAX_LINE,
    MAX_DURATION,
    MIN_DURATION,
    ZH_MAX_CPS,
    ZH_MAX_LINE,
    Cue,
    build_cues,
    check_subtitles,
    cues_from_dicts,
    parse_subtitles,
    text_width,
    to_srt,
    to_vtt,
    tokens_from_segments,
)

EN_TALK = [
    (0.5, 4.2, "Good evening and welcome to the late news from the harbour city.", None),
    (4.6, 13.0, "Tonight the mayor announced a new plan for public transport, with three tram lines, "
                "forty electric buses and cheaper tickets for students and pensioners.", None),
    (13.8, 14.1, "Yes.", None),
    (15.8, 21.5, "Critics say the plan is too expensive, but the council will vote on it next month.", None),
]
ZH_TALK = [
    (0.0, 6.0, "今天上午，市议会以多数票批准了新的跨江大桥建设计划，预计总投资超过三十亿元。", None),
    (6.3, 11.0, "工程将于明年三月正式开工，预计历时两年，建成后将大大缓解早晚高峰的交通压力。", None),
    (11.2, 13.0, "居民们对此表示欢迎。", None),
]


def _lines_ok(cues: list[Cue], lang: str) -> None:
    limit = ZH_MAX_LINE if lang == "zh" else EN_MAX_LINE
    for c in cues:
        assert 1 <= len(c.lines) <= 2, c
        assert all(text_width(ln, lang) <= limit for ln in c.lines), c


@pytest.mark.parametrize(("talk", "lang"), [(EN_TALK, "en"), (ZH_TALK, "zh")])
def test_cues_obey_the_rules(talk, lang):
    cues = build_cues(tokens_from_segments(talk, lang), lang, fps=25.0, duration=22.0)
    assert check_subtitles(cues, lang, fps=25.0) == []
    _lines_ok(cues, lang)
    text = "".join(c.text.replace("\n", "" if lang == "zh" else " ") for c in cues)
    if lang == "en":  # every word is kept, in order
        assert text.replace(" ", "") == "".join(t[2] for t in talk).replace(" ", "")
    else:  # Chinese style: commas and full stops become spaces or vanish at line ends; nothing else is lost
        assert text.replace(" ", "") == "".join(t[2] for t in talk).replace("，", "").replace("。", "")
    for c in cues:
        n = len(c.text.replace("\n", "").replace(" ", "")) if lang == "zh" else len(c.text.replace("\n", " "))
        assert n / (c.end - c.start) <= (ZH_MAX_CPS if lang == "zh" else EN_MAX_CPS) + 1e-6
        assert MIN_DURATION <= c.end - c.start <= MAX_DURATION
    # the short "Yes." gets its minimum time on screen by borrowing the silence around it
    if lang == "en":
        yes = next(c for c in cues if c.text == "Yes.")
        assert yes.end - yes.start >= MIN_DURATION
    # a cue ends where a sentence ends whenever the next sentence would not fit with it
    assert cues[0].text.endswith((".", "city.")) or lang == "zh"


def test_check_flags_every_rule():
    bad = [
        Cue(0.0, 0.4, ["x" * 50]),  # too short, too long a line, too fast
        Cue(0.38, 8.0, ["one", "two", "three"]),  # overlaps the one before, 3 lines, too long on screen
        Cue(8.02, 9.5, ["gap too small"]),
    ]
    rules = {(v.cue, v.rule) for v in check_subtitles(bad, "en", fps=25.0)}
    assert {(1, "min_duration"), (1, "line_length"), (1, "reading_speed"), (1, "overlap"), (2, "lines"),
            (2, "max_duration"), (2, "gap")} <= rules
    zh = [Cue(0.0, 1.0, ["这一行字幕显然已经超过了十六个汉字的长度限制"])]
    rules = {v.rule for v in check_subtitles(zh, None)}
    assert {"line_length", "reading_speed"} <= rules


def test_srt_and_vtt_round_trip():
    cues = build_cues(tokens_from_segments(ZH_TALK, "zh"), "zh")
    srt, vtt = to_srt(cues), to_vtt(cues)
    assert srt.startswith("1\n00:00:00,000 --> ")
    assert vtt.startswith("WEBVTT\n\n1\n00:00:00.000 --> ")
    for text in (srt, vtt):
        back = parse_subtitles(text)
        assert [(c.start, c.end, c.lines) for c in back] == [(c.start, c.end, c.lines) for c in cues]
    with pytest.raises(StudioError, match="no 'start --> end'"):
        parse_subtitles("1\nhello\n")
    with pytest.raises(StudioError, match="cue 1 has no text"):
        cues_from_dicts([{"start": 0, "end": 1, "lines": ["  "]}])
    with pytest.raises(StudioError, match="before end"):
        cues_from_dicts([{"start": 2, "end": 1, "text": "x"}])


def test_a_failed_render_leaves_no_file(tmp_path, zhome):
    from zhimei.library.media.ffmpeg import FFmpegError
    from zhimei.studio.media.export import CropPlan, render_video

    src = tmp_path / "broken.mp4"
    src.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 500)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    plan = CropPlan(640, 360, 640, 360, [(0.0, 0)], 0, "none")
    with pytest.raises(FFmpegError):
        render_video(src, out_dir / "clip.mp4", 0.0, 2.0, plan=plan, threads=1)
    assert list(out_dir.iterdir()) == []


@pytest.fixture
def sample_asset(zhome, sample_video) -> int:
    aid = ingest_file(sample_video, source="test").asset_id
    jobs.drain()
    return aid


def _probe(path: Path) -> dict[str, str]:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "stream=width,height,codec_name:format=duration", "-of", "default=nw=1", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return dict(line.split("=", 1) for line in out.split())


def _blob_path(asset_id: int) -> Path:
    from sqlalchemy import select

    from zhimei.store.blobs import get_blob_store
    from zhimei.store.db import read_scope
    from zhimei.store.models import Rendition

    with read_scope() as s:
        sha = s.scalars(select(Rendition.blob_sha).where(Rendition.asset_id == asset_id,
                                                         Rendition.kind == "original")).one()
    return get_blob_store().path(sha)


@pytest.mark.slow
def test_sample_video_subtitles_clips_and_export(sample_asset, client, tokens):
    from zhimei.store.db import read_scope
    from zhimei.store.models import Asset
    from zhimei.studio.media import export_clip, subtitle_track, suggest_clips

    aid = sample_asset
    track = subtitle_track(aid)
    assert track.language == "en"
    assert track.violations == []
    assert len(track.cues) >= 3
    assert "River Bridge" in " ".join(c.text.replace("\n", " ") for c in track.cues)
    _lines_ok(track.cues, "en")

    viewer = {"Authorization": f"Bearer {tokens['viewer']}"}
    editor = {"Authorization": f"Bearer {tokens['editor']}"}
    r = client.get(f"/api/studio/media/subtitles/{aid}", headers=viewer)
    assert r.status_code == 200 and r.json()["violations"] == []
    r = client.get(f"/api/studio/media/subtitles/{aid}/track.vtt", headers=viewer)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/vtt")
    assert len(parse_subtitles(r.text)) == len(track.cues)
    r = client.post("/api/studio/media/subtitles/check", headers=viewer,
                    json={"cues": [{"start": 0, "end": 0.3, "lines": ["far too short"]}], "language": "en"})
    assert r.status_code == 200 and {v["rule"] for v in r.json()["violations"]} >= {"min_duration"}

    # saving needs the editor role; the output is a new AI-marked asset with lineage, pending review
    assert client.post(f"/api/studio/media/subtitles/{aid}/save", headers=viewer, json={}).status_code == 403
    r = client.post(f"/api/studio/media/subtitles/{aid}/save", headers=editor, json={"format": "vtt"})
    assert r.status_code == 200, r.text
    saved = r.json()
    assert saved["ai_generated"] and saved["review_status"] == "pending"
    assert saved["studio"]["sources"] == [aid] and saved["studio"]["task"] == "subtitles"
    again = client.post(f"/api/studio/media/subtitles/{aid}/save", headers=editor, json={"format": "vtt"}).json()
    assert again["asset_id"] == saved["asset_id"]  # same content: same asset, no duplicate

    # clips: the 13 s sample is one short item; with a 3 s minimum the clip boundaries sit in silences
    clips = suggest_clips(aid, min_seconds=3, max_seconds=60)
    assert clips and all(0 <= c.start < c.end <= 13.0 for c in clips)
    assert all(c.title and c.summary and 0 <= c.score <= 1 for c in clips)
    r = client.post(f"/api/studio/media/clips/{aid}", headers=viewer, json={"min_seconds": 3, "max_seconds": 60})
    assert r.status_code == 200 and [c["start"] for c in r.json()["clips"]] == [c.start for c in clips]

    # export: landscape with captions, 9:16 vertical (centre crop: the sample has no faces)
    c = clips[0]
    land = export_clip(aid, c.start, min(c.end, c.start + 6), vertical=False, captions=True, threads=1)
    vert = export_clip(aid, 2.6, 8.0, vertical=True, captions=True, threads=1)
    p_land, p_vert = _probe(_blob_path(land)), _probe(_blob_path(vert))
    assert (p_land["codec_name"], p_land["width"], p_land["height"]) == ("h264", "640", "360")
    assert int(p_vert["height"]) == 360 and int(p_vert["width"]) == 202
    assert abs(float(p_vert["duration"]) - 5.4) < 0.3
    with read_scope() as s:
        for new, vertical in ((land, False), (vert, True)):
            a = s.get(Asset, new)
            assert a.parent_id == aid and a.kind == "video"
            assert a.meta["ai_generated"] is True and a.meta["review_status"] == "pending"
            st = a.meta["studio"]
            assert st["task"] == "clips" and st["sources"] == [aid] and st["backend"] == "ffmpeg"
            assert st["params"]["vertical"] is vertical and st["params"]["captions"] is True
    assert export_clip(aid, 2.6, 8.0, vertical=True, captions=True, threads=1) == vert  # idempotent

    # the REST export answers with a playable URL; bad input is a 4xx naming the problem, never a 500
    r = client.post(f"/api/studio/media/clips/{aid}/export", headers=editor,
                    json={"start": 0.0, "end": 3.0, "captions": False, "progress_id": "t1"})
    assert r.status_code == 200, r.text
    assert client.get(r.json()["media_url"], headers=viewer).status_code == 200
    assert client.get("/api/studio/media/progress/t1", headers=viewer).json()["percent"] == 100
    bad = [
        (f"/api/studio/media/clips/{aid}/export", {"start": 5, "end": 2}, 422, "end after it starts"),
        (f"/api/studio/media/clips/{aid}/export", {"start": 50, "end": 60}, 422, "13.0 s long"),
        ("/api/studio/media/clips/99999/export", {"start": 0, "end": 2}, 404, "no asset 99999"),
        (f"/api/studio/media/clips/{aid}", {"min_seconds": 50, "max_seconds": 10}, 422, "min_seconds"),
    ]
    for url, body, code, words in bad:
        r = client.post(url, headers=editor, json=body)
        assert r.status_code == code and words in r.json()["detail"], (url, r.status_code, r.text)
    r = client.get("/api/studio/media/subtitles/99999", headers=viewer)
    assert r.status_code == 404

    # burn-in: edited cues (Chinese, Noto Sans CJK) into the whole video, a new asset with lineage
    cues = [{"start": 0.5, "end": 3.0, "lines": ["欢迎收看智媒新闻"]},
            {"start": 3.2, "end": 6.0, "lines": ["市议会批准了新的河桥"]}]
    r = client.post(f"/api/studio/media/subtitles/{aid}/burn", headers=editor,
                    json={"cues": cues, "language": "zh", "progress_id": "burn1"})
    assert r.status_code == 200, r.text
    burned = r.json()
    assert burned["ai_generated"] and burned["studio"]["task"] == "subtitles"
    assert burned["studio"]["kind"] == "subtitled-video" and burned["studio"]["sources"] == [aid]
    p = _probe(_blob_path(burned["asset_id"]))
    assert abs(float(p["duration"]) - 13.0) < 0.3 and p["width"] == "640"
    r = client.post(f"/api/studio/media/subtitles/{aid}/burn", headers=editor,
                    json={"cues": [{"start": 3, "end": 1, "lines": ["x"]}]})
    assert r.status_code == 422 and "before end" in r.json()["detail"]


@pytest.mark.slow
def test_a_recording_without_speech_is_refused_clearly(zhome, client, tokens, tmp_path):
    from conftest import run_ffmpeg

    silent = tmp_path / "bars.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x180:r=25:d=3", "-threads", "1", "-c:v", "libx264",
               "-pix_fmt", "yuv420p", str(silent))
    aid = ingest_file(silent, source="test").asset_id
    jobs.drain()
    headers = {"Authorization": f"Bearer {tokens['viewer']}"}
    r = client.post(f"/api/studio/media/clips/{aid}", headers=headers, json={"min_seconds": 1, "max_seconds": 10})
    assert r.status_code == 422 and "no transcript" in r.json()["detail"]
    r = client.get(f"/api/studio/media/subtitles/{aid}/track.vtt", headers=headers)
    assert r.status_code == 422 and "no transcript" in r.json()["detail"]
    # a clip without captions can still be cut from it
    from zhimei.studio.media import export_clip

    new = export_clip(aid, 0.5, 2.5, vertical=True, captions=True, threads=1)
    assert _probe(_blob_path(new))["height"] == "180"


def test_packed_speech_borrows_time_from_a_neighbour_with_time_to_spare():
    from zhimei.studio.media.subtitles import retime

    fast = ["The council approved the new river", "bridge construction today"]  # 60 characters in 2.5 s
    cues = [Cue(0.0, 2.5, fast), Cue(2.6, 6.0, ["Residents agree."])]  # no silence between them
    assert any(v.rule == "reading_speed" for v in check_subtitles(cues, "en"))
    fixed = retime(cues, "en")
    assert check_subtitles(fixed, "en") == []
    assert fixed[0].start == 0.0 and fixed[1].end >= 6.0  # the shared boundary moved, by at most 0.5 s
    assert 2.6 < fixed[1].start <= 3.1 and fixed[0].end < fixed[1].start
