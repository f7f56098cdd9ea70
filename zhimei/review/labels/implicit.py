"""Implicit labels (隐式标识): the AIGC object written into and read from file metadata.

| format   | where zhimei writes it                                                    | independent reader   |
|----------|---------------------------------------------------------------------------|----------------------|
| JPEG     | XMP (APP1) property ``TC260:AIGC`` (namespace http://www.tc260.org.cn/ns/AIGC/1.0/) | exiftool  |
| PNG      | XMP (iTXt ``XML:com.adobe.xmp``) as above, plus an iTXt chunk ``AIGC``   | exiftool (PNG:AIGC)  |
| MP4/MOV  | a metadata key ``AIGC`` (ffmpeg ``-movflags use_metadata_tags``)          | ffprobe format tags  |
| MP3      | ID3v2 ``TXXX:AIGC``                                                       | mutagen              |
| WAV      | ID3v2 chunk ``TXXX:AIGC``                                                 | mutagen              |
| FLAC     | Vorbis comment ``AIGC``                                                   | mutagen              |
| HTML     | ``<meta name="AIGC" content="...">``                                      | any HTML parser      |

Writing never removes other metadata: an existing XMP packet gets the property merged in, other chunks,
frames and tags are kept. Writes go to a temporary file beside the target and replace it atomically.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zhimei.review.labels.aigc import XMP_NS, XMP_PREFIX, AigcLabel, LabelError, parse_aigc_json

__all__ = ["FORMATS", "Finding", "detect_format", "write_aigc", "read_aigc", "build_xmp", "merge_xmp"]

FORMATS = ("jpeg", "png", "mp4", "mov", "mp3", "wav", "flac", "html")
XMP_JPEG_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
X_NS = "adobe:ns:meta/"
FFPROBE_TIMEOUT = 60
FFMPEG_TIMEOUT = 600


@dataclass
class Finding:
    """One AIGC value found in a file: where, the raw text, and what it parses to."""

    container: str
    raw: str
    label: AigcLabel | None = None
    fields: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"container": self.container, "raw": self.raw[:4000], "fields": self.fields,
                "valid": self.label is not None and not self.problems, "problems": self.problems,
                "meaning": self.label.meaning if self.label else None}


def _finding(container: str, raw: str) -> Finding:
    label, fields_, problems = parse_aigc_json(raw)
    return Finding(container, raw, label, fields_, problems)


def detect_format(path: str | os.PathLike[str]) -> str:
    """One of FORMATS from the file's first bytes, or LabelError naming what it is not."""
    with open(path, "rb") as fh:
        head = fh.read(64)
        if head.startswith(b"ID3") and len(head) >= 10:
            # an ID3v2 tag in front (c2pa puts one before FLAC too): look at what follows it
            size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]
            fh.seek(10 + size + (10 if head[5] & 0x10 else 0))
            after = fh.read(4)
            if after == b"fLaC":
                return "flac"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[4:8] == b"ftyp":
        return "mov" if head[8:12] == b"qt  " else "mp4"
    if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2", b"\xff\xfa"):
        return "mp3"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"fLaC"):
        return "flac"
    text = head.decode("utf-8", "ignore").lstrip("\ufeff \t\r\n").lower()
    if text.startswith(("<!doctype html", "<html", "<head", "<meta")):
        return "html"
    raise LabelError("implicit labels are written into JPEG, PNG, MP4/MOV, MP3, WAV, FLAC and HTML files; "
                     "this file is none of them")


