"""智能创作 studio media tasks: subtitles (SRT/WebVTT, translated, burned in), smart clipping (拆条) with
MP4 export (landscape or 9:16 vertical, face-/centre-aware crop, captions), covers (智能封面), voice-over
(配音) and rough cuts from a script (依案成片). Outputs are new AI-marked assets with lineage that enter review."""

from __future__ import annotations

from zhimei.studio.media.clips import Clip, Sentence, fixed_window_clips, sentence_end_share, suggest_clips
from zhimei.studio.media.covers import FrameScore, compose_cover, make_covers, rank_keyframes
from zhimei.studio.media.edl import Beat, Footage, Timeline, to_edl
from zhimei.studio.media.export import burn_subtitles, crop_plan, export_clip
from zhimei.studio.media.roughcut import RenderFailed, plan_roughcut, render_roughcut
from zhimei.studio.media.subtitles import (
    RULES,
    Cue,
    Track,
    Violation,
    build_cues,
    check_subtitles,
    parse_subtitles,
    save_subtitles,
    subtitle_track,
    to_srt,
    to_vtt,
    translate_cues,
)
from zhimei.studio.media.voiceover import split_script, voice_over

__all__ = ["Cue", "Violation", "Track", "RULES", "build_cues", "check_subtitles", "to_srt", "to_vtt",
           "parse_subtitles", "subtitle_track", "save_subtitles", "translate_cues", "burn_subtitles", "Clip",
           "Sentence", "suggest_clips", "fixed_window_clips", "sentence_end_share", "export_clip", "crop_plan",
           "FrameScore", "rank_keyframes", "compose_cover", "make_covers", "voice_over", "split_script",
           "Timeline", "Beat", "Footage", "plan_roughcut", "render_roughcut", "to_edl", "RenderFailed"]
