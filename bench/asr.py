"""Speech recognition accuracy and speed: the product's ASR backend against the bare faster-whisper-base call
and pocketsphinx (English), all in the same run on the same files.

    .venv/bin/python bench/asr.py [--data DIR] [--threads 2] [--no-pocketsphinx] [--limit N] [--long]
    .venv/bin/python bench/asr.py --make-extra OUT_DIR   # build extra test audio, then run with --data OUT_DIR

DIR holds `.wav` files and `transcripts.tsv` (header `file<TAB>lang<TAB>text`); default
../shared/eval-dev/speech. Scores are corpus-level, after the same normalisation of reference and
hypothesis for every system:
- English WER: Whisper's English text normaliser (package whisper-normalizer: lower case, punctuation and
  fillers removed, contractions expanded, British→American spelling, numbers and currency standardised);
- Chinese CER: NFKC, OpenCC Traditional→Simplified, punctuation and whitespace removed, Arabic numbers read
  out as Chinese numerals, then one token per character (zhimei.models.textnorm.normalize_zh);
- other languages: Whisper's basic normaliser, WER.
The product is the configured ASR backend with its settings: for faster-whisper that includes the beam rescored
by a packaged language model (``ZHIMEI_ASR_LM_WEIGHT=0`` measures it without), Chinese homophone correction and
the Chinese speller on characters whisper was unsure of (``ZHIMEI_ASR_SPELLING=false`` measures it without).
``product`` transcribes the files one at a time (each call's latency); ``product_batch`` transcribes the same files
as one batch per language with ``transcribe_many`` (throughput: whisper reads the next file while the text of the
last is corrected, as it reads the next 30 s of a long recording). ``--long`` also joins each language's files into
one recording and times bare and product on it (a long file's latency).
RTF = wall seconds / audio seconds; ``cpu_rtf`` = process CPU seconds / audio seconds / threads (what RTF
would be on otherwise idle cores; the machine may be shared). Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
import wave
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from zhimei.models.textnorm import edit_distance, normalize_zh  # noqa: E402

DEV = (ROOT.parent / "shared" / "eval-dev" / "speech").resolve()
CJK = ("zh", "ja", "yue")


def read_set(folder: Path) -> list[tuple[Path, str, str]]:
    """(wav path, language, reference text) rows of a speech folder."""
    tsv = folder / "transcripts.tsv"
    if not tsv.is_file():
        sys.exit(f"{tsv} not found: a speech folder needs transcripts.tsv (file<TAB>lang<TAB>text)")
    with tsv.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    if not rows or not {"file", "lang", "text"} <= set(rows[0]):
        sys.exit(f"{tsv}: header must be file<TAB>lang<TAB>text")
    out = []
    for r in rows:
        p = folder / r["file"]
        if not p.is_file():
            sys.exit(f"{tsv}: {r['file']} does not exist")
        out.append((p, r["lang"].strip().lower(), r["text"]))
    return out


def duration(path: Path) -> float:
    """Audio seconds (WAV header, else ffprobe)."""
    try:
        with wave.open(str(path), "rb") as w:
            return w.getnframes() / w.getframerate()
    except (wave.Error, EOFError):
        out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
                              str(path)], capture_output=True, text=True)
        return float(out.stdout.strip() or 0)


@lru_cache(maxsize=1)
def _whisper_normalizers():
    try:
        from whisper_normalizer.basic import BasicTextNormalizer
        from whisper_normalizer.english import EnglishTextNormalizer
    except ImportError:
        sys.exit("bench/asr.py needs the whisper-normalizer package: .venv/bin/pip install whisper-normalizer")
    return EnglishTextNormalizer(), BasicTextNormalizer()


def scoring_tokens(text: str, lang: str) -> list[str]:
    """Tokens compared for WER/CER; the same function for references and every system's output."""
    if lang in CJK or lang == "cmn":
        return normalize_zh(text)
    english, basic = _whisper_normalizers()
    return (english if lang == "en" else basic)(text).split()


