"""Scoring shot boundaries against a PySceneDetect scene list (used by bench/shots.py and the tests)."""

from __future__ import annotations

import csv
from pathlib import Path

__all__ = ["read_scene_list", "match_boundaries", "prf"]


def read_scene_list(path: str | Path) -> list[float]:
    """Boundary times (seconds) from a scene-list CSV (`scene,timecode,frame,time (ms)`); scene 0's start
    is not a boundary. Reading stops at the first blank line (PySceneDetect appends a timecode list)."""
    out: list[float] = []
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = csv.reader(fh)
        header = next(rows, None)
        if not header or "time (ms)" not in [h.strip() for h in header]:
            raise ValueError(f"{path}: not a scene list (expected header 'scene,timecode,frame,time (ms)')")
        col = [h.strip() for h in header].index("time (ms)")
        for row in rows:
            if not row or not "".join(row).strip():
                break
            ms = float(row[col])
            if ms > 0:
                out.append(ms / 1000.0)
    return sorted(out)


def match_boundaries(predicted: list[float], truth: list[float], tolerance: float) -> int:
    """How many predicted boundaries match a true one within `tolerance` seconds, one-to-one (greedy by gap)."""
    pairs = sorted((abs(p - t), i, j) for i, p in enumerate(predicted) for j, t in enumerate(truth)
                   if abs(p - t) <= tolerance)
    used_p: set[int] = set()
    used_t: set[int] = set()
    for _, i, j in pairs:
        if i not in used_p and j not in used_t:
            used_p.add(i)
            used_t.add(j)
    return len(used_p)


def prf(tp: int, n_pred: int, n_true: int) -> dict[str, float]:
    """Precision, recall and F1 (an empty prediction for an empty truth scores 1.0)."""
    precision = tp / n_pred if n_pred else (1.0 if n_true == 0 else 0.0)
    recall = tp / n_true if n_true else (1.0 if n_pred == 0 else 0.0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}
