"""Still images: refuse decompression bombs and huge animations before decoding; read EXIF and XMP;
make an orientation-correct thumbnail and a perceptual hash."""

from __future__ import annotations

import io
import os
import re
import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

__all__ = ["ImageRefused", "ImageInfo", "inspect_image", "count_gif_frames", "exif_dict", "xmp_fields",
           "hamming", "make_thumbnail"]

_XMP_NS = {
    "dc": "http://purl.org/dc/elements/1.1/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "xmpRights": "http://ns.adobe.com/xap/1.0/rights/",
    "Iptc4xmpCore": "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
}
_XMP_FIELDS = [
    ("title", "dc", "title"), ("creator", "dc", "creator"), ("description", "dc", "description"),
    ("rights", "dc", "rights"), ("subject", "dc", "subject"), ("credit", "photoshop", "Credit"),
    ("headline", "photoshop", "Headline"), ("city", "photoshop", "City"), ("country", "photoshop", "Country"),
    ("date_created", "photoshop", "DateCreated"), ("create_date", "xmp", "CreateDate"),
    ("usage_terms", "xmpRights", "UsageTerms"),
]


class ImageRefused(ValueError):
    """The image cannot or must not be processed; the message says why, with numbers."""


@dataclass
class ImageInfo:
    """What `inspect_image` learned."""

    format: str
    width: int
    height: int
    frames: int
    mode: str
    exif: dict[str, Any] = field(default_factory=dict)
    xmp: str | None = None
    xmp_fields: dict[str, Any] = field(default_factory=dict)
    orientation: int = 1


def count_gif_frames(path: str | os.PathLike[str], stop_after: int) -> int:
    """Count a GIF's images by walking its blocks (nothing is decoded); stops once past `stop_after`."""
    with open(path, "rb") as fh:
        data_head = fh.read(13)
        if len(data_head) < 13 or data_head[:6] not in (b"GIF87a", b"GIF89a"):
            raise ImageRefused("not a GIF file")
        packed = data_head[10]
        if packed & 0x80:
            fh.seek(3 * (2 ** ((packed & 7) + 1)), os.SEEK_CUR)
        frames = 0

        def skip_sub_blocks() -> None:
            while True:
                b = fh.read(1)
                if not b:
                    raise ImageRefused(f"the GIF is truncated after {frames:,} frames")
                if b[0] == 0:
                    return
                fh.seek(b[0], os.SEEK_CUR)

        while True:
            b = fh.read(1)
            if not b or b == b";":
                return frames
            if b == b"!":
                fh.read(1)
                skip_sub_blocks()
            elif b == b",":
                desc = fh.read(9)
                if len(desc) < 9:
                    raise ImageRefused(f"the GIF is truncated after {frames:,} frames")
                if desc[8] & 0x80:
                    fh.seek(3 * (2 ** ((desc[8] & 7) + 1)), os.SEEK_CUR)
                fh.read(1)  # LZW minimum code size
                skip_sub_blocks()
                frames += 1
                if frames > stop_after:
                    return frames
            else:
                raise ImageRefused(f"the GIF is corrupt: unexpected byte 0x{b[0]:02x} after {frames:,} frames")


def _json_safe(value: Any, depth: int = 0) -> Any:
    if depth > 4:
        return None
    if isinstance(value, bytes):
        if len(value) > 256:
            return f"<{len(value)} bytes>"
        text = value.rstrip(b"\x00").decode("utf-8", "replace")
        return text if text.isprintable() else value[:64].hex()
    if isinstance(value, str):
        return value.replace("\x00", "").strip()[:2000]
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, Fraction) or hasattr(value, "numerator"):
        try:
            return round(float(value), 6) if value.denominator else None
        except (ZeroDivisionError, ValueError, TypeError):
            return None
    if isinstance(value, tuple | list):
        return [_json_safe(v, depth + 1) for v in value[:64]]
    if isinstance(value, dict):
        return {str(k): _json_safe(v, depth + 1) for k, v in list(value.items())[:200]}
    return str(value)[:500]


def exif_dict(img: Image.Image) -> dict[str, Any]:
    """EXIF as readable tag names → JSON-safe values (main IFD, Exif sub-IFD, GPS); MakerNote left out."""
    try:
        exif = img.getexif()
    except Exception:  # a broken EXIF block must not lose the image
        return {}
    out: dict[str, Any] = {}
    for tag, value in exif.items():
        if tag in (0x8769, 0x8825, 0xA005):
            continue
        out[ExifTags.TAGS.get(tag, f"0x{tag:04x}")] = _json_safe(value)
    for ifd_tag, names in ((0x8769, ExifTags.TAGS), (0x8825, ExifTags.GPSTAGS)):
        try:
            ifd = exif.get_ifd(ifd_tag)
        except Exception:
            continue
        for tag, value in ifd.items():
            name = names.get(tag, f"0x{tag:04x}")
            if name in ("MakerNote", "UserComment") and isinstance(value, bytes) and len(value) > 256:
                continue
            key = f"GPS{name}" if ifd_tag == 0x8825 and not name.startswith("GPS") else name
            out[key] = _json_safe(value)
    return out


def _raw_xmp(img: Image.Image) -> str | None:
    raw = img.info.get("xmp") or img.info.get("XML:com.adobe.xmp")
    if raw is None:
        return None
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    return str(raw).strip("\x00").strip()[:200_000] or None


