"""AIGC labels: implicit labels written per format and read back by independent tools (exiftool, ffprobe,
mutagen); explicit label sizes; C2PA manifests validated by c2pa's Reader; tampering and removed labels."""

from __future__ import annotations

import json
import subprocess
import wave
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import run_ffmpeg
from PIL import Image

from zhimei.review.labels import (
    AigcLabel,
    LabelError,
    label_audio,
    label_image,
    label_text,
    label_video,
    make_dev_chain,
    read_aigc,
    read_c2pa,
    read_inbound_labels,
    sign_c2pa,
    write_aigc,
)
from zhimei.review.labels.c2pa_manifest import c2pa_config
from zhimei.review.labels.implicit import detect_format

FORMATS = ["jpg", "png", "mp4", "mov", "mp3", "wav", "flac"]


@pytest.fixture
def signing(zhome, tmp_path, monkeypatch):
    """A test ES256 chain (root + leaf) made with `cryptography`, configured through the environment."""
    chain, key, root = make_dev_chain(tmp_path / "c2pa-test", common_name="zhimei test signer")
    monkeypatch.setenv("ZHIMEI_C2PA_CERT", str(chain))
    monkeypatch.setenv("ZHIMEI_C2PA_KEY", str(key))
    return {"chain": chain, "key": key, "root": root}


def make_media(folder: Path, ext: str) -> Path:
    """Small real media made by ffmpeg (testsrc / sine)."""
    p = folder / f"in.{ext}"
    if ext in ("jpg", "png"):
        run_ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240", "-frames:v", "1", str(p))
    elif ext in ("mp4", "mov"):
        run_ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440",
                   "-t", "5", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(p))
    else:
        run_ffmpeg("-f", "lavfi", "-i", "sine=frequency=440", "-t", "3", str(p))
    return p


def exiftool(path: Path) -> dict:
    out = subprocess.run(["exiftool", "-j", "-G1", "-a", str(path)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)[0]


def independent_aigc(path: Path, ext: str) -> list[dict]:
    """The AIGC values as tools other than zhimei read them."""
    values: list[str] = []
    if ext in ("jpg", "png"):
        meta = exiftool(path)
        values = [v for k, v in meta.items() if k.lower().endswith(":aigc")]
    elif ext in ("mp4", "mov"):
        out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format_tags", "-of", "json", str(path)],
                             capture_output=True, text=True, check=True)
        tags = json.loads(out.stdout)["format"]["tags"]
        values = [v for k, v in tags.items() if k == "AIGC"]
    else:
        import mutagen

        f = mutagen.File(str(path))
        if ext == "flac":
            values = list(f.tags.get("AIGC") or [])
        else:
            values = [str(f.tags["TXXX:AIGC"].text[0])]
    return [json.loads(v) for v in values]


@pytest.mark.parametrize("ext", FORMATS)
def test_implicit_label_round_trip_with_independent_reader(zhome, tmp_path, ext):
    src = make_media(tmp_path, ext)
    label = AigcLabel(Label="1", ContentProducer="001191110102MAD55U9H0F10002", ProduceID=f"zm-{ext}-0001")
    label = label.signed_by_producer()
    out = write_aigc(src, tmp_path / f"out.{ext}", label)
    assert src.read_bytes() != out.read_bytes() and out.stat().st_size > 0
    # an independent tool sees exactly the seven GB 45438 elements
    seen = independent_aigc(out, ext)
    assert seen and all(v == label.to_dict() for v in seen), seen
    assert list(seen[0]) == ["Label", "ContentProducer", "ProduceID", "ReservedCode1", "ContentPropagator",
                             "PropagateID", "ReservedCode2"]
    # zhimei reads it back, and the producer's signature checks out
    found = [f for f in read_aigc(out) if f.label]
    assert found and found[0].label == label and found[0].label.check_codes()["ReservedCode1"] == "valid"
    # the propagator fields are added at publication, keeping the producer's
    published = replace(label, ContentPropagator="91440300MA5FYBFG1P", PropagateID="pub-77").signed_by_propagator()
    out2 = write_aigc(out, tmp_path / f"pub.{ext}", published)
    seen2 = independent_aigc(out2, ext)
    assert seen2 and seen2[0]["ProduceID"] == label.ProduceID and seen2[0]["PropagateID"] == "pub-77"
    assert [f.label for f in read_aigc(out2) if f.label][0].check_codes() == {"ReservedCode1": "valid",
                                                                              "ReservedCode2": "valid"}