@contextmanager
def _atomic_copy(src: Path, dst: Path) -> Iterator[Path]:
    """A temp copy of src beside dst; on success it replaces dst."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=src.suffix or dst.suffix, dir=dst.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        shutil.copyfile(src, tmp)
        os.chmod(tmp, 0o644)
        yield tmp
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


# ---- XMP ----------------------------------------------------------------------------------------------

def build_xmp(label: AigcLabel) -> bytes:
    """A fresh XMP packet holding only TC260:AIGC."""
    return merge_xmp(None, label)


def _xml_parser():
    from lxml import etree

    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_blank_text=False)


def merge_xmp(existing: bytes | None, label: AigcLabel) -> bytes:
    """Put TC260:AIGC into an XMP packet (replacing an earlier AIGC value, keeping everything else)."""
    from lxml import etree

    value = label.to_json()
    if existing and existing.strip():
        body = re.sub(rb"<\?xpacket[^>]*\?>", b"", existing).strip()
        if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
            raise LabelError("the file's XMP declares a DTD or entities; zhimei does not rewrite it")
        try:
            root = etree.fromstring(body, _xml_parser())
        except etree.XMLSyntaxError as exc:
            raise LabelError(f"the file's existing XMP is malformed ({exc}); refusing to replace it") from None
        rdf = root if root.tag == f"{{{RDF_NS}}}RDF" else root.find(f".//{{{RDF_NS}}}RDF")
        if rdf is None:
            raise LabelError("the file's existing XMP has no rdf:RDF element; refusing to replace it")
        for desc in rdf.findall(f"{{{RDF_NS}}}Description"):
            desc.attrib.pop(f"{{{XMP_NS}}}AIGC", None)
            for el in desc.findall(f"{{{XMP_NS}}}AIGC"):
                desc.remove(el)
    else:
        root = etree.Element(f"{{{X_NS}}}xmpmeta", nsmap={"x": X_NS})
        rdf = etree.SubElement(root, f"{{{RDF_NS}}}RDF", nsmap={"rdf": RDF_NS})
    desc = etree.SubElement(rdf, f"{{{RDF_NS}}}Description", nsmap={XMP_PREFIX: XMP_NS})
    desc.set(f"{{{RDF_NS}}}about", "")
    etree.SubElement(desc, f"{{{XMP_NS}}}AIGC").text = value
    packet = etree.tostring(root, encoding="utf-8")
    return (b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>\n' + packet
            + b'\n<?xpacket end="w"?>')


def _xmp_findings(xmp: bytes, container: str) -> list[Finding]:
    from lxml import etree

    out: list[Finding] = []
    body = re.sub(rb"<\?xpacket[^>]*\?>", b"", xmp).strip()
    try:
        if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
            raise ValueError("DTD in XMP")
        root = etree.fromstring(body, _xml_parser())
    except (etree.XMLSyntaxError, ValueError):
        if b"AIGC" in xmp:
            f = Finding(container, xmp.decode("utf-8", "replace")[:2000], None, {},
                        ["an XMP packet mentions AIGC but is not well-formed XML"])
            out.append(f)
        return out
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        for k, v in el.attrib.items():
            if k.endswith("}AIGC") or k == "AIGC":
                out.append(_finding(container, v))
        if el.tag.endswith("}AIGC") and (el.text or "").strip():
            out.append(_finding(container, el.text))
    return out


# ---- JPEG ---------------------------------------------------------------------------------------------

def _jpeg_segments(data: bytes) -> tuple[list[tuple[int, int, int]], int]:
    """[(marker, start, end)] of the header segments and the offset where the scan data begins."""
    if not data.startswith(b"\xff\xd8"):
        raise LabelError("not a JPEG file")
    pos, segs = 2, []
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise LabelError(f"the JPEG is corrupt: no marker at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker == 0xDA or marker == 0xD9:
            return segs, pos
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        end = pos + 2 + length
        if length < 2 or end > len(data):
            raise LabelError("the JPEG is truncated in its header segments")
        segs.append((marker, pos, end))
        pos = end
    raise LabelError("the JPEG has no image data (truncated)")


def _write_jpeg(path: Path, label: AigcLabel) -> None:
    data = path.read_bytes()
    segs, _ = _jpeg_segments(data)
    existing = None
    xmp_seg = None
    for marker, start, end in segs:
        payload = data[start + 4:end]
        if marker == 0xE1 and payload.startswith(XMP_JPEG_HEADER):
            existing, xmp_seg = payload[len(XMP_JPEG_HEADER):], (start, end)
            break
    packet = XMP_JPEG_HEADER + merge_xmp(existing, label)
    if len(packet) + 2 > 0xFFFF:
        raise LabelError("the XMP packet would exceed the 64 KB JPEG segment limit")
    seg = b"\xff\xe1" + struct.pack(">H", len(packet) + 2) + packet
    if xmp_seg:
        out = data[:xmp_seg[0]] + seg + data[xmp_seg[1]:]
    else:
        # after SOI and any APP0/APP1 (JFIF, EXIF) so readers find EXIF first as usual
        insert = 2
        for marker, _start, end in segs:
            if marker in (0xE0, 0xE1):
                insert = end
            else:
                break
        out = data[:insert] + seg + data[insert:]
    path.write_bytes(out)


def _read_jpeg(path: Path) -> list[Finding]:
    data = path.read_bytes()
    segs, _ = _jpeg_segments(data)
    out: list[Finding] = []
    for marker, start, end in segs:
        payload = data[start + 4:end]
        if marker == 0xE1 and payload.startswith(XMP_JPEG_HEADER):
            out += _xmp_findings(payload[len(XMP_JPEG_HEADER):], "xmp")
        elif marker == 0xE1 and payload.startswith(b"Exif\x00\x00") and b"AIGC" in payload:
            out += _scan(payload, "exif")
        elif marker == 0xFE and b"AIGC" in payload:
            out += _scan(payload, "jpeg-comment")
    return out


# ---- PNG ----------------------------------------------------------------------------------------------

def _png_chunks(data: bytes) -> Iterator[tuple[bytes, int, int, bytes]]:
    """(type, start, end, payload) of every chunk; CRC and length checked."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise LabelError("not a PNG file")
    pos = 8
    while pos < len(data):
        if pos + 12 > len(data):
            raise LabelError("the PNG is truncated")
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        ctype = data[pos + 4:pos + 8]
        end = pos + 12 + length
        if end > len(data):
            raise LabelError(f"the PNG is truncated inside a {ctype.decode('latin-1')!r} chunk")
        payload = data[pos + 8:pos + 8 + length]
        yield ctype, pos, end, payload
        pos = end
        if ctype == b"IEND":
            return


