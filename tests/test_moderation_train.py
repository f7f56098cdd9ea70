"""The offensive-text classifier's training helpers: COLD topics and out-of-group (held-out topic) scoring."""

from __future__ import annotations

import numpy as np
import pytest

from zhimei.review.moderation.train import TrainError, group_predict, read_cold, read_topics


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