def xmp_fields(xmp: str) -> dict[str, Any]:
    """A few well-known fields from an XMP packet (dc:title, dc:creator, photoshop:Credit…)."""
    from defusedxml import ElementTree as SafeET

    start = xmp.find("<x:xmpmeta")
    if start < 0:
        start = xmp.find("<rdf:RDF")
    end_tag = "</x:xmpmeta>" if xmp.find("</x:xmpmeta>") >= 0 else "</rdf:RDF>"
    end = xmp.find(end_tag)
    if start < 0 or end < 0:
        return {}
    try:
        root = SafeET.fromstring(xmp[start:end + len(end_tag)])
    except Exception:
        return {}
    rdf = _XMP_NS["rdf"]
    out: dict[str, Any] = {}
    for desc in root.iter(f"{{{rdf}}}Description"):
        for name, prefix, local in _XMP_FIELDS:
            qname = f"{{{_XMP_NS[prefix]}}}{local}"
            if qname in desc.attrib:
                out.setdefault(name, desc.attrib[qname].strip())
                continue
            el = desc.find(qname)
            if el is None:
                continue
            items = [li.text.strip() for li in el.iter(f"{{{rdf}}}li") if li.text and li.text.strip()]
            if items:
                out.setdefault(name, items if local in ("creator", "subject") else items[0])
            elif el.text and el.text.strip():
                out.setdefault(name, el.text.strip())
    return out


def _open(path: Path, max_pixels: int) -> Image.Image:
    """Open (header only) with Pillow's bomb guard set to our limit."""
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(path)
    except Image.DecompressionBombError as exc:
        m = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(m.group(1)):,} pixels" if m else "too many pixels"
        raise ImageRefused(f"the image is {size}; the limit is {max_pixels:,} (possible decompression bomb)") from None
    except UnidentifiedImageError:
        raise ImageRefused("the image is corrupt or in a format that cannot be read") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageRefused(f"the image is corrupt or truncated and cannot be read: {exc}") from None


def inspect_image(path: str | os.PathLike[str], *, max_pixels: int, max_frames: int) -> tuple[Image.Image, ImageInfo]:
    """Open an image safely: size and frame limits are checked from headers before any pixel is decoded.

    Returns the opened (not yet decoded) image and what its headers say. Raises ImageRefused.
    """
    p = Path(path)
    with open(p, "rb") as fh:
        head = fh.read(6)
    frames = 1
    if head in (b"GIF87a", b"GIF89a"):
        stop = max(100 * max_frames, 1_000_000)
        frames = count_gif_frames(p, stop)
        if frames > stop:
            raise ImageRefused(f"the animated GIF has more than {stop:,} frames; the limit is {max_frames:,}")
        if frames > max_frames:
            raise ImageRefused(f"the animated GIF has {frames:,} frames; the limit is {max_frames:,}")
    img = _open(p, max_pixels)
    w, h = img.size
    if w <= 0 or h <= 0:
        raise ImageRefused(f"the image declares an impossible size {w}x{h}")
    if w * h > max_pixels:
        img.close()
        raise ImageRefused(f"the image is {w:,}x{h:,} = {w * h:,} pixels; the limit is {max_pixels:,} "
                           "(possible decompression bomb)")
    if head not in (b"GIF87a", b"GIF89a"):
        try:
            frames = int(getattr(img, "n_frames", 1) or 1)
        except Exception:
            frames = 1
        if frames > max_frames:
            img.close()
            raise ImageRefused(f"the animated image has {frames:,} frames; the limit is {max_frames:,}")
    exif = exif_dict(img)
    xmp = _raw_xmp(img)
    orientation = exif.get("Orientation") if isinstance(exif.get("Orientation"), int) else 1
    info = ImageInfo(format=img.format or "", width=w, height=h, frames=frames, mode=img.mode, exif=exif, xmp=xmp,
                     xmp_fields=xmp_fields(xmp) if xmp else {}, orientation=orientation or 1)
    return img, info


def decode_oriented(img: Image.Image, max_side: int) -> Image.Image:
    """Decode the first frame (reduced on decode for JPEG), apply EXIF orientation, return RGB.

    Raises ImageRefused when the pixel data is truncated or corrupt.
    """
    try:
        if img.format == "JPEG":
            img.draft("RGB", (max_side, max_side))
        img.load()
        oriented = ImageOps.exif_transpose(img) or img
        if oriented.mode in ("RGBA", "LA", "PA") or (oriented.mode == "P" and "transparency" in oriented.info):
            rgba = oriented.convert("RGBA")
            bg = Image.new("RGB", rgba.size, (255, 255, 255))
            bg.paste(rgba, mask=rgba.getchannel("A"))
            return bg
        return oriented.convert("RGB")
    except Image.DecompressionBombError as exc:
        raise ImageRefused(f"the image is too large to decode safely: {exc}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageRefused(f"the image data is truncated or corrupt: {exc}") from None


def make_thumbnail(rgb: Image.Image, width: int) -> tuple[bytes, int, int]:
    """A JPEG thumbnail `width` pixels wide at most; returns (bytes, width, height)."""
    w, h = rgb.size
    tw = min(width, w)
    th = max(1, round(h * tw / w))
    thumb = rgb.resize((tw, th), Image.Resampling.LANCZOS) if (tw, th) != (w, h) else rgb
    buf = io.BytesIO()
    thumb.save(buf, "JPEG", quality=85, optimize=True)
    return buf.getvalue(), tw, th


def hamming(a: str, b: str) -> int:
    """Bits that differ between two hex hashes of equal length."""
    return bin(int(a, 16) ^ int(b, 16)).count("1")
