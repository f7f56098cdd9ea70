"""Rough cut (依案成片) on the real processed sample video: a script becomes beats, library shots found by
search and snapped to shot cuts, a timeline (JSON and CMX 3600 EDL), then an MP4 with a real TTS voice-over
and burned-in subtitles saved as an AI-marked asset with lineage. Also the CLI, the REST endpoints and the page.

The sample (13 s) has five shots cut at 2.6, 5.4, 8.0 and 10.6 s and says: "Welcome to the zhimei newsroom.
Today the city council approved the new river bridge. Construction starts in March and will take two years.
Residents welcomed the decision." One processed copy serves the whole module."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from zhimei.studio.errors import StudioError

BRIDGE = "The city council approved the new river bridge."
NONSENSE = "Purple elephants juggle quantum spaghetti on Neptune."
SCRIPT = f"{BRIDGE}\n\n{NONSENSE}\nResidents welcomed the decision.\n"


@pytest.fixture(scope="module")
def home(tmp_path_factory, pg_database, sample_video):
    """One zhimei home for the module with the sample video ingested and processed (ASR, shots, index)."""
    from zhimei.settings import reset_settings
    from zhimei.store import migrate

    with pytest.MonkeyPatch.context() as mp:
        root = tmp_path_factory.mktemp("roughcut") / "zhimei-home"
        mp.setenv("ZHIMEI_HOME", str(root))
        for var in list(os.environ):
            if var.startswith("ZHIMEI_") and var not in ("ZHIMEI_HOME", "ZHIMEI_DEBUG") and not var.startswith(
                    "ZHIMEI_TEST_"):
                mp.delenv(var)
        mp.setenv("ZHIMEI_JOB_BACKOFF_SECONDS", "0")
        if pg_database:
            mp.setenv("ZHIMEI_DATABASE_URL", pg_database)
        reset_settings()
        migrate()
        if pg_database:
            from conftest import _truncate_all

            _truncate_all()
        yield root
        reset_settings()


@pytest.fixture(scope="module")
def sample(home, sample_video) -> int:
    import zhimei.jobs as jobs
    from zhimei.library.assets import ingest_file

    aid = ingest_file(sample_video, source="test").asset_id
    jobs.drain()
    return aid


@pytest.fixture(scope="module")
def planned(sample):
    from zhimei.studio.media import plan_roughcut

    return plan_roughcut(SCRIPT)


@pytest.fixture(scope="module")
def api(home):
    from fastapi.testclient import TestClient

    from zhimei.api.app import create_app
    from zhimei.store.tokens import create_token

    with TestClient(create_app(workers=0)) as c:
        yield c, {r: {"Authorization": f"Bearer {create_token(f'rc-{r}', r)}"} for r in ("viewer", "editor")}


def _probe(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries",
                          "stream=codec_type,codec_name,width,height:format=duration", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def _blob(asset_id: int) -> Path:
    from sqlalchemy import select

    from zhimei.store.blobs import get_blob_store
    from zhimei.store.db import read_scope
    from zhimei.store.models import Rendition

    with read_scope() as s:
        sha = s.scalars(select(Rendition.blob_sha).where(Rendition.asset_id == asset_id,
                                                         Rendition.kind == "original")).one()
    return get_blob_store().path(sha)


def _tc_frames(tc: str) -> int:
    h, m, sec, f = (int(x) for x in tc.split(":"))
    return ((h * 60 + m) * 60 + sec) * 25 + f


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def test_beats_and_bad_scripts(home):
    from zhimei.studio.media import plan_roughcut
    from zhimei.studio.media.roughcut import MAX_BEATS, split_beats

    assert split_beats("One.\n\n   \nTwo words here.\r\nThree", "en") == ["One.", "Two words here.", "Three"]
    long_line = " ".join(f"Sentence number {i} is here." for i in range(20))
    parts = split_beats(long_line, "en")
    assert len(parts) > 1 and all(p.endswith(".") and len(p) <= 220 for p in parts)
    for script, words in (("", "empty"), ("  \n\n \n", "empty"), ("x" * 100_000, "at most 20,000"),
                          ("\n".join(f"Line {i}." for i in range(MAX_BEATS + 5)), f"at most {MAX_BEATS}")):
        with pytest.raises(StudioError, match=words):
            plan_roughcut(script, measure_voice=False)
    with pytest.raises(StudioError, match="zh or en"):
        plan_roughcut("Bonjour.", language="fr", measure_voice=False)
    with pytest.raises(StudioError, match="bad footage filter"):
        plan_roughcut("Hello.", filters={"colour": "red"}, measure_voice=False)


@pytest.mark.slow
def test_plan_finds_the_spoken_shot_and_marks_what_is_missing(sample, planned):
    tl = planned
    assert [b.text for b in tl.beats] == [BRIDGE, NONSENSE, "Residents welcomed the decision."]
    first = tl.beats[0]
    assert not first.missing and first.clips[0].asset_id == sample
    c = first.clips[0]
    assert 2.0 <= c.start <= 3.0 and c.start == 2.6 and c.on_cuts[0]  # the shot where the words are spoken
    assert c.match == "keyword" and c.thumb_url and c.thumb_url.startswith("/api/blobs/")
    assert first.voice_seconds and first.duration >= first.voice_seconds  # long enough for the real voice
    card = tl.beats[1]
    assert card.missing and card.clips == [] and card.reason and "matches" in card.reason
    assert card.to_dict()["fallback"] == "title_card" and card.duration >= 2.0
    third = tl.beats[2]
    assert third.clips and 8.0 <= third.clips[0].start < 10.6  # "Residents welcome the decision." shot
    shots = [(c.asset_id, c.shot) for b in tl.beats for c in b.clips]
    assert len(shots) == len(set(shots))  # no shot used twice
    d = tl.to_dict()
    assert d["missing"] == 1 and d["sources"] == [sample] and abs(d["duration"] - tl.duration) < 1e-6
    assert any("title card" in n for n in d["notes"])
    from zhimei.studio.media import Timeline

    assert Timeline.from_dict(json.loads(json.dumps(d))).to_dict() == d  # JSON round trip


@pytest.mark.slow
def test_edl_and_timeline_checks(sample, planned):
    from zhimei.studio.media import Timeline, to_edl
    from zhimei.studio.media.edl import RECORD_START, frames, timecode, valid_timecode

    text = to_edl(planned)
    lines = text.splitlines()
    assert lines[0].startswith("TITLE: ") and lines[1] == "FCM: NON-DROP FRAME"
    events = [ln for ln in lines if ln[:3].isdigit()]
    assert len(events) == sum(max(1, len(b.clips)) for b in planned.beats)
    assert sum(1 for ln in lines if ln.startswith("* FROM CLIP NAME: ")) == len(events)
    rec = RECORD_START
    for n, ev in enumerate(events, 1):
        num, reel, channel, cut, s_in, s_out, r_in, r_out = ev.split()
        assert int(num) == n and cut == "C" and len(reel) <= 8
        assert all(valid_timecode(tc) for tc in (s_in, s_out, r_in, r_out))
        assert r_in == timecode(rec)
        length = _tc_frames(s_out) - _tc_frames(s_in)
        assert length > 0 and _tc_frames(r_in) == rec and r_out == timecode(rec + length)
        rec += length
        assert (reel, channel) == ("BL", "V") or (reel == f"ZM{sample:06d}" and channel == "AA/V")
    assert rec - RECORD_START == frames(planned.duration)  # the record side adds up to the timeline

    good = planned.to_dict()

    def broken(path: str, value) -> dict:
        d = json.loads(json.dumps(good))
        b = d["beats"][0]
        if path == "beats":
            d["beats"] = value
        elif path == "asset":
            b["clips"][0]["asset_id"] = value
        else:
            b["clips"][0][path] = value
        return d

    for data, words in ((broken("asset", 99999), "beats[0].clips[0].asset_id: unknown asset 99999"),
                        (broken("asset", "1"), "asset_id must be a whole number"),
                        (broken("end", 1.0), "beats[0].clips[0].end (1.0) must be after start"),
                        (broken("end", 40.0), "past the end of asset"),
                        (broken("start", "soon"), "beats[0].clips[0].start must be a number"),
                        (broken("start", None), "must be a number"),
                        (broken("beats", []), "non-empty list"),
                        (broken("beats", ["x"]), "beats[0] must be an object"),
                        ([1, 2], "must be a JSON object")):
        with pytest.raises(StudioError, match=words.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")
                           .replace(")", r"\)")):
            Timeline.from_dict(data)


@pytest.mark.slow
def test_render_saves_an_ai_marked_cut_with_lineage(sample, planned, home):
    from zhimei.store.db import read_scope
    from zhimei.store.models import Asset
    from zhimei.studio.media import plan_roughcut, render_roughcut

    ticks: list[float] = []
    aid = render_roughcut(planned, threads=2, progress=lambda pct, *_: ticks.append(pct))
    assert ticks and ticks[-1] == 100.0
    p = _probe(_blob(aid))
    kinds = {s["codec_type"]: s for s in p["streams"]}
    assert kinds["video"]["codec_name"] == "h264" and (kinds["video"]["width"], kinds["video"]["height"]) == (640, 360)
    assert kinds["audio"]["codec_name"] == "aac"
    assert abs(float(p["format"]["duration"]) - planned.duration) < 0.15
    with read_scope() as s:
        a = s.get(Asset, aid)
        assert a.kind == "video" and a.parent_id == sample
        assert a.meta["ai_generated"] is True and a.meta["review_status"] == "pending"
        st = a.meta["studio"]
        assert st["task"] == "roughcut" and st["kind"] == "roughcut" and st["sources"] == [sample]
        assert st["params"]["timeline"]["beats"][0]["text"] == BRIDGE and st["params"]["missing"] == 1
        assert st["params"]["captions"] is True and st["params"]["caption_violations"] == 0
    assert render_roughcut(planned.to_dict(), threads=2) == aid  # the same timeline: the same asset

    # a Chinese script with no footage at all: title cards (Noto Sans CJK) and espeak-ng Mandarin
    zh = plan_roughcut("台风今晚登陆，请市民注意安全。")
    assert zh.language == "zh" and zh.beats[0].missing
    zid = render_roughcut(zh, threads=2)
    assert abs(float(_probe(_blob(zid))["format"]["duration"]) - zh.duration) < 0.15


@pytest.mark.slow
def test_a_failed_render_leaves_nothing(sample, planned, home, monkeypatch):
    from sqlalchemy import func, select

    import zhimei.studio.media.roughcut as rc
    from zhimei.library.media.ffmpeg import FFmpegError
    from zhimei.store.db import read_scope
    from zhimei.store.models import Asset

    def count() -> int:
        with read_scope() as s:
            return s.scalar(select(func.count(Asset.id)))

    from zhimei.settings import get_settings

    blobs = get_settings().blob_path
    before = (_files(blobs), _files(home / "tmp"), count())
    d = planned.to_dict()
    d["beats"][0]["clips"][0]["end"] = 30.0  # beyond the 13 s source
    with pytest.raises(StudioError, match="past the end of asset"):
        rc.render_roughcut(d)
    real = rc.run_ffmpeg

    def failing(args, **kw):
        if "concat" in args:
            raise FFmpegError("ffmpeg failed: simulated disk error")
        return real(args, **kw)

    monkeypatch.setattr(rc, "run_ffmpeg", failing)
    d = planned.to_dict()
    d["title"] = "another cut"  # not the cached one
    with pytest.raises(rc.RenderFailed, match="step 'mix'.*simulated disk error") as info:
        rc.render_roughcut(d, threads=2)
    assert info.value.step == "mix"
    assert (_files(blobs), _files(home / "tmp"), count()) == before


@pytest.mark.slow
def test_cli(sample, planned, tmp_path):
    from typer.testing import CliRunner

    from zhimei.studio.cli import studio_app

    script = tmp_path / "script.txt"
    script.write_text(SCRIPT, encoding="utf-8")
    edl = tmp_path / "cut.edl"
    runner = CliRunner()
    res = runner.invoke(studio_app, ["roughcut", str(script), "--json", "--edl", str(edl)])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["beats"][0]["clips"][0]["asset_id"] == sample and data["beats"][1]["missing"] is True
    assert edl.read_text().startswith("TITLE: ") and "FCM: NON-DROP FRAME" in edl.read_text()
    res = runner.invoke(studio_app, ["roughcut", BRIDGE])
    assert res.exit_code == 0 and "1 beats" in res.output
    res = runner.invoke(studio_app, ["roughcut", "   "])
    assert res.exit_code == 2 and "empty" in res.output


@pytest.mark.slow
def test_rest_endpoints_and_page(sample, planned, api):
    c, h = api
    r = c.post("/api/studio/roughcut/plan", headers=h["viewer"], json={"script": SCRIPT})
    assert r.status_code == 200, r.text
    tl = r.json()["timeline"]
    assert tl == planned.to_dict()
    r = c.post("/api/studio/roughcut/edl", headers=h["viewer"], json={"timeline": tl})
    assert r.status_code == 200 and r.text.startswith("TITLE: ") and "attachment" in r.headers["content-disposition"]
    bad_plan = [({"script": ""}, "empty"), ({"script": "x" * 100_000}, "at most 20,000"),
                ({"script": "Hi.", "filters": {"nope": 1}}, "unknown filter")]
    for body, words in bad_plan:
        r = c.post("/api/studio/roughcut/plan", headers=h["viewer"], json=body)
        assert r.status_code == 422 and words in r.json()["detail"], (body, r.text)
    wrong = json.loads(json.dumps(tl))
    wrong["beats"][0]["clips"][0]["asset_id"] = 99999
    types = json.loads(json.dumps(tl))
    types["beats"][0]["clips"][0]["start"] = [1]
    for url in ("/api/studio/roughcut/edl", "/api/studio/roughcut/render"):
        for t, words in ((wrong, "unknown asset 99999"), (types, "start must be a number"), ({}, "beats")):
            r = c.post(url, headers=h["editor"], json={"timeline": t})
            assert r.status_code == 422 and words in r.json()["detail"], (url, r.text)
        r = c.post(url, headers=h["editor"], json={"timeline": "not an object"})
        assert r.status_code == 422
    assert c.post("/api/studio/roughcut/render", headers=h["viewer"], json={"timeline": tl}).status_code == 403
    r = c.post("/api/studio/roughcut/render", headers=h["editor"], json={"timeline": tl, "progress_id": "rc1"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["ai_generated"] and out["review_status"] == "pending" and out["studio"]["sources"] == [sample]
    assert c.get(out["media_url"], headers=h["viewer"]).status_code == 200
    assert c.get("/api/studio/media/progress/rc1", headers=h["viewer"]).json()["percent"] == 100
    page = c.get("/studio/roughcut", headers=h["viewer"])
    assert page.status_code == 200 and 'data-page="roughcut"' in page.text and 'data-testid="tab-roughcut"' in page.text


@pytest.mark.slow
@pytest.mark.browser
def test_page_plans_downloads_renders_and_plays(sample, home, browser):
    from playwright.sync_api import expect
    from webserver import live_server, watched_page

    from zhimei.store.tokens import create_token

    token = create_token("rc-browser-editor", "editor")
    with live_server(workers=0) as server:
        page, errors = watched_page(browser, server, token)
        page.goto(f"{server.url}/studio/roughcut")
        page.fill('[data-testid="rc-script"]', SCRIPT)
        page.click('[data-testid="rc-plan"]')
        beats = page.locator('[data-testid="rc-beat"]')
        expect(beats).to_have_count(3, timeout=60_000)
        expect(beats.nth(1).locator('[data-testid="rc-missing"]')).to_be_visible()
        first = beats.nth(0)
        assert first.locator('[data-testid="rc-clip"]').first.get_attribute("data-asset-id") == str(sample)
        assert float(first.locator('[data-testid="rc-clip-start"]').first.input_value()) == 2.6
        with page.expect_download() as dl:
            page.click('[data-testid="rc-edl"]')
        edl = Path(dl.value.path()).read_text(encoding="utf-8")
        assert edl.startswith("TITLE: ") and "FCM: NON-DROP FRAME" in edl
        page.click('[data-testid="rc-render"]')
        player = page.locator('[data-testid="clip-player"]')
        expect(player).to_have_count(1, timeout=180_000)
        expect(page.locator('[data-testid="ai-mark"]')).to_be_visible()
        player.evaluate("v => { v.muted = true; return v.play(); }")
        page.wait_for_function("(sel) => { const v = document.querySelector(sel); return !!v && v.currentTime > 0.5; }",
                               arg='[data-testid="clip-player"]', timeout=30_000)
        page.screenshot(path="/tmp/zhimei-studio-roughcut.png", full_page=True)
        assert errors == []
