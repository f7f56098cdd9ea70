"""SunPinyin's word trigram (Debian sunpinyin-data) read with numpy, and the pinyin reading the transcript speller
takes proposals from. The probabilities checked below are those SunPinyin's own ``tslminfo -v -p`` prints for the
packaged model."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

from zhimei.models.zh_speller.pinyin_lm import (
    LEXICON,
    MODEL,
    ModelFileError,
    PinyinReader,
    WordTrigram,
    log_probability,
    pinyin_lm_dir,
)


@pytest.fixture(scope="module")
def lm() -> WordTrigram:
    folder = pinyin_lm_dir()
    assert folder is not None, "sunpinyin-data is not installed: scripts/install.sh installs it (apt)"
    return WordTrigram(folder)


@pytest.fixture(scope="module")
def reader(lm: WordTrigram) -> PinyinReader:
    return PinyinReader(lm)


def test_the_model_reads_as_sunpinyin_prints_it(lm):
    assert len(lm.words) > 80_000 and lm.words["，"] == 70 and lm.words["；"] == 72
    root = (0, 0)
    p_end, start = lm.transfer(root, 0)
    assert math.exp(p_end) == pytest.approx(0.124542720616, rel=1e-6)  # unigram of the sentence boundary
    assert start == lm.start() == (1, 0)
    assert math.exp(lm.transfer(start, 70)[0]) == pytest.approx(0.012350303121, rel=1e-6)  # bigram <s> ，
    p, after = lm.transfer(start, 72)
    assert math.exp(p) == pytest.approx(0.000613221258, rel=1e-6)  # bigram <s> ；
    assert math.exp(lm.transfer(after, 0)[0]) == pytest.approx(0.451391488314, rel=1e-6)  # trigram <s> ； </s>
    # a pair the model never saw backs off: the history's back-off weight times the unigram
    rare = lm.words["槝"]
    p_rare, back = lm.transfer(start, rare)
    assert back == root
    assert p_rare == pytest.approx(float(lm.backoff[1][0]) + lm.unigram(rare), abs=1e-6)


def test_word_context_prefers_what_a_newsroom_writes(lm):
    right = log_probability(lm, ["法院", "判决", "被告", "赔偿"])
    assert right > log_probability(lm, ["法院", "判决", "贝", "高", "赔偿"]) + 5
    assert log_probability(lm, ["新型", "冠状", "病毒"]) > log_probability(lm, ["心形", "冠状", "病毒"])


def test_the_reader_writes_the_words_of_the_syllables(reader):
    text = "但对不动产灯机信息的查询有相对严格的规定"
    assert reader.read(text) == "但对不动产登记信息的查询有相对严格的规定"
    sure = [True] * len(text)
    sure[5] = sure[6] = False
    closed = [not s for s in sure]
    assert reader.read(text, closed) == "但对不动产登记信息的查询有相对严格的规定"
    only_first = [i == 5 for i in range(len(text))]  # 机 was heard for sure: 登记 is out of reach
    assert reader.read(text, only_first)[6] == "机"
    assert reader.read(text, [False] * len(text)) == text  # nothing open: nothing changes
    mixed = "GDP增长5%，灯机 2024年"
    out = reader.read(mixed)
    assert len(out) == len(mixed) and out[:8] == "GDP增长5%，" and out[-6:] == " 2024年"
    assert reader.read("") == ""
    with pytest.raises(ValueError, match="open flags"):
        reader.read(text, [True])


def test_damaged_model_files_are_named(tmp_path, lm):
    folder = tmp_path / "sp"
    folder.mkdir()
    shutil.copy(lm.folder / LEXICON, folder / LEXICON)
    data = (lm.folder / MODEL).read_bytes()
    (folder / MODEL).write_bytes(data[: len(data) // 2])  # a truncated download
    with pytest.raises(ModelFileError, match=r"lm_sc\.t3g: .* bytes, but its header describes"):
        WordTrigram(folder)
    (folder / MODEL).write_bytes(b"\x00")
    with pytest.raises(ModelFileError, match="too short"):
        WordTrigram(folder)
    shutil.copy(lm.folder / MODEL, folder / MODEL)
    (folder / LEXICON).write_bytes((10).to_bytes(4, "little") * 3 + b"\x01\x00\x00")
    with pytest.raises(ModelFileError, match="pydict_sc.bin"):
        WordTrigram(folder)


def test_the_folder_comes_from_settings_or_the_debian_package(tmp_path, lm):
    class Chosen:
        zh_pinyin_lm_dir = str(tmp_path)

    assert pinyin_lm_dir(Chosen()) is None  # chosen but empty: not silently the system's
    for name in (MODEL, LEXICON):
        (tmp_path / name).symlink_to(lm.folder / name)
    assert pinyin_lm_dir(Chosen()) == Path(tmp_path)

    class Default:
        zh_pinyin_lm_dir = ""

    assert pinyin_lm_dir(Default()) == lm.folder