class Tally:
    """Corpus-level error counts and timing for one system."""

    def __init__(self) -> None:
        self.err: dict[str, int] = {}
        self.ref: dict[str, int] = {}
        self.wall = self.cpu = self.audio = 0.0

    def add(self, lang: str, ref: str, hyp: str, wall: float, cpu: float, secs: float) -> tuple[int, int]:
        key = "zh" if lang in CJK else "en" if lang == "en" else lang
        r, h = scoring_tokens(ref, lang), scoring_tokens(hyp, lang)
        e = edit_distance(r, h)
        self.err[key] = self.err.get(key, 0) + e
        self.ref[key] = self.ref.get(key, 0) + len(r)
        self.wall += wall
        self.cpu += cpu
        self.audio += secs
        return e, len(r)

    def figures(self, threads: int) -> dict:
        out: dict = {}
        for k in sorted(self.err):
            name = "cer_zh" if k == "zh" else f"wer_{k}"
            out[name] = round(self.err[k] / max(self.ref[k], 1), 4)
        if self.audio:
            out["rtf"] = round(self.wall / self.audio, 3)
            out["cpu_rtf"] = round(self.cpu / self.audio / threads, 3)
        return out


def timed(fn):
    w, c = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - w, time.process_time() - c


def make_bare(threads: int):
    """The plain call a person would write: faster-whisper-base, int8, beam 5, VAD, language given."""
    from faster_whisper import WhisperModel

    from zhimei.models.base import model_cache_dir
    from zhimei.models.whisper_files import whisper_model_dir
    from zhimei.settings import get_settings

    model = WhisperModel(str(whisper_model_dir(model_cache_dir(get_settings()))), device="cpu",
                         compute_type="int8", cpu_threads=threads)

    def run(path: Path, lang: str) -> str:
        segments, _ = model.transcribe(str(path), language=lang, beam_size=5, vad_filter=True)
        return "".join(s.text for s in segments)

    return run


def make_product(threads: int):
    """The product's ASR backend as the pipeline uses it (settings in effect, threads overridden)."""
    from zhimei.models import get_backend, reset_backends
    from zhimei.settings import get_settings

    os.environ["ZHIMEI_MODEL_THREADS"] = str(threads)
    get_settings.cache_clear()
    reset_backends()
    asr = get_backend("asr")

    def run(path: Path, lang: str) -> str:
        return asr.transcribe(path, language=lang).text

    return run, asr.name, asr


def by_language(items: list[tuple[Path, str, str]]) -> dict[str, list[tuple[Path, str]]]:
    """(wav path, reference) rows of each language, languages in order of first appearance."""
    groups: dict[str, list[tuple[Path, str]]] = {}
    for path, lang, ref in items:
        groups.setdefault(lang, []).append((path, ref))
    return groups


def batch_run(asr, items: list[tuple[Path, str, str]]) -> Tally:
    """The product transcribing the files as one batch per language (`ASR.transcribe_many`, how a folder is
    transcribed: faster-whisper reads the next file while the text of the last is corrected)."""
    tally = Tally()
    for lang, group in by_language(items).items():
        texts, wall, cpu = timed(lambda group=group, lang=lang: [
            t.text for t in asr.transcribe_many([p for p, _ in group], language=lang)])
        for (path, ref), hyp in zip(group, texts, strict=True):
            e, n = tally.add(lang, ref, hyp, 0.0, 0.0, duration(path))
            print(f"{'product_batch':13s} {path.name[:40]:40s} {lang} err {e:3d}/{n:<4d}            {hyp.strip()[:90]}",
                  flush=True)
        tally.wall += wall
        tally.cpu += cpu
    return tally


