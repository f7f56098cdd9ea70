"""Evidence packets (取证): export with a signed manifest, verify offline, and every corruption detected and
named: altered member, altered manifest, bad signature, wrong key, truncated zip, extra/missing member, zip-slip."""

from __future__ import annotations

import base64
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from conftest import run_ffmpeg
from PIL import Image
from typer.testing import CliRunner

from zhimei.library.assets import ingest_file
from zhimei.review.evidence import EvidenceError, export_evidence, verify_evidence
from zhimei.review.labels import keys
from zhimei.store.blobs import get_blob_store
from zhimei.store.db import session_scope
from zhimei.store.models import Keyframe, Segment


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _video_asset(tmp_path: Path) -> int:
    """A short video with stored keyframes and transcript/OCR segments (rows as the pipeline writes them)."""
    v = tmp_path / "flagged.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-f", "lavfi", "-i", "sine", "-t", "6",
               "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(v))
    aid = ingest_file(v, title="可疑视频 flagged clip", source="upload").asset_id
    store = get_blob_store()
    frames = []
    for i, t in enumerate((0.5, 3.5)):
        f = tmp_path / f"kf{i}.jpg"
        run_ffmpeg("-ss", str(t), "-i", str(v), "-frames:v", "1", str(f))
        frames.append((i, t, store.put_file(f)))
    with session_scope() as s:
        for seq, t, sha in frames:
            s.add(Keyframe(asset_id=aid, shot_seq=seq, time=t, blob_sha=sha, thumb_sha=sha, width=320, height=240))
        s.add(Segment(asset_id=aid, kind="transcript", seq=0, start=0.0, end=2.5, text="这是一段可疑的讲话。"))
        s.add(Segment(asset_id=aid, kind="transcript", seq=1, start=2.5, end=5.0, text="Second sentence."))
        s.add(Segment(asset_id=aid, kind="ocr", seq=0, start=3.5, end=3.5, text="画面文字 ON SCREEN"))
    return aid


@pytest.fixture
def packet(zhome, tmp_path) -> tuple[int, Path]:
    aid = _video_asset(tmp_path)
    out = tmp_path / "evidence.zip"
    export_evidence(aid, out, reviewer="张审核", decision="blocked", note="deepfake suspicion")
    return aid, out