def _itxt(keyword: str, text: str) -> bytes:
    payload = keyword.encode("latin-1") + b"\x00\x00\x00" + b"\x00" + b"\x00" + text.encode("utf-8")
    return struct.pack(">I", len(payload)) + b"iTXt" + payload + struct.pack(">I", zlib.crc32(b"iTXt" + payload))


def _text_payload(ctype: bytes, payload: bytes) -> tuple[str, str] | None:
    """(keyword, text) of a tEXt/zTXt/iTXt chunk."""
    try:
        keyword, _, rest = payload.partition(b"\x00")
        kw = keyword.decode("latin-1")
        if ctype == b"tEXt":
            return kw, rest.decode("latin-1")
        if ctype == b"zTXt":
            return kw, zlib.decompress(rest[1:]).decode("latin-1")
        if ctype == b"iTXt":
            comp_flag, _method = rest[0], rest[1]
            _lang, _, rest2 = rest[2:].partition(b"\x00")
            _tkw, _, text = rest2.partition(b"\x00")
            if comp_flag:
                text = zlib.decompressobj().decompress(text, 10_000_000)
            return kw, text.decode("utf-8", "replace")
    except (IndexError, zlib.error):
        return None
    return None


def _write_png(path: Path, label: AigcLabel) -> None:
    data = path.read_bytes()
    kept: list[bytes] = []
    existing_xmp: bytes | None = None
    idat_index = None
    for ctype, start, end, payload in _png_chunks(data):
        if ctype in (b"tEXt", b"zTXt", b"iTXt"):
            kv = _text_payload(ctype, payload)
            if kv and kv[0] == "XML:com.adobe.xmp":
                existing_xmp = kv[1].encode("utf-8")
                continue
            if kv and kv[0] == "AIGC":
                continue  # replaced below by the merged value
        if ctype == b"IDAT" and idat_index is None:
            idat_index = len(kept)
        kept.append(data[start:end])
    if idat_index is None:
        raise LabelError("the PNG has no image data")
    new = [_itxt("XML:com.adobe.xmp", merge_xmp(existing_xmp, label).decode("utf-8")),
           _itxt("AIGC", label.to_json())]
    out = data[:8] + b"".join(kept[:idat_index] + new + kept[idat_index:])
    path.write_bytes(out)


