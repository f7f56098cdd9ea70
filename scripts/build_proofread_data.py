"""Build zhimei/models/zh_speller/data/confusion.json (the Chinese confusion sets) from packaged sources.

Sources (pinned): pycorrector==1.1.4 (Apache-2.0) data/common_char_set.txt, same_pinyin.txt, same_stroke.txt;
pypinyin==0.55.0 (MIT) readings. Install pycorrector with ``--no-deps`` (only its data files are read; it is not
imported). Output: for each of the ~3,500 common characters, the common characters that sound the same (same
toneless syllable, pypinyin + pycorrector's same-pinyin lists), those that look alike (pycorrector's
same-stroke groups) and those that sound nearly alike (fuzzy pinyin: z/zh, c/ch, s/sh, n/l, r/l, f/h,
in/ing, en/eng, an/ang), as three strings. Version 3 adds the rare characters (any CJK character pypinyin can read,
traditional and variant forms included): a rare character in modern Simplified text is often a slip for a common
one (缐→腺, 佔→站, 餵→喂), so each gets the characters of GB 2312 that sound the same or share its stroke group
(砹→癌: a slip's correction may itself be outside the common set); the common characters' own sets are unchanged,
and the deliberate variants 妳/牠/祂/祢 get none.

    .venv/bin/python scripts/build_proofread_data.py
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "zhimei" / "models" / "zh_speller" / "data" / "confusion.json"
VERSION = 3


def _pycorrector_data() -> Path:
    spec = importlib.util.find_spec("pycorrector")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("pycorrector is not installed: .venv/bin/pip install --no-deps 'pycorrector==1.1.4'")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _readings(char: str) -> list[str]:
    from pypinyin.pinyin_dict import pinyin_dict

    value = pinyin_dict.get(ord(char), "")
    out = []
    for r in value.split(",")[:2]:
        plain = "".join(c for c in unicodedata.normalize("NFD", r) if not unicodedata.combining(c))
        if plain and plain not in out:
            out.append(plain)
    return out


_FUZZY_INITIALS = [("zh", "z"), ("ch", "c"), ("sh", "s"), ("n", "l"), ("r", "l"), ("f", "h")]
_FUZZY_FINALS = [("ing", "in"), ("eng", "en"), ("ang", "an"), ("iang", "ian"), ("uang", "uan")]


def _fuzzy(syllable: str) -> set[str]:
    """Syllables a speaker of another dialect (or a learner) often confuses with ``syllable``."""
    out = set()
    for a, b in _FUZZY_INITIALS:
        for x, y in ((a, b), (b, a)):
            if syllable.startswith(x) and not (x == "z" and syllable.startswith("zh")) \
                    and not (x == "c" and syllable.startswith("ch")) and not (x == "s" and syllable.startswith("sh")):
                out.add(y + syllable[len(x):])
    for a, b in _FUZZY_FINALS:
        for x, y in ((a, b), (b, a)):
            if syllable.endswith(x) and not (x == "in" and syllable.endswith("ing")) \
                    and not (x == "en" and syllable.endswith("eng")) and not (x == "an" and syllable.endswith("ang")):
                out.add(syllable[: len(syllable) - len(x)] + y)
    return out - {syllable}


def _by_syllable(chars: set[str]) -> dict[str, set[str]]:
    """Toneless syllable → the characters of ``chars`` that read so."""
    out: dict[str, set[str]] = {}
    for c in chars:
        for r in _readings(c):
            out.setdefault(r, set()).add(c)
    return out


def _stroke_groups(data: Path) -> list[set[str]]:
    """pycorrector's same-stroke groups (characters that look alike)."""
    lines = (data / "same_stroke.txt").read_text("utf-8").splitlines()
    return [{x.strip() for x in line.split("\t") if x.strip()} for line in lines]


def build() -> dict:
    data = _pycorrector_data()
    common = [c.strip() for c in (data / "common_char_set.txt").read_text("utf-8").splitlines()]
    common_set = {c for c in common if len(c) == 1}
    sound: dict[str, set[str]] = {c: set() for c in common_set}
    shape: dict[str, set[str]] = {c: set() for c in common_set}
    by_syllable = _by_syllable(common_set)
    near: dict[str, set[str]] = {c: set() for c in common_set}
    for c in common_set:
        for r in _readings(c):
            sound[c] |= by_syllable[r]
            for f in _fuzzy(r):
                near[c] |= by_syllable.get(f, set())
    for line in (data / "same_pinyin.txt").read_text("utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        parts = line.split("\t")
        c = parts[0].strip()
        if c in common_set:
            sound[c] |= {x for p in parts[1:3] for x in p.strip() if x in common_set}
    for group in _stroke_groups(data):
        group &= common_set
        for c in group:
            shape[c] |= group
    chars = {}
    for c in sorted(common_set):
        s = "".join(sorted(sound[c] - {c}))
        h = "".join(sorted(shape[c] - {c} - sound[c]))
        n = "".join(sorted(near[c] - {c} - sound[c] - shape[c]))
        if s or h or n:
            chars[c] = [s, h, n]
    for c, (s, h) in sorted(_rare(data, common_set).items()):
        chars[c] = [s, h, ""]
    return {"version": VERSION, "sources": ["pycorrector==1.1.4 data (Apache-2.0)", "pypinyin==0.55.0 (MIT)"],
            "common": "".join(sorted(common_set)), "chars": chars}


DELIBERATE = frozenset("妳牠祂祢")
"""Rare characters writers use on purpose (gendered, animal and divine "you"/"it"/"he"): never treated as slips."""


def _gb2312() -> set[str]:
    """The 6,763 characters of GB 2312 (levels 1 and 2)."""
    out = set()
    for hi in range(0xB0, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                out.add(bytes([hi, lo]).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    return out


def _rare(data: Path, common_set: set[str]) -> dict[str, tuple[str, str]]:
    """Rare character → (characters of GB 2312 or the common set with the same toneless reading, those in its
    stroke group)."""
    from pypinyin.pinyin_dict import pinyin_dict

    targets = common_set | _gb2312()
    by_syllable = _by_syllable(targets)
    groups: dict[str, set[str]] = {}
    for group in _stroke_groups(data):
        for c in group:
            groups.setdefault(c, set()).update(group & targets)
    out = {}
    for code in sorted(pinyin_dict):
        c = chr(code)
        if not "\u4e00" <= c <= "\u9fff" or c in common_set or c in DELIBERATE:
            continue
        same = set().union(*(by_syllable.get(r, set()) for r in _readings(c))) - {c}
        shape = groups.get(c, set()) - same - {c}
        if same or shape:
            out[c] = ("".join(sorted(same)), "".join(sorted(shape)))
    return out


def main() -> None:
    doc = build()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    tmp = OUT.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":"), sort_keys=True) + "\n", "utf-8")
    os.replace(tmp, OUT)
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes, {len(doc['chars'])} characters)")


if __name__ == "__main__":
    main()
