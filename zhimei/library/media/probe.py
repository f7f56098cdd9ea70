"""What a media file holds: ffprobe's streams and format, summarised for the asset (with sanity checks)."""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from zhimei.library.media.ffmpeg import MediaUnreadable, ffprobe_json

__all__ = ["Probe", "probe_media", "check_isobmff", "parse_rate", "MediaUnreadable"]

_STREAM_KEYS = ("index", "codec_type", "codec_name", "codec_long_name", "profile", "width", "height", "pix_fmt",
                "r_frame_rate", "avg_frame_rate", "bit_rate", "sample_rate", "channels", "channel_layout",
                "duration", "nb_frames", "field_order", "color_space", "level")
_HINTS = {
    "moov atom not found": "the file is truncated or not a video",
    "Invalid data found when processing input": "the file is corrupt or not a media file",
    "could not find codec parameters": "the file is corrupt or uses an unsupported codec",
    "End of file": "the file is truncated",
}


@dataclass
class Probe:
    """The summary of one media file."""

    duration: float | None
    width: int | None
    height: int | None
    fps: float | None
    has_video: bool
    has_audio: bool
    video_codec: str | None = None
    audio_codec: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_meta(cls, meta: dict[str, Any], *, duration: float | None = None, width: int | None = None,
                  height: int | None = None) -> Probe:
        """Rebuild from what `probe_media` stored in asset.meta["probe"]."""
        return cls(duration=duration if duration is not None else meta.get("duration"), width=width, height=height,
                   fps=meta.get("fps"), has_video=bool(meta.get("has_video")), has_audio=bool(meta.get("has_audio")),
                   video_codec=meta.get("video_codec"), audio_codec=meta.get("audio_codec"), meta=meta)


def parse_rate(value: str | None) -> float | None:
    """'30000/1001' → 29.97; None for 0/0 or junk."""
    if not value:
        return None
    try:
        r = Fraction(value)
    except (ValueError, ZeroDivisionError):
        return None
    return float(r) if r > 0 else None


def _num(value: Any, kind: type = float) -> Any:
    try:
        return kind(value)
    except (TypeError, ValueError):
        return None


def _rotation(stream: dict) -> int:
    for sd in stream.get("side_data_list") or []:
        if "rotation" in sd:
            return int(_num(sd["rotation"], float) or 0)
    return int(_num((stream.get("tags") or {}).get("rotate"), float) or 0)


def check_isobmff(path: str | os.PathLike[str]) -> None:
    """For MP4/MOV files: every top-level box must fit in the file, else the file was cut short.

    ffprobe happily reads a faststart MP4 whose media data was cut in half; the box sizes tell.
    """
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        if fh.read(8)[4:8] != b"ftyp":
            return
        pos = 0
        while pos < size:
            fh.seek(pos)
            head = fh.read(16)
            if len(head) < 8:
                raise MediaUnreadable(f"the file is truncated: {size - pos} stray bytes at its end")
            box_size, box_type = struct.unpack(">I4s", head[:8])
            name = box_type.decode("latin-1", "replace")
            if not all(32 <= c < 127 for c in box_type):
                raise MediaUnreadable(f"the file is corrupt: unreadable data at byte {pos:,} where an MP4 box "
                                      "should start (not a valid MP4/MOV file)")
            if box_size == 1:
                if len(head) < 16:
                    raise MediaUnreadable("the file is truncated inside a box header")
                box_size = struct.unpack(">Q", head[8:16])[0]
            elif box_size == 0:
                box_size = size - pos
            if box_size < 8:
                raise MediaUnreadable(f"the file is corrupt: box {name!r} at byte {pos:,} has an impossible size")
            if pos + box_size > size:
                raise MediaUnreadable(
                    f"the file is truncated: its {name!r} box needs {box_size:,} bytes but only "
                    f"{size - pos:,} remain (the file is {size:,} bytes)")
            pos += box_size


def _reason(detail: str) -> str:
    for needle, hint in _HINTS.items():
        if needle.lower() in detail.lower():
            return f"ffprobe could not read the file: {detail} — {hint}"
    return f"ffprobe could not read the file: {detail}"


def probe_media(path: str | os.PathLike[str]) -> Probe:
    """Probe a file; raises MediaUnreadable (message for a person) when it is not usable media."""
    p = Path(path)
    check_isobmff(p)
    try:
        data = ffprobe_json(p)
    except MediaUnreadable as exc:
        raise MediaUnreadable(_reason(str(exc))) from None
    fmt = data.get("format") or {}
    streams = data.get("streams") or []
    video = [s for s in streams if s.get("codec_type") == "video"
             and not (s.get("disposition") or {}).get("attached_pic")]
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    cover = [s for s in streams if s.get("codec_type") == "video" and (s.get("disposition") or {}).get("attached_pic")]
    if not video and not audio:
        raise MediaUnreadable("the file has no audio or video stream")
    v = video[0] if video else None
    a = audio[0] if audio else None
    duration = _num(fmt.get("duration"))
    if not duration or duration <= 0:
        durations = [_num(s.get("duration")) for s in (v, a) if s]
        duration = max([d for d in durations if d], default=None)
    width = height = None
    fps = None
    rotation = 0
    if v is not None:
        width, height = _num(v.get("width"), int), _num(v.get("height"), int)
        if not width or not height:
            raise MediaUnreadable(f"the video stream ({v.get('codec_name') or 'unknown codec'}) has no picture size "
                                  "— the file is corrupt or the codec is not supported")
        rotation = _rotation(v)
        if rotation % 180:
            width, height = height, width
        fps = parse_rate(v.get("avg_frame_rate")) or parse_rate(v.get("r_frame_rate"))
    tags = {str(k): str(v_)[:500] for k, v_ in (fmt.get("tags") or {}).items()}
    meta: dict[str, Any] = {
        "format": fmt.get("format_name"),
        "format_long_name": fmt.get("format_long_name"),
        "duration": duration,
        "size": _num(fmt.get("size"), int),
        "bit_rate": _num(fmt.get("bit_rate"), int),
        "creation_time": tags.get("creation_time"),
        "tags": tags,
        "has_video": v is not None,
        "has_audio": a is not None,
        "video_codec": v.get("codec_name") if v else None,
        "audio_codec": a.get("codec_name") if a else None,
        "fps": fps,
        "rotation": rotation,
        "streams": [
            {**{k: s[k] for k in _STREAM_KEYS if k in s},
             **({"tags": {str(k): str(x)[:200] for k, x in s["tags"].items()}} if s.get("tags") else {}),
             **({"attached_pic": True} if (s.get("disposition") or {}).get("attached_pic") else {})}
            for s in streams
        ],
    }
    if cover:
        meta["cover_art"] = True
    return Probe(duration=duration, width=width, height=height, fps=fps, has_video=v is not None,
                 has_audio=a is not None, video_codec=meta["video_codec"], audio_codec=meta["audio_codec"],
                 meta=meta)