def test_implicit_label_keeps_other_metadata(zhome, tmp_path):
    src = make_media(tmp_path, "jpg")
    tagged = tmp_path / "tagged.jpg"
    subprocess.run(["exiftool", "-q", "-o", str(tagged), "-XMP-dc:Creator=Reporter Li", "-EXIF:Artist=Li",
                    str(src)], check=True)
    out = write_aigc(tagged, tmp_path / "out.jpg", AigcLabel(ContentProducer="zhimei", ProduceID="x1"))
    meta = exiftool(out)
    assert meta.get("XMP-dc:Creator") == "Reporter Li" and meta.get("IFD0:Artist") == "Li"
    assert json.loads(meta["XMP-TC260:Aigc"])["ProduceID"] == "x1"


def test_aigc_values_are_checked(zhome):
    with pytest.raises(LabelError, match="Label must be"):
        AigcLabel(Label="4", ContentProducer="a", ProduceID="b")
    with pytest.raises(LabelError, match="ContentProducer may hold only printable ASCII"):
        AigcLabel(ContentProducer="某公司 Ltd", ProduceID="b")
    with pytest.raises(LabelError, match="ProduceID"):
        AigcLabel(ContentProducer="a", ProduceID='x"y')


def test_altered_label_is_detected(zhome, tmp_path):
    src = make_media(tmp_path, "jpg")
    label = AigcLabel(ContentProducer="zhimei", ProduceID="orig-1").signed_by_producer()
    out = write_aigc(src, tmp_path / "out.jpg", label)
    # someone rewrites the ProduceID in the XMP but cannot re-sign ReservedCode1
    forged = tmp_path / "forged.jpg"
    forged.write_bytes(out.read_bytes().replace(b"orig-1", b"forg-9"))
    assert independent_aigc(forged, "jpg")[0]["ProduceID"] == "forg-9"
    info = read_inbound_labels(forged)
    assert info["status"] == "tampered"
    assert any("altered after zhimei signed it (ReservedCode1" in n for n in info["notes"])


def test_unknown_format_and_garbage_are_refused_clearly(zhome, tmp_path):
    p = tmp_path / "x.bin"
    p.write_bytes(b"\x00\x01not media at all")
    with pytest.raises(LabelError, match="implicit labels are written into JPEG"):
        write_aigc(p, tmp_path / "y.bin", AigcLabel(ContentProducer="a", ProduceID="b"))
    assert read_inbound_labels(p)["status"] == "none"
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(make_media(tmp_path, "jpg").read_bytes()[:300])
    with pytest.raises(LabelError, match="truncated"):
        write_aigc(broken, tmp_path / "z.jpg", AigcLabel(ContentProducer="a", ProduceID="b"))
    from PIL import PngImagePlugin

    bad_json = tmp_path / "bad.png"
    info = PngImagePlugin.PngInfo()
    info.add_itxt("AIGC", "{not json")
    Image.open(make_media(tmp_path, "png")).save(bad_json, pnginfo=info)
    notes = read_inbound_labels(bad_json)["notes"]
    assert any("not JSON" in n for n in notes)


# ---- explicit labels ---------------------------------------------------------------------------------

def _ink_bbox(before: np.ndarray, after: np.ndarray) -> tuple[int, int, int, int]:
    """Bounding box of the label's bright text pixels: changed pixels that are near-white."""
    changed = np.abs(after.astype(int) - before.astype(int)).sum(axis=2) > 60
    bright = after.min(axis=2) > 200
    ys, xs = np.nonzero(changed & bright)
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