def _rewrite(src: Path, dst: Path, change) -> None:
    """Copy a zip member by member, letting `change(name, data)` return new bytes (or None to drop it)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = change(info.filename, zin.read(info.filename))
            if data is not None:
                zout.writestr(info, data)


def test_export_contents_and_round_trip(packet, tmp_path):
    aid, out = packet
    rep = verify_evidence(out)
    assert rep.valid, rep.problems
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read("manifest.json"))
        transcript = zf.read("text/transcript.txt").decode()
        ocr = zf.read("text/ocr.txt").decode()
    assert {"manifest.json", "manifest.sig", "media/original.mp4", "text/segments.json", "provenance.json",
            "README.txt"} <= names
    assert sum(n.startswith("frames/keyframe-") for n in names) == 2
    assert "[00:00:00.000 – 00:00:02.500] 这是一段可疑的讲话。" in transcript and "ON SCREEN" in ocr
    assert manifest["asset"]["id"] == aid and manifest["decision"]["decision"] == "blocked"
    assert manifest["decision"]["reviewer"] == "张审核" and manifest["exported_at"].endswith("Z")
    assert manifest["asset"]["created_at"].endswith("Z")
    assert all(len(f["sha256"]) == 64 for f in manifest["files"])
    assert manifest["signature"]["fingerprint"] == keys.fingerprint(keys.signing_key()) == rep.fingerprint
    # the default key was generated once, private, under $ZHIMEI_HOME/keys
    assert (keys.key_path().stat().st_mode & 0o777) == 0o600
    # pinning the right key passes; another key is refused
    assert verify_evidence(out, public_key=keys.public_key_b64(keys.signing_key())).valid
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    other = keys.public_key_b64(Ed25519PrivateKey.generate())
    assert [p.code for p in verify_evidence(out, public_key=other).problems][0] == "key-mismatch"


def test_clip_export(zhome, tmp_path):
    aid = _video_asset(tmp_path)
    out = tmp_path / "clip.zip"
    m = export_evidence(aid, out, reviewer="r", decision="needs_review", clip=(2.0, 4.0))
    assert m["clip"] == {"start": 2.0, "end": 4.0} and verify_evidence(out).valid
    assert [f["path"] for f in m["files"] if f["role"] == "keyframe"] == ["frames/keyframe-0001-000003.500.jpg"]
    with zipfile.ZipFile(out) as zf:
        assert "media/clip.mp4" in zf.namelist() and "Second sentence." in zf.read("text/transcript.txt").decode()
    with pytest.raises(EvidenceError, match="not inside the asset"):
        export_evidence(aid, tmp_path / "bad.zip", clip=(9.0, 8.0))
    with pytest.raises(EvidenceError, match="no asset"):
        export_evidence(987654, tmp_path / "x.zip")
    with pytest.raises(EvidenceError, match="does not exist"):
        export_evidence(aid, tmp_path / "missing-dir" / "x.zip")


def test_image_packet(zhome, tmp_path):
    p = tmp_path / "photo.jpg"
    Image.new("RGB", (64, 48), (1, 2, 3)).save(p)
    aid = ingest_file(p).asset_id
    out = tmp_path / "img.zip"
    export_evidence(aid, out, reviewer="r", decision="rejected")
    with zipfile.ZipFile(out) as zf:
        assert zf.read("media/original.jpg") == p.read_bytes()
    assert verify_evidence(out).valid


CASES = {
    "altered-member": lambda n, d: d.replace(b"Second", b"Altered") if n == "text/transcript.txt" else d,
    "signature-mismatch": lambda n, d: d.replace(b"blocked", b"passed!") if n == "manifest.json" else d,
    "bad-signature-file": lambda n, d: b"not base64!!" if n == "manifest.sig" else d,
    "missing-member": lambda n, d: None if n.startswith("frames/keyframe-0000") else d,
    "missing-signature": lambda n, d: None if n == "manifest.sig" else d,
    "missing-manifest": lambda n, d: None if n == "manifest.json" else d,
}


@pytest.mark.parametrize("code", sorted(CASES))
def test_each_corruption_is_named(packet, tmp_path, code):
    _, out = packet
    bad = tmp_path / f"{code}.zip"
    _rewrite(out, bad, CASES[code])
    rep = verify_evidence(bad)
    assert not rep.valid and code in [p.code for p in rep.problems], rep.problems


def test_resigned_by_another_key_is_caught_when_pinned(packet, tmp_path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    _, out = packet
    forger = Ed25519PrivateKey.generate()

    def forge(name, data):
        if name == "manifest.json":
            m = json.loads(data)
            m["decision"]["decision"] = "passed"
            m["signature"]["public_key"] = keys.public_key_b64(forger)
            m["signature"]["fingerprint"] = keys.fingerprint(forger)
            forge.manifest = json.dumps(m).encode()
            return forge.manifest
        if name == "manifest.sig":
            return None
        return data

    bad = tmp_path / "forged.zip"
    _rewrite(out, bad, forge)
    with zipfile.ZipFile(bad, "a") as zf:
        zf.writestr("manifest.sig", base64.b64encode(forger.sign(forge.manifest)))
    assert verify_evidence(bad).valid  # self-consistent: only pinning the newsroom's key catches it
    pinned = verify_evidence(bad, public_key=keys.public_key_b64(keys.signing_key()))
    assert not pinned.valid and [p.code for p in pinned.problems] == ["key-mismatch", "signature-mismatch"]


def test_corrupted_member_bytes_truncation_extra_and_hostile_names(packet, tmp_path):
    _, out = packet
    # flip bytes inside a stored member: the CRC check fails
    data = bytearray(out.read_bytes())
    with zipfile.ZipFile(out) as zf:
        info = zf.getinfo("media/original.mp4")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra) + 100
    data[start] ^= 0xFF
    crc = tmp_path / "crc.zip"
    crc.write_bytes(bytes(data))
    rep = verify_evidence(crc)
    assert [(p.code, p.path) for p in rep.problems] == [("corrupted-member", "media/original.mp4")]
    # truncated download
    cut = tmp_path / "cut.zip"
    cut.write_bytes(out.read_bytes()[: out.stat().st_size // 2])
    assert [p.code for p in verify_evidence(cut).problems] == ["not-a-zip"]
    assert "truncated" in verify_evidence(cut).problems[0].message
    # not a zip at all / missing file
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"hello")
    assert verify_evidence(junk).problems[0].code == "not-a-zip"
    assert verify_evidence(tmp_path / "nope.zip").problems[0].code == "not-found"
    # a file slipped in
    extra = tmp_path / "extra.zip"
    shutil.copy(out, extra)
    with zipfile.ZipFile(extra, "a") as zf:
        zf.writestr("frames/injected.jpg", b"\xff\xd8fake")
    assert [p.code for p in verify_evidence(extra).problems] == ["extra-member"]
    # zip-slip and friends are refused before anything is read
    for name in ("../evil.txt", "/etc/passwd", "a\\..\\b.txt", "frames/../../x", "C:/x.txt"):
        hostile = tmp_path / "hostile.zip"
        shutil.copy(out, hostile)
        with zipfile.ZipFile(hostile, "a") as zf:
            zf.writestr(zipfile.ZipInfo(name), b"x")
        rep = verify_evidence(hostile)
        assert not rep.valid and rep.problems[0].code == "hostile-name", (name, rep.problems)
    dup = tmp_path / "dup.zip"
    shutil.copy(out, dup)
    with pytest.warns(UserWarning), zipfile.ZipFile(dup, "a") as zf:
        zf.writestr("README.txt", b"second copy")
    assert "duplicate-member" in [p.code for p in verify_evidence(dup).problems]


def test_cli_export_and_verify(packet, tmp_path):
    from zhimei.cli import app

    aid, _ = packet
    runner = CliRunner()
    out = tmp_path / "cli.zip"
    r = runner.invoke(app, ["evidence", "export", str(aid), str(out), "--reviewer", "li", "--decision", "blocked"])
    assert r.exit_code == 0 and out.exists(), r.output
    r = runner.invoke(app, ["evidence", "verify", str(out), "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["valid"] is True
    r = runner.invoke(app, ["evidence", "verify", str(out)])
    assert r.exit_code == 0 and "valid" in r.stdout
    bad = tmp_path / "bad.zip"
    _rewrite(out, bad, CASES["altered-member"])
    r = runner.invoke(app, ["evidence", "verify", str(bad)])
    assert r.exit_code == 1 and "altered-member" in r.output and "text/transcript.txt" in r.output
    r = runner.invoke(app, ["evidence", "export", "424242", str(tmp_path / "n.zip")])
    assert r.exit_code == 2 and "no asset 424242" in r.output
    r = runner.invoke(app, ["evidence", "export", str(aid), str(tmp_path / "c.zip"), "--start", "1"])
    assert r.exit_code == 2 and "both --start and --end" in r.output


def test_rest_export_and_verify(packet, client, tokens, tmp_path):
    aid, _ = packet
    assert client.post(f"/api/assets/{aid}/evidence", headers=bearer(tokens["viewer"])).status_code == 403
    r = client.post(f"/api/assets/{aid}/evidence", json={"decision": "blocked", "note": "n"},
                    headers=bearer(tokens["reviewer"]))
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert "evidence-asset-" in r.headers["content-disposition"]
    z = tmp_path / "rest.zip"
    z.write_bytes(r.content)
    rep = verify_evidence(z)
    assert rep.valid and rep.manifest["decision"]["reviewer"] == "t-reviewer"
    ok = client.post("/api/evidence/verify", content=z.read_bytes(), headers=bearer(tokens["viewer"]))
    assert ok.status_code == 200 and ok.json()["valid"] is True
    files = {"file": ("p.zip", z.read_bytes()[:-40], "application/zip")}
    bad = client.post("/api/evidence/verify", files=files, headers=bearer(tokens["viewer"]))
    assert bad.status_code == 200 and bad.json()["valid"] is False
    assert bad.json()["problems"][0]["code"] == "not-a-zip"
    assert client.post("/api/assets/31337/evidence", headers=bearer(tokens["reviewer"])).status_code == 404
    r = client.post(f"/api/assets/{aid}/evidence", json={"start": 1}, headers=bearer(tokens["reviewer"]))
    assert r.status_code == 422 and "both start and end" in r.json()["detail"]
    page = client.get("/evidence/verify", headers=bearer(tokens["viewer"]))
    assert page.status_code == 200 and "verify-form" in page.text


@pytest.mark.slow
def test_packet_from_the_real_pipeline(zhome, sample_video, tmp_path):
    """The sample video through every stage (shots, keyframes, ASR, OCR, provenance), then its packet."""
    import zhimei.jobs as jobs
    from zhimei.review.labels import stages  # noqa: F401  (registers the provenance stage)
    from zhimei.store.models import Asset

    aid = ingest_file(sample_video, source="test").asset_id
    jobs.drain()
    with session_scope() as s:
        a = s.get(Asset, aid)
        assert a.status == "ready", a.failure_reason
        assert a.meta["provenance"]["inbound"]["status"] == "none"
    out = tmp_path / "sample.zip"
    m = export_evidence(aid, out, reviewer="r", decision="blocked")
    assert m["counts"]["keyframes"] >= 3 and m["counts"].get("transcript", 0) >= 1
    with zipfile.ZipFile(out) as zf:
        assert "Council" in zf.read("text/transcript.txt").decode()
        prov = json.loads(zf.read("provenance.json"))
    assert prov["inbound"]["status"] == "none"
    assert verify_evidence(out).valid
