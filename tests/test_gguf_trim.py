"""The trimmed-vocabulary scoring copy of a llama.cpp model: which tokens it keeps, that the copy is written
once and atomically, and (slow) that llama.cpp reads gemma's copy as it reads gemma on Chinese text."""

from __future__ import annotations

import os
from pathlib import Path

import gguf
import numpy as np
import pytest

from zhimei.models.gguf_trim import SPECIAL, kept_tokens, trimmed_gguf

TOKENS = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "<unused0>", "<unused1>", "<0x0A>", "<0xE4>", "中", "国",
          "中国", "人民银行", "，", "▁the", "▁of", "▁Quantum", "GDP", "iPhone", "ение", "é", "▁and"]
TYPES = [3] * 7 + [6, 6] + [1] * 13
SCORES = [-1000.0] * 9 + [-(i + 1.0) for i in range(13)]


def _write_model(path: Path, tokens=TOKENS, types=TYPES, scores=SCORES, model="llama", eot: int | None = None) -> None:
    w = gguf.GGUFWriter(str(path), "gemma3")
    w.add_tokenizer_model(model)
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(2)
    w.add_eos_token_id(1)
    if eot is not None:
        w.add_eot_token_id(eot)
    w.add_tensor("token_embd.weight", np.arange(len(tokens) * 4, dtype=np.float32).reshape(len(tokens), 4))
    w.add_tensor("output_norm.weight", np.ones(4, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def test_kept_tokens_keep_controls_bytes_chinese_and_the_most_frequent_pieces():
    ids = kept_tokens(TOKENS, np.array(SCORES), np.array(TYPES), latin=1, other=2)
    kept = [TOKENS[i] for i in ids]
    assert kept[:SPECIAL] == TOKENS[:SPECIAL] and "<unused0>" not in kept
    assert {"<0x0A>", "<0xE4>", "中", "国", "中国", "人民银行", "，", "é"} <= set(kept)
    # by merge rank: the first ASCII piece (GDP, before iPhone) and the first two others (▁the, ▁of)
    assert {"GDP", "▁the", "▁of"} <= set(kept)
    assert not {"iPhone", "▁Quantum", "ение", "▁and"} & set(kept)
    assert list(ids) == sorted(ids)


def test_trimmed_copy_is_written_once_with_its_rows_and_rebuilt_when_the_model_changes(tmp_path):
    src = tmp_path / "m.gguf"
    _write_model(src, eot=5)  # a special token outside the kept set is kept anyway, under its new id
    out = trimmed_gguf(src)
    r = gguf.GGUFReader(str(out))
    tokens = [str(t) for t in r.fields["tokenizer.ggml.tokens"].contents()]
    assert int(r.fields["tokenizer.ggml.eot_token_id"].contents()) == tokens.index("<unused0>") == 5
    assert "<unused1>" not in tokens and len(tokens) == len(TOKENS) - 1
    assert int(r.fields["tokenizer.ggml.bos_token_id"].contents()) == 2
    emb = next(t for t in r.tensors if t.name == "token_embd.weight").data
    for new, tok in enumerate(tokens):  # each kept token keeps its own embedding row
        assert emb[new][0] == TOKENS.index(tok) * 4
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left behind
    before = out.stat().st_mtime_ns
    assert trimmed_gguf(src) == out and out.stat().st_mtime_ns == before  # built once
    _write_model(src, tokens=[*TOKENS[:-1], "▁or"])
    os.utime(src, ns=(before + 10**9, before + 10**9))
    tokens = [str(t) for t in gguf.GGUFReader(str(trimmed_gguf(src))).fields["tokenizer.ggml.tokens"].contents()]
    assert "▁or" in tokens and "▁and" not in tokens


def test_a_model_that_cannot_be_trimmed_is_refused_and_nothing_is_written(tmp_path):
    bpe = tmp_path / "bpe.gguf"
    _write_model(bpe, model="gpt2")
    with pytest.raises(ValueError, match="SentencePiece"):
        trimmed_gguf(bpe)
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"GGUF" + b"\0" * 20)
    with pytest.raises(ValueError):
        trimmed_gguf(junk)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bpe.gguf", "junk.gguf"]


@pytest.mark.slow
def test_gemma_trimmed_reads_chinese_as_gemma_does(model_home):
    from zhimei.models.llama_read import reader
    from zhimei.models.llm_llama import gemma_gguf_path, gemma_scoring_path

    text = "据报道，文化行业有望成为国务院大部制改革的排头兵。"
    full = reader(gemma_gguf_path(model_home), model_home.model_threads)
    trim = reader(gemma_scoring_path(model_home), model_home.model_threads)
    assert full.n_vocab == 262144 and 50_000 < trim.n_vocab < 60_000
    pieces = []
    for r in (full, trim):
        ids = r.llm.tokenize(text.encode("utf-8"), add_bos=True, special=False)
        assert ids[0] == r.llm.token_bos() == 2
        pieces.append(([r.llm.detokenize([i]).decode("utf-8") for i in ids[1:]], ids))
    assert pieces[0][0] == pieces[1][0]  # the same tokens, under other ids
    with full.lock:
        a = full.logprobs(pieces[0][1])
    with trim.lock:
        b = trim.logprobs(pieces[1][1])
    # normalised over fewer tokens: each a little higher, never lower beyond the kernels' rounding
    assert np.all(b - a > -0.05) and np.median(b - a) < 0.05
