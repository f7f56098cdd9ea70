"""The shared llama.cpp reader: logits only where asked, continuations read together as sequences of one batch,
and what the context holds left alone by them."""

from __future__ import annotations

import numpy as np
import pytest

from zhimei.models.llama_read import BRANCHES, READ_TOKENS, log_softmax, reader

pytestmark = pytest.mark.slow

TEXT = "据报道，文化行业有望成为国务院大部制改革的排头兵。"


@pytest.fixture(scope="module")
def gemma(model_home):
    from zhimei.models.llm_llama import gemma_gguf_path

    r = reader(gemma_gguf_path(model_home), model_home.model_threads)
    return r, r.llm.tokenize(TEXT.encode("utf-8"), add_bos=True, special=False)


def test_logits_are_read_only_at_the_positions_asked_for(gemma):
    r, ids = gemma
    with r.lock:
        every = r.read(ids, want=range(len(ids)))
        r.read([ids[0]])  # forget most of it, so the next read starts near the beginning
        some = r.read(ids, want=[3, 7, len(ids) - 1])
        none = r.read(ids)
    assert every.shape == (len(ids), r.n_vocab) and some.shape == (3, r.n_vocab) and none.shape[0] == 0
    # batches of other sizes round differently in the kernels: the same rows up to that
    pos = [3, 7, len(ids) - 1]
    assert (some.argmax(axis=1) == every[pos].argmax(axis=1)).all()
    nxt = [ids[4], ids[8]]
    assert np.allclose(log_softmax(some)[[0, 1], nxt], log_softmax(every)[[3, 7], nxt], atol=0.5)
    assert r.held == list(ids)
    with pytest.raises(ValueError, match="too long"):
        r.read([ids[0]] * (READ_TOKENS + 1))
    with pytest.raises(ValueError, match="outside"):
        r.read(ids, want=[len(ids)])


def test_continuations_are_read_together_and_leave_the_held_text_alone(gemma):
    r, ids = gemma
    wrong = r.llm.tokenize(TEXT.replace("排头兵", "排旁边").encode("utf-8"), add_bos=True, special=False)
    with r.lock:
        r.read(ids)
        alone = [r.logprobs(x, start=1) for x in (ids, wrong)]
        together = r.branches([(ids, 1), (wrong, 1), (ids, len(ids))])
        assert r.held == list(ids)
        many = r.branches([(ids, 5)] * (BRANCHES + 3))  # more than one batch holds
        tail = r.read(ids, want=[len(ids) - 2])  # the held text still reads as before
    assert len(together) == 3 and together[2].shape == (0,)
    for a, b in zip(alone, together, strict=False):
        assert a.shape == b.shape and np.abs(a - b).max() < 0.5
    assert together[0].sum() > together[1].sum()  # the model prefers the real word
    assert len(many) == BRANCHES + 3 and all(np.allclose(m, many[0], atol=0.5) for m in many)
    assert np.allclose(many[0], together[0][4:], atol=0.5)
    assert log_softmax(tail)[0, ids[-1]] == pytest.approx(together[0][-1], abs=0.5)
    with pytest.raises(ValueError, match="start"):
        r.branches([(ids, 0)])


def test_the_speller_reads_rows_only_near_the_characters_that_may_change(model_home):
    from zhimei.models.zh_speller import get_scorer

    text = "那时后我们还继续使用俄罗斯的货币。"
    scorer = get_scorer()
    full = scorer.score(text)
    near = scorer.score(text, open_at=lambda at: at == 2)
    assert len(near.rows) < len(full.rows) and 1 <= min(near.rows) <= 3
    assert np.isnan(near.token_logprob).any() and not np.isnan(full.token_logprob).any()
    # a change far from what was read fills in the text's own figures it needs, and comes out the same
    far = scorer.rescore_many(near, [(2, 3, "候"), (13, 14, "得")])
    assert far == pytest.approx(scorer.rescore_many(full, [(2, 3, "候"), (13, 14, "得")]), abs=0.5)
    assert far[0] > 5 and far[1] < 0
    assert scorer.rescore_many(near, [(2, 3, "后")]) == [0.0]  # no change: nothing read