def long_run(items: list[tuple[Path, str, str]], runs: dict, threads: int) -> dict:
    """Each language's files joined (0.5 s of silence between them) into one recording, transcribed whole by each
    system: the latency of a long file, where faster-whisper's 30 s reads and the product's text stage overlap."""
    import tempfile

    import numpy as np

    out: dict = {}
    gap = np.zeros(8000, np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        for lang, group in by_language(items).items():
            joined = Path(tmp) / f"long_{lang}.wav"
            _write_wav(joined, np.concatenate([x for p, _ in group for x in (_read16k(p), gap)]))
            ref = ("" if lang in CJK else " ").join(r for _, r in group)
            secs = duration(joined)
            for name, fn in runs.items():
                hyp, wall, cpu = timed(lambda fn=fn, joined=joined, lang=lang: fn(joined, lang))
                tally = Tally()
                tally.add(lang, ref, hyp, wall, cpu, secs)
                figures = tally.figures(threads)
                out.setdefault(name, {}).update({k: v for k, v in figures.items() if k not in ("rtf", "cpu_rtf")})
                out[name][f"rtf_{lang}"] = figures["rtf"]
                print(f"long {name:8s} {lang} {secs:.0f} s of audio: {figures}", flush=True)
    return out


def make_sphinx():
    """pocketsphinx 5 with the en-us model in its wheel (English only)."""
    from pocketsphinx import Decoder

    dec = Decoder(samprate=16000, loglevel="FATAL")

    def run(path: Path, lang: str) -> str:
        raw = subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(path), "-ac", "1", "-ar", "16000",
                              "-f", "s16le", "-"], capture_output=True, check=True).stdout
        dec.start_utt()
        dec.process_raw(raw, full_utt=True)
        dec.end_utt()
        hyp = dec.hyp()
        return hyp.hypstr if hyp else ""

    return run


# ---------------------------------------------------------------- extra test audio
EXTRA_EN = [
    "The prime minister arrived in the capital on Monday for talks with regional leaders.",
    "Police said three people had been arrested after the protest turned violent.",
    "The company reported a sharp rise in profits for the third quarter.",
    "Doctors warned that the hospital was running out of beds as the outbreak spread.",
    "A spokesman for the ministry said the new rules would take effect next year.",
    "Thousands of fans lined the streets to welcome the team home.",
    "The bridge has been closed to traffic while engineers inspect the damage.",
    "Farmers say the drought has destroyed much of this season's harvest.",
    "The court ruled that the election results would stand.",
    "Prices at the pump have climbed for the fifth week in a row.",
    "The airline cancelled dozens of flights because of the strike.",
    "Rescue teams are still searching for survivors under the rubble.",
    "The government plans to build half a million new homes over the next decade.",
    "Students returned to classrooms after the long summer break.",
    "The mayor promised to improve public safety and clean up the parks.",
    "Investors reacted nervously to the latest figures on unemployment.",
    "The film won three awards at the festival on Saturday night.",
    "Officials confirmed that the water supply was safe to drink.",
    "Negotiators worked late into the night but failed to reach an agreement.",
    "The new railway line will cut travel times between the two cities by an hour.",
]
PERTURB = {
    "noise10": None,  # pink-ish noise at 10 dB SNR (numpy)
    "speed09": ["speed", "0.9"],
    "tempo115": ["tempo", "1.15"],
    "phone": ["sinc", "300-3400", "rate", "8000", "rate", "16000"],
    "reverb": ["reverb", "60"],
}


def _write_wav(path: Path, samples) -> None:
    import numpy as np

    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(np.clip(samples, -32768, 32767).astype("<i2").tobytes())