@pytest.mark.parametrize("size", [(320, 240), (1280, 720), (600, 900)])
def test_image_label_text_is_at_least_5_percent_of_short_side(zhome, tmp_path, size):
    src = tmp_path / "dark.png"
    Image.new("RGB", size, (20, 30, 40)).save(src)
    info = label_image(src, tmp_path / "out.png")
    before = np.asarray(Image.open(src).convert("RGB"))
    after = np.asarray(Image.open(tmp_path / "out.png").convert("RGB"))
    x0, y0, x1, y1 = _ink_bbox(before, after)
    text_height = y1 - y0 + 1
    assert text_height >= 0.05 * min(size), (text_height, size)
    bx0, by0, bx1, by1 = info["box"]
    assert bx0 <= x0 and by0 <= y0 and x1 < bx1 and y1 < by1  # inside the reported box, in a corner
    assert bx1 > size[0] * 0.8 and by1 > size[1] * 0.8  # bottom-right by default
    assert info["ratio"] >= 0.05


def test_image_label_keeps_format_and_refuses_tiny(zhome, tmp_path):
    src = make_media(tmp_path, "jpg")
    label_image(src, tmp_path / "out.jpg", corner="top-left")
    assert Image.open(tmp_path / "out.jpg").format == "JPEG"
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (12, 12)).save(tiny)
    with pytest.raises(LabelError, match="too small"):
        label_image(tiny, tmp_path / "t.png")
    with pytest.raises(LabelError, match="corner must be"):
        label_image(src, tmp_path / "o.jpg", corner="middle")


def _frame(video: Path, t: float, out: Path) -> np.ndarray:
    run_ffmpeg("-ss", str(t), "-i", str(video), "-frames:v", "1", str(out))
    return np.asarray(Image.open(out).convert("RGB")).astype(int)


def test_video_label_is_on_the_opening_frames_only(zhome, tmp_path):
    src = tmp_path / "grey.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "color=c=0x404040:size=320x240:rate=25", "-t", "5", "-c:v", "libx264",
               "-pix_fmt", "yuv420p", str(src))
    info = label_video(src, tmp_path / "out.mp4", seconds=2.5)
    x0, y0, x1, y1 = info["box"]
    out = tmp_path / "out.mp4"
    region = slice(y0, y1), slice(x0, x1)
    at1 = _frame(out, 1.0, tmp_path / "f1.png")[region]
    at4 = _frame(out, 4.0, tmp_path / "f4.png")[region]
    orig = _frame(src, 1.0, tmp_path / "o1.png")[region]
    assert np.abs(at1 - orig).mean() > 20  # the label is there at 1 s
    assert np.abs(at4 - orig).mean() < 4  # and gone at 4 s
    assert (at1.min(axis=2) > 200).any()  # white text pixels
    with pytest.raises(LabelError, match="at least 2 s"):
        label_video(src, tmp_path / "x.mp4", seconds=1.0)


def _seconds(path: Path) -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True)
    return float(json.loads(out.stdout)["format"]["duration"])


@pytest.mark.parametrize("ext", ["mp3", "wav", "flac"])
def test_audio_label_speaks_a_notice_first(zhome, tmp_path, ext):
    src = make_media(tmp_path, ext)
    out = tmp_path / f"out.{ext}"
    info = label_audio(src, out, fmt=ext)
    assert _seconds(out) > _seconds(src) + 1.5
    assert info["notice_seconds"] > 1.5 and detect_format(out) == ext
    if ext == "wav":
        with wave.open(str(out)) as w:  # speech in front: the first second is not the 440 Hz tone's level
            frames = np.frombuffer(w.readframes(w.getframerate()), dtype=np.int16)
        assert np.abs(frames).max() > 500


def test_text_notice(zhome):
    out = label_text("大桥今天通车。")
    assert out.startswith("【本内容由人工智能生成】") and out.rstrip().endswith("[AI-generated content]")
    assert label_text(out) == out  # not twice


