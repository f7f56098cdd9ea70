"""One ffmpeg pass from the original to the browser proxy (H.264/AAC MP4, or AAC M4A) and 16 kHz mono WAV."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from zhimei.library.media.probe import Probe

__all__ = ["ProxySpec", "proxy_rate", "video_proxy_args", "audio_proxy_args", "audio16k_args",
           "normalize_args", "NormalizePlan"]

SCALE_FLAGS = "bicubic"


@dataclass(frozen=True)
class ProxySpec:
    """How proxies are made (from settings): height, x264 CRF and preset, keyframe spacing."""

    height: int = 480
    crf: int = 26
    preset: str = "veryfast"
    gop_seconds: float = 2.0
    audio_bitrate: str = "128k"

    @classmethod
    def from_settings(cls, settings) -> ProxySpec:
        """The spec in effect for zhimei settings."""
        return cls(height=settings.proxy_height, crf=settings.proxy_crf, preset=settings.proxy_preset)


def proxy_rate(probe: Probe) -> Fraction:
    """The proxy's constant frame rate: the source's average rate (sane values only), else 25."""
    for key in ("avg_frame_rate", "r_frame_rate"):
        for s in probe.meta.get("streams", []):
            if s.get("codec_type") == "video" and not s.get("attached_pic"):
                try:
                    r = Fraction(s.get(key) or "0")
                except (ValueError, ZeroDivisionError):
                    continue
                if 1 <= r <= 120:
                    return r.limit_denominator(1001)
                break
    return Fraction(25)


def video_proxy_args(spec: ProxySpec, rate: Fraction, audio_channels: int | None) -> list[str]:
    """Output options for the MP4 proxy: even-sized, no upscaling, CFR, keyframe every `gop_seconds`."""
    gop = max(1, round(float(rate) * spec.gop_seconds))
    h = spec.height - spec.height % 2
    args = [
        "-vf", f"scale=-2:'min({h},trunc(ih/2)*2)':flags={SCALE_FLAGS},format=yuv420p",
        "-c:v", "libx264", "-preset", spec.preset, "-crf", str(spec.crf), "-g", str(gop),
        "-pix_fmt", "yuv420p", "-fps_mode", "cfr", "-r", f"{rate.numerator}/{rate.denominator}",
    ]
    if audio_channels:
        args += ["-c:a", "aac", "-b:a", spec.audio_bitrate, "-ac", str(min(2, audio_channels))]
    return args + ["-movflags", "+faststart", "-max_muxing_queue_size", "4096", "-f", "mp4"]


def audio_proxy_args(spec: ProxySpec, audio_channels: int | None) -> list[str]:
    """Output options for an audio asset's proxy: AAC in M4A."""
    return ["-vn", "-c:a", "aac", "-b:a", spec.audio_bitrate, "-ac", str(min(2, audio_channels or 2)),
            "-movflags", "+faststart", "-f", "mp4"]


def audio16k_args() -> list[str]:
    """Output options for the speech-model input: 16 kHz mono signed 16-bit PCM WAV."""
    return ["-vn", "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", "-f", "wav"]


def _channels(probe: Probe) -> int | None:
    for s in probe.meta.get("streams", []):
        if s.get("codec_type") == "audio":
            return int(s.get("channels") or 2)
    return None


@dataclass(frozen=True)
class NormalizePlan:
    """The ffmpeg arguments and the files they write."""

    args: list[str]
    proxy: Path | None
    proxy_mime: str | None
    audio16k: Path | None


def normalize_args(src: Path, out_dir: Path, probe: Probe, spec: ProxySpec) -> NormalizePlan:
    """Arguments for ONE ffmpeg process writing every rendition (one decode of the original)."""
    ch = _channels(probe)
    args = ["-i", str(src)]
    proxy = wav = None
    mime = None
    if probe.has_video:
        proxy, mime = out_dir / "proxy.mp4", "video/mp4"
        args += ["-map", "0:v:0", *(["-map", "0:a:0"] if probe.has_audio else []),
                 *video_proxy_args(spec, proxy_rate(probe), ch if probe.has_audio else None), str(proxy)]
    elif probe.has_audio:
        proxy, mime = out_dir / "proxy.m4a", "audio/mp4"
        args += ["-map", "0:a:0", *audio_proxy_args(spec, ch), str(proxy)]
    if probe.has_audio:
        wav = out_dir / "audio16k.wav"
        args += ["-map", "0:a:0", *audio16k_args(), str(wav)]
    return NormalizePlan(args=args, proxy=proxy, proxy_mime=mime, audio16k=wav)