def _read16k(path: Path):
    import numpy as np

    raw = subprocess.run(["sox", str(path), "-t", "raw", "-r", "16000", "-c", "1", "-b", "16", "-e", "signed", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, dtype="<i2").astype(np.float32)


def make_extra(out: Path, source: Path) -> None:
    """Piper sentences (single and one long concatenation) plus noisy/sped/telephone/reverberant copies of the
    source folder's files, with transcripts.tsv."""
    import numpy as np

    from zhimei.models.speech import PiperTTS

    out.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, str, str]] = []
    tts = PiperTTS()
    rng = np.random.default_rng(7)
    long_parts = []
    for i, sentence in enumerate(EXTRA_EN):
        p = out / f"piper_en_{i:02d}.wav"
        tts.synthesize(sentence, out / f"_{i}.wav")
        x = _read16k(out / f"_{i}.wav")
        (out / f"_{i}.wav").unlink()
        _write_wav(p, x)
        rows.append((p.name, "en", sentence))
        long_parts += [x, np.zeros(int(16000 * rng.uniform(0.4, 1.2)), np.float32)]
    _write_wav(out / "piper_en_long.wav", np.concatenate(long_parts))
    rows.append(("piper_en_long.wav", "en", " ".join(EXTRA_EN)))
    for src, lang, text in read_set(source):
        x = _read16k(src)
        for name, effect in PERTURB.items():
            p = out / f"{src.stem}_{name}.wav"
            if effect is None:
                n = np.convolve(rng.standard_normal(len(x)), np.ones(8) / 8, mode="same")
                n *= np.sqrt((x ** 2).mean() / max((n ** 2).mean(), 1e-9) / 10)
                _write_wav(p, x + n)
            else:
                subprocess.run(["sox", str(src), "-r", "16000", "-c", "1", "-b", "16", str(p), *effect],
                               check=True, capture_output=True)
            rows.append((p.name, lang, text))
    with (out / "transcripts.tsv").open("w", encoding="utf-8") as fh:
        fh.write("file\tlang\ttext\n")
        for r in rows:
            fh.write("\t".join(r) + "\n")
    print(f"wrote {len(rows)} files to {out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEV, help="folder of .wav + transcripts.tsv")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads for every system (default 2)")
    ap.add_argument("--no-pocketsphinx", action="store_true", help="skip the pocketsphinx baseline")
    ap.add_argument("--limit", type=int, default=0, help="only the first N files")
    ap.add_argument("--long", action="store_true",
                    help="also join each language's files into one long recording and time bare and product on it")
    ap.add_argument("--make-extra", type=Path, metavar="OUT", help="build extra test audio into OUT and stop")
    args = ap.parse_args()
    if args.make_extra:
        make_extra(args.make_extra, args.data)
        return
    items = read_set(args.data)[: args.limit or None]
    bare = make_bare(args.threads)
    product, product_name, product_asr = make_product(args.threads)
    sphinx = None if args.no_pocketsphinx else make_sphinx()
    # warm-up (one file per language) so model loading is not timed
    for lang, group in by_language(items).items():
        first = group[0][0]
        bare(first, lang)
        product(first, lang)
    systems = {"bare": Tally(), "product": Tally(), "pocketsphinx": Tally()}
    for path, lang, ref in items:
        secs = duration(path)
        runs = [("bare", bare), ("product", product)]
        if sphinx and lang == "en":
            runs.append(("pocketsphinx", sphinx))
        for name, fn in runs:
            hyp, wall, cpu = timed(lambda fn=fn, path=path, lang=lang: fn(path, lang))
            e, n = systems[name].add(lang, ref, hyp, wall, cpu, secs)
            rtf = wall / max(secs, 1e-6)
            print(f"{name:13s} {path.name[:40]:40s} {lang} err {e:3d}/{n:<4d} rtf {rtf:.3f}  {hyp.strip()[:90]}",
                  flush=True)
    systems = {"bare": systems["bare"], "product": systems["product"],
               "product_batch": batch_run(product_asr, items), "pocketsphinx": systems["pocketsphinx"]}
    result = {"data": str(args.data), "files": len(items), "threads": args.threads, "product_backend": product_name}
    if args.long:
        result["long"] = long_run(items, {"bare": bare, "product": product}, args.threads)
    print(f"\n{'system':13s} {'wer_en':>7s} {'cer_zh':>7s} {'rtf':>6s} {'cpu_rtf':>7s}  audio_s")
    for name, t in systems.items():
        if t.audio:
            result[name] = f = t.figures(args.threads)
            cells = [f.get(k) for k in ("wer_en", "cer_zh", "rtf", "cpu_rtf")]
            print(f"{name:13s} " + " ".join(f"{'-' if c is None else c:>7}" for c in cells) + f"  {t.audio:.0f}")
    for key in ("cer_zh", "wer_en"):
        b, p = result["bare"].get(key), result["product"].get(key)
        if b is not None and p is not None:
            result[f"product_minus_bare_{key}"] = round(p - b, 4)
    prod = result.get("product", {})
    if prod.get("rtf") is not None:
        from zhimei.models.speeds import record_speed

        acc = ", ".join(f"{k} {v}" for k, v in prod.items() if k.startswith(("wer", "cer")))
        record_speed("asr", product_name, f"RTF {prod['rtf']} ({args.threads} threads; {acc}; {args.data.name})")
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