def _read_png(path: Path) -> list[Finding]:
    data = path.read_bytes()
    out: list[Finding] = []
    for ctype, _s, _e, payload in _png_chunks(data):
        if ctype in (b"tEXt", b"zTXt", b"iTXt"):
            kv = _text_payload(ctype, payload)
            if not kv:
                continue
            if kv[0] == "XML:com.adobe.xmp":
                out += _xmp_findings(kv[1].encode("utf-8"), "xmp")
            elif "aigc" in kv[0].lower():
                out.append(_finding(f"png-text:{kv[0]}", kv[1]))
        elif ctype == b"eXIf" and b"AIGC" in payload:
            out += _scan(payload, "exif")
    return out


# ---- MP4 / MOV (ffmpeg, ffprobe) -----------------------------------------------------------------------

def _write_mp4(path: Path, label: AigcLabel) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=".aigc-", suffix=path.suffix or ".mp4", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    fmt = "mov" if detect_format(path) == "mov" else "mp4"
    try:
        proc = subprocess.run(
            ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", str(path), "-map", "0", "-c", "copy",
             "-map_metadata", "0", "-movflags", "use_metadata_tags+faststart", "-metadata", f"AIGC={label.to_json()}",
             "-f", fmt, str(tmp)], capture_output=True, timeout=FFMPEG_TIMEOUT)
        if proc.returncode != 0:
            msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise LabelError(f"ffmpeg could not rewrite the video's metadata: {msg[-1] if msg else 'failed'}")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def ffprobe_tags(path: str | os.PathLike[str]) -> dict[str, str]:
    """Container (format) tags as ffprobe reads them."""
    proc = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format_tags", "-of", "json", str(path)],
                          capture_output=True, timeout=FFPROBE_TIMEOUT)
    if proc.returncode != 0:
        raise LabelError("ffprobe cannot read the file: " + proc.stderr.decode("utf-8", "replace").strip()[:300])
    return (json.loads(proc.stdout or b"{}").get("format") or {}).get("tags") or {}


def _read_mp4(path: Path) -> list[Finding]:
    return [_finding(f"mp4-tag:{k}", v) for k, v in ffprobe_tags(path).items() if "aigc" in k.lower()]


# ---- MP3 / WAV / FLAC (mutagen) -----------------------------------------------------------------------

def _write_id3(path: Path, label: AigcLabel, fmt: str) -> None:
    from mutagen import MutagenError
    from mutagen.id3 import ID3, TXXX, ID3NoHeaderError

    try:
        if fmt == "wav":
            from mutagen.wave import WAVE

            audio = WAVE(str(path))
            if audio.tags is None:
                audio.add_tags()
            tags = audio.tags
        else:
            try:
                tags = ID3(str(path))
            except ID3NoHeaderError:
                tags = ID3()
        tags.delall("TXXX:AIGC")
        tags.add(TXXX(encoding=3, desc="AIGC", text=[label.to_json()]))
        if fmt == "wav":
            audio.save()
        else:
            tags.save(str(path))
    except MutagenError as exc:
        raise LabelError(f"cannot write the {fmt.upper()} tags: {exc}") from None


def _write_flac(path: Path, label: AigcLabel) -> None:
    from mutagen import MutagenError
    from mutagen.flac import FLAC

    try:
        audio = FLAC(str(path))
        if audio.tags is None:
            audio.add_tags()
        audio["AIGC"] = [label.to_json()]
        audio.save()
    except MutagenError as exc:
        raise LabelError(f"cannot write the FLAC tags: {exc}") from None


def _read_audio(path: Path, fmt: str) -> list[Finding]:
    from mutagen import MutagenError

    out: list[Finding] = []
    try:
        if fmt == "flac":
            from mutagen.flac import FLAC

            audio = FLAC(str(path))
            for k, v in (audio.tags.items() if audio.tags is not None else []):
                if "aigc" in k.lower():
                    for item in (v if isinstance(v, list) else [v]):
                        out.append(_finding(f"vorbis:{k}", str(item)))
            return out
        if fmt == "wav":
            from mutagen.wave import WAVE

            tags = WAVE(str(path)).tags
        else:
            from mutagen.id3 import ID3, ID3NoHeaderError

            try:
                tags = ID3(str(path))
            except ID3NoHeaderError:
                tags = None
    except MutagenError as exc:
        raise LabelError(f"cannot read the {fmt.upper()} tags: {exc}") from None
    for frame in (tags.values() if tags is not None else []):
        desc = getattr(frame, "desc", "") or ""
        if frame.FrameID in ("TXXX", "COMM") and "aigc" in desc.lower():
            out.append(_finding(f"id3:{frame.FrameID}:{desc}", str(frame.text[0]) if frame.text else ""))
    return out