# ---- C2PA ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("ext", FORMATS)
def test_c2pa_manifest_validates_and_tampering_fails(signing, tmp_path, ext):
    import c2pa

    src = make_media(tmp_path, ext)
    fmt = detect_format(src)
    label = AigcLabel(ContentProducer="zhimei", ProduceID=f"c2pa-{ext}").signed_by_producer()
    labelled = write_aigc(src, tmp_path / f"l.{ext}", label)
    signed = tmp_path / f"s.{ext}"
    sign_c2pa(labelled, signed, fmt, title="test", aigc=label, config=c2pa_config())
    # c2pa's own Reader: every hash and the signature are valid; the only failure is the untrusted test root
    reader = c2pa.Reader(str(signed))
    assert reader.get_validation_state() == "Valid"
    failures = [f["code"] for f in (reader.get_validation_results()["activeManifest"].get("failure") or [])]
    assert failures == ["signingCredential.untrusted"]
    reader.close()
    # with the test root as trust anchor it is Trusted
    trusted = read_c2pa(signed, trust_anchors=signing["root"])
    assert trusted["state"] == "Trusted" and trusted["aigc"] == label.to_dict() and not trusted["tampered"]
    # the AIGC metadata survives signing
    assert independent_aigc(signed, ext)[0] == label.to_dict()
    # flip bytes in the media data: the manifest no longer validates
    data = bytearray(signed.read_bytes())
    pos = len(data) - 64 if ext not in ("mp4", "mov") else _mdat_offset(data) + 64
    data[pos] ^= 0xFF
    data[pos + 1] ^= 0xFF
    tampered = tmp_path / f"t.{ext}"
    tampered.write_bytes(bytes(data))
    info = read_inbound_labels(tampered)
    assert info["c2pa"]["tampered"] and info["status"] == "tampered", info
    assert any("fails validation" in n for n in info["notes"])


def _mdat_offset(data: bytearray) -> int:
    return data.index(b"mdat")


def test_removed_label_is_detected(signing, tmp_path):
    src = make_media(tmp_path, "jpg")
    label = AigcLabel(ContentProducer="zhimei", ProduceID="rm-1").signed_by_producer()
    signed = tmp_path / "s.jpg"
    sign_c2pa(write_aigc(src, tmp_path / "l.jpg", label), signed, "jpeg", title="t", aigc=label)
    # strip only the XMP (the implicit label): the C2PA manifest still says AI-generated
    stripped = tmp_path / "stripped.jpg"
    subprocess.run(["exiftool", "-q", "-o", str(stripped), "-XMP:all=", str(signed)], check=True)
    assert not independent_aigc(stripped, "jpg")
    info = read_inbound_labels(stripped)
    assert info["status"] in ("label-removed", "tampered")
    assert any("implicit label was removed" in n for n in info["notes"]), info["notes"]
    # re-encode the pixels with Pillow: every label gone, nothing left to find in the file itself
    plain = tmp_path / "plain.jpg"
    Image.open(signed).save(plain, quality=90)
    assert read_inbound_labels(plain)["status"] == "none"


def test_signing_configuration_errors(zhome, tmp_path, monkeypatch):
    monkeypatch.setenv("ZHIMEI_C2PA_CERT", str(tmp_path / "missing.pem"))
    with pytest.raises(LabelError, match="set both c2pa_cert and c2pa_key"):
        c2pa_config()
    monkeypatch.setenv("ZHIMEI_C2PA_KEY", str(tmp_path / "missing.key"))
    with pytest.raises(LabelError, match="does not exist"):
        c2pa_config()
    monkeypatch.delenv("ZHIMEI_C2PA_CERT")
    monkeypatch.delenv("ZHIMEI_C2PA_KEY")
    with pytest.raises(LabelError, match="c2pa_alg"):
        c2pa_config(alg="md5")
    dev = c2pa_config()  # nothing configured: a local development chain, made once with mode 600 on the key
    assert dev.development and dev.trust_anchors and (dev.key.stat().st_mode & 0o777) == 0o600
    assert c2pa_config().cert == dev.cert
