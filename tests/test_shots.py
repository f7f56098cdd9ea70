"""Shot detection: the real detectors on real (dev) footage, the sample, and clips made with ffmpeg."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SAMPLES, SHARED, run_ffmpeg

from zhimei.library.media.ffmpeg import run_ffmpeg as run_ffmpeg_progress
from zhimei.library.media.normalize import ProxySpec, normalize_args
from zhimei.library.media.probe import probe_media
from zhimei.library.media.shoteval import match_boundaries, prf, read_scene_list
from zhimei.library.media.shots import detect_shots, merge_cuts

DEV_VIDEO = SHARED / "eval-dev" / "video" / "testvideo.mp4"


def _proxy(src: Path, out_dir: Path) -> Path:
    """The proxy exactly as the normalize stage makes it (shots run on it)."""
    plan = normalize_args(src, out_dir, probe_media(src), ProxySpec())
    run_ffmpeg_progress(plan.args)
    assert plan.proxy is not None
    return plan.proxy


def _cut_times(path: Path) -> tuple[list[float], float]:
    det = detect_shots(path)
    return [det.seconds(c) for c in det.cuts], det.fps


def test_merge_cuts_black_gap_is_one_boundary_in_its_middle():
    # black 0-29 (leader), cut into content at 30, cut to black at 180, black 180-215, content, fade 355-397.
    runs = [(0, 30), (180, 216), (355, 398), (689, 720)]
    hard = [30, 180, 211, 360, 394, 693]
    assert merge_cuts(hard, runs, first=0, end=720, min_len=15, margin=15) == [198, 377]
    # a plain hard cut between content stays; cuts closer than min_len are dropped
    assert merge_cuts([100, 105, 300], [], first=0, end=400, min_len=15, margin=15) == [100, 300]
    # a cut right at the start is not a boundary
    assert merge_cuts([5], [], first=0, end=400, min_len=15, margin=15) == []


@pytest.mark.skipif(not DEV_VIDEO.exists(), reason="shared eval-dev data not present")
def test_dev_clip_f1_at_half_second(tmp_path):
    truth = read_scene_list(DEV_VIDEO.with_name("testvideo_scenes.csv"))
    pred, _ = _cut_times(_proxy(DEV_VIDEO, tmp_path))
    scores = prf(match_boundaries(pred, truth, 0.5), len(pred), len(truth))
    assert scores["f1"] >= 0.95, (pred, truth, scores)


def test_sample_clip_cuts_exact(sample_video, tmp_path):
    truth = read_scene_list(SAMPLES / "newsroom-sample_scenes.csv")
    pred, fps = _cut_times(_proxy(sample_video, tmp_path))
    assert len(pred) == len(truth)
    for p, t in zip(pred, truth, strict=True):
        assert abs(p - t) <= 2 / fps


def _synthetic(tmp_path: Path, graph: str, name: str) -> Path:
    out = tmp_path / name
    run_ffmpeg("-filter_complex", graph, "-map", "[v]", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "23",
               "-pix_fmt", "yuv420p", str(out))
    return out


SRC = {
    "bars": "smptehdbars=s=320x180:r=25",
    "test": "testsrc2=s=320x180:r=25",
    "fract": "mandelbrot=s=320x180:r=25",
    "card": "color=c=0x884422:s=320x180:r=25,drawgrid=w=40:h=40:t=4:c=white",
}


def _seg(src: str, seconds: float, label: str, extra: str = "") -> str:
    return f"{SRC[src]},trim=duration={seconds},setpts=PTS-STARTPTS,format=yuv420p{extra}[{label}]"


def test_hard_cuts_between_different_sources(tmp_path):
    graph = ";".join([_seg("test", 2, "a"), _seg("fract", 3, "b"), _seg("bars", 2, "c"), _seg("card", 2, "d")])
    clip = _synthetic(tmp_path, graph + ";[a][b][c][d]concat=n=4:v=1:a=0[v]", "cuts.mp4")
    cuts, fps = _cut_times(clip)
    expected = [2.0, 5.0, 7.0]
    assert len(cuts) == len(expected), cuts
    for c, e in zip(cuts, expected, strict=True):
        assert abs(c - e) <= 2 / fps


def test_fade_through_black_is_one_boundary_at_its_middle(tmp_path):
    graph = ";".join([
        _seg("test", 3, "a", ",fade=t=out:st=2:d=1"),
        _seg("fract", 3, "b", ",fade=t=in:st=0:d=1"),
        _seg("card", 2, "c"),
    ])
    clip = _synthetic(tmp_path, graph + ";[a][b][c]concat=n=3:v=1:a=0[v]", "fade.mp4")
    cuts, fps = _cut_times(clip)
    assert len(cuts) == 2, cuts
    assert abs(cuts[0] - 3.0) <= 3 / fps  # middle of the fade out + fade in
    assert abs(cuts[1] - 6.0) <= 2 / fps  # the hard cut after it


def test_cut_to_black_and_back_with_black_leader_and_trailer(tmp_path):
    black = "color=c=black:s=320x180:r=25"
    graph = ";".join([
        f"{black},trim=duration=1,format=yuv420p[k0]",
        _seg("bars", 2, "a"),
        f"{black},trim=duration=1,format=yuv420p[k1]",
        _seg("test", 2, "b"),
        f"{black},trim=duration=1,format=yuv420p[k2]",
    ])
    clip = _synthetic(tmp_path, graph + ";[k0][a][k1][b][k2]concat=n=5:v=1:a=0[v]", "black.mp4")
    cuts, fps = _cut_times(clip)
    # leader and trailer black are no boundaries; the black gap between the shots is one, in its middle
    assert len(cuts) == 1, cuts
    assert abs(cuts[0] - 3.5) <= 2 / fps


def test_dark_textured_shot_is_content_not_black(tmp_path):
    # mean level below the dark level, but with bright detail (like sparse lights at night): not a black gap
    dark = "color=c=black:s=320x180:r=25,drawgrid=w=24:h=24:t=1:c=0x808080"
    graph = ";".join([_seg("bars", 2, "a"), f"{dark},trim=duration=2,format=yuv420p[b]", _seg("test", 2, "c")])
    clip = _synthetic(tmp_path, graph + ";[a][b][c]concat=n=3:v=1:a=0[v]", "dark.mp4")
    cuts, fps = _cut_times(clip)
    assert len(cuts) == 2, cuts
    assert abs(cuts[0] - 2.0) <= 2 / fps and abs(cuts[1] - 4.0) <= 2 / fps
