"""Bytes to clean text: BOM-aware decoding with Chinese fallbacks, NFC, control characters, paragraphs."""

from __future__ import annotations

import codecs
import re
import unicodedata

from zhimei.library.text.doc import ExtractError

__all__ = ["decode_text", "clean_text", "split_paragraphs", "join_lines", "detect_language", "is_cjk",
           "fix_cjk_radicals", "UNDECODABLE"]

UNDECODABLE = "text is not valid UTF-8, UTF-16, GB18030 or Big5"

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def _bom(data: bytes) -> tuple[str, int] | None:
    # UTF-32-LE's BOM starts with UTF-16-LE's; a UTF-16 text starting with U+0000 is not a thing.
    for bom, enc in _BOMS:
        if data.startswith(bom):
            return enc, len(bom)
    return None


def decode_text(data: bytes, declared: str | None = None) -> str:
    """Decode bytes: a BOM wins; else UTF-8, then the declared charset, then GB18030, then Big5 (all strict).

    When both GB18030 and Big5 decode, Big5 is chosen only if its text is clearly more plausible Chinese.
    Raises ExtractError when nothing decodes cleanly.
    """
    found = _bom(data)
    if found:
        enc, skip = found
        try:
            return data[skip:].decode(enc)
        except UnicodeDecodeError as exc:
            raise ExtractError(f"the text starts with a {enc.upper()} byte-order mark but is not valid "
                               f"{enc.upper()} (byte {exc.start + skip})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if declared:
        try:
            name = codecs.lookup(_alias(declared)).name
            return data.decode(name)
        except (LookupError, UnicodeDecodeError):
            pass
    candidates = []
    for enc in ("gb18030", "big5"):
        try:
            candidates.append((enc, data.decode(enc)))
        except UnicodeDecodeError:
            continue
    if not candidates:
        raise ExtractError(UNDECODABLE)
    if len(candidates) == 2 and _plausibility(candidates[1][1]) > _plausibility(candidates[0][1]) + 0.1:
        return candidates[1][1]  # Big5 bytes often also "decode" as GB18030, into rare characters and kana
    return candidates[0][1]


def _common_han(ch: str) -> bool:
    """In GB2312's hanzi rows or Big5's frequently-used block: characters real Chinese text is made of."""
    try:
        if 0xB0 <= ch.encode("gb2312")[0] <= 0xF7:
            return True
    except UnicodeEncodeError:
        pass
    try:
        return 0xA4 <= ch.encode("big5")[0] <= 0xC6
    except UnicodeEncodeError:
        return False


def _plausibility(text: str) -> float:
    """Share of non-ASCII characters that are common hanzi or CJK punctuation (first 4,000 of them)."""
    good = total = 0
    for ch in text:
        if ch < "\x80":
            continue
        total += 1
        o = ord(ch)
        if 0x3000 <= o <= 0x303F or 0xFF00 <= o <= 0xFFEF or ch in "“”‘’…·—" or _common_han(ch):
            good += 1
        if total >= 4000:
            break
    return good / total if total else 1.0


def _alias(name: str) -> str:
    n = name.strip().lower().replace("_", "-")
    if n in ("gb2312", "gbk", "gb-2312", "gb2312-80", "x-gbk", "cp936", "euc-cn", "hz-gb-2312"):
        return "gb18030"
    if n in ("big5-hkscs", "x-x-big5", "cp950"):
        return "big5"
    return n


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u2028\u2029\ufeff\ufffe]")
_SPACES = re.compile(r"[^\S\n]+")
_BLANK = re.compile(r"\n[^\S\n]*\n\s*")


def clean_text(text: str) -> str:
    """NFC, no NULs or control characters (newlines and tabs aside), CR/LF → LF, unicode line breaks → LF."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n\n")
    text = unicodedata.normalize("NFC", text)
    return _CONTROL.sub("", text)


def is_cjk(ch: str) -> bool:
    """Han, kana or CJK/fullwidth punctuation: scripts written without spaces between words."""
    o = ord(ch)
    return (0x3000 <= o <= 0x30FF or 0x3400 <= o <= 0x4DBF or 0x4E00 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF
            or 0xFF00 <= o <= 0xFFEF or 0x20000 <= o <= 0x3FFFF or 0x31F0 <= o <= 0x31FF)


_CJK_PUNCT = set("“”‘’《》〈〉【】「」『』—…·")


def join_lines(text: str) -> str:
    """One paragraph from wrapped lines: whitespace runs become one space, but a line break between two
    Chinese/Japanese characters disappears (hard-wrapped Chinese has no spaces)."""
    lines = [ln.strip() for ln in _SPACES.sub(" ", text.replace("\t", " ")).split("\n")]
    out = ""
    for ln in lines:
        if not ln:
            continue
        a, b = out[-1:] or " ", ln[0]
        if out and not ((is_cjk(a) and (is_cjk(b) or b in _CJK_PUNCT)) or (a in _CJK_PUNCT and is_cjk(b))):
            out += " "
        out += ln
    return out.strip()


def split_paragraphs(text: str) -> list[str]:
    """Plain text → cleaned paragraphs split on blank lines (empty ones dropped)."""
    text = clean_text(text)
    paras = (join_lines(block) for block in _BLANK.split(text))
    return [p for p in paras if p]


_LATIN_WORD = re.compile(r"[A-Za-zÀ-ɏ]+")


def detect_language(text: str) -> str | None:
    """A rough language from the script: zh (Han), ja (kana), ko (Hangul), else en; None without letters."""
    sample = text[:20000]
    han = kana = hangul = 0
    for ch in sample:
        o = ord(ch)
        if 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0x20000 <= o <= 0x3FFFF or 0xF900 <= o <= 0xFAFF:
            han += 1
        elif 0x3040 <= o <= 0x30FF:
            kana += 1
        elif 0xAC00 <= o <= 0xD7AF:
            hangul += 1
    words = len(_LATIN_WORD.findall(sample))
    cjk = han + kana + hangul
    if cjk + words == 0:
        return None
    if cjk / (cjk + words) < 0.3:
        return "en"
    if hangul > han + kana:
        return "ko"
    if kana and kana >= 0.1 * cjk:
        return "ja"
    return "zh"


_RADICALS = str.maketrans({
    "⺠": "民", "⻅": "见", "⻆": "角", "⻈": "讠", "⻉": "贝", "⻋": "车", "⻓": "长", "⻔": "门", "⻘": "青",
    "⻚": "页", "⻛": "风", "⻜": "飞", "⻝": "食", "⻠": "饣", "⻢": "马", "⻤": "鬼", "⻥": "鱼", "⻦": "鸟",
    "⻧": "卤", "⻨": "麦", "⻩": "黄", "⻪": "黾", "⻬": "齐", "⻮": "齿", "⻰": "龙", "⻳": "龟", "⻄": "西",
    "⻙": "韦",
})
_KANGXI = re.compile("[\u2f00-\u2fd5]")


def fix_cjk_radicals(text: str) -> str:
    """Radical code points that PDF fonts map common hanzi to (⾸ for 首, ⻚ for 页) → the ideographs."""
    text = _KANGXI.sub(lambda m: unicodedata.normalize("NFKC", m.group(0)), text)
    return text.translate(_RADICALS)