# ---- HTML ---------------------------------------------------------------------------------------------

_META_RE = re.compile(r"<meta\s+[^>]*name\s*=\s*[\"']AIGC[\"'][^>]*>", re.I)
_CONTENT_RE = re.compile(r"content\s*=\s*(\"[^\"]*\"|'[^']*')", re.I)


def _write_html(path: Path, label: AigcLabel) -> None:
    text = path.read_text("utf-8")
    tag = f'<meta name="AIGC" content="{html.escape(label.to_json(), quote=True)}">'
    if _META_RE.search(text):
        text = _META_RE.sub(lambda _m: tag, text, count=1)
    elif re.search(r"<head[^>]*>", text, re.I):
        text = re.sub(r"(<head[^>]*>)", lambda m: m.group(1) + "\n" + tag, text, count=1, flags=re.I)
    else:
        raise LabelError("the HTML has no <head> to hold the AIGC meta element")
    path.write_text(text, "utf-8")


def _read_html(path: Path) -> list[Finding]:
    text = path.read_text("utf-8", errors="replace")
    out = []
    for m in _META_RE.finditer(text):
        c = _CONTENT_RE.search(m.group(0))
        if c:
            out.append(_finding("html-meta", html.unescape(c.group(1)[1:-1])))
    return out


# ---- fallback byte scan ------------------------------------------------------------------------------

_SCAN_RE = re.compile(rb"\{[^{}]{0,4000}?(?:\"|&quot;)Label(?:\"|&quot;)\s*:[^{}]{0,4000}?\}")


def _scan(data: bytes, container: str) -> list[Finding]:
    out = []
    for m in _SCAN_RE.finditer(data):
        raw = html.unescape(m.group(0).decode("utf-8", "replace"))
        if "ContentProducer" in raw or "ProduceID" in raw:
            out.append(_finding(container, raw))
    return out


# ---- public API --------------------------------------------------------------------------------------

_WRITERS = {"jpeg": _write_jpeg, "png": _write_png, "mp4": _write_mp4, "mov": _write_mp4,
            "mp3": lambda p, lab: _write_id3(p, lab, "mp3"), "wav": lambda p, lab: _write_id3(p, lab, "wav"),
            "flac": _write_flac, "html": _write_html}


def write_aigc(src: str | os.PathLike[str], dst: str | os.PathLike[str], label: AigcLabel) -> Path:
    """Copy src to dst with the AIGC object in its metadata (atomic; other metadata kept). Returns dst."""
    src_p, dst_p = Path(src), Path(dst)
    fmt = detect_format(src_p)
    with _atomic_copy(src_p, dst_p) as tmp:
        _WRITERS[fmt](tmp, label)
    return dst_p


def read_aigc(path: str | os.PathLike[str], *, scan_limit: int = 64 * 1024 * 1024) -> list[Finding]:
    """Every AIGC value in the file's metadata. Files of other formats, or values hidden elsewhere, are
    found by a byte scan (container 'bytes'). Raises LabelError only for a file zhimei cannot read at all."""
    p = Path(path)
    try:
        fmt = detect_format(p)
    except LabelError:
        fmt = "other"
    readers = {"jpeg": _read_jpeg, "png": _read_png, "mp4": _read_mp4, "mov": _read_mp4, "html": _read_html,
               "mp3": lambda q: _read_audio(q, "mp3"), "wav": lambda q: _read_audio(q, "wav"),
               "flac": lambda q: _read_audio(q, "flac")}
    found: list[Finding] = []
    problems: list[str] = []
    if fmt in readers:
        try:
            found = readers[fmt](p)
        except LabelError as exc:
            problems.append(str(exc))
    if not found and p.stat().st_size <= scan_limit:
        found = _scan(p.read_bytes(), "bytes")
    if problems:
        found.append(Finding("file", "", None, {}, problems))
    return found
