"""Faces: crops for thumbnails, and incremental clustering of new faces into the library's people.

Each new face joins the person whose centroid (mean descriptor) is nearest, when that is within the
backend's match distance; otherwise it starts a new, unnamed person. Faces a person put somewhere by
hand (split/merge) are "pinned" and keep their person when the asset is processed again.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image
from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from zhimei.library.understand.common import pack_vector, unpack_vector
from zhimei.store.models import Face, Person, utcnow

__all__ = ["DetectedFace", "PersonIndex", "face_crop", "iou", "cluster_faces", "refresh_person", "lock_people",
           "prune_empty_people", "CROP_SIZE"]

CROP_SIZE = 160
"""Longest side of a face-crop thumbnail, pixels."""


@dataclass
class DetectedFace:
    """A face found by a stage, before it is stored: box in the still's own pixels (x, y, w, h)."""

    shot_seq: int | None
    time: float | None
    box: tuple[int, int, int, int]
    frame_size: tuple[int, int]
    score: float
    descriptor: np.ndarray | None
    thumb_sha: str | None = None


def face_crop(img: Image.Image, box: tuple[int, int, int, int], size: int = CROP_SIZE) -> bytes:
    """A JPEG of the face with some margin around it (box is x, y, w, h in `img` pixels)."""
    x, y, w, h = box
    m = 0.35
    left, top = max(0, int(x - m * w)), max(0, int(y - m * h))
    right, bottom = min(img.width, int(x + w + m * w)), min(img.height, int(y + h + m * h))
    if right <= left or bottom <= top:
        left, top, right, bottom = 0, 0, img.width, img.height
    crop = img.crop((left, top, right, bottom))
    crop.thumbnail((size, size), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    crop.convert("RGB").save(buf, "JPEG", quality=85)
    return buf.getvalue()


def iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0, min(ax2, bx2) - max(a[0], b[0]))
    ih = max(0, min(ay2, by2) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


class PersonIndex:
    """Every person's centroid in memory for one clustering pass (only those of the descriptor's size)."""

    def __init__(self, session: Session, dim: int) -> None:
        self.dim = dim
        self.ids: list[int] = []
        vecs: list[np.ndarray] = []
        self.counts: list[int] = []
        for pid, centroid, n in session.execute(select(Person.id, Person.centroid, Person.face_count)
                                                .where(Person.centroid.is_not(None))):
            v = unpack_vector(centroid)
            if v.size == dim:
                self.ids.append(pid)
                vecs.append(v)
                self.counts.append(max(1, n or 1))
        self.mat = np.vstack(vecs) if vecs else np.zeros((0, dim), dtype=np.float32)

    def nearest(self, v: np.ndarray) -> tuple[int, float] | None:
        """(person id, distance) of the nearest centroid, or None when there are no people yet."""
        if not self.ids:
            return None
        d = np.linalg.norm(self.mat - v[None, :], axis=1)
        i = int(np.argmin(d))
        return self.ids[i], float(d[i])

    def add(self, person_id: int, v: np.ndarray) -> None:
        """Fold one more face into a person's centroid (a new person when unknown)."""
        if person_id in self.ids:
            i = self.ids.index(person_id)
            n = self.counts[i]
            self.mat[i] = (self.mat[i] * n + v) / (n + 1)
            self.counts[i] = n + 1
        else:
            self.ids.append(person_id)
            self.counts.append(1)
            self.mat = np.vstack([self.mat, v[None, :]])


def lock_people(session: Session) -> None:
    """Serialise clustering between workers (PostgreSQL advisory lock; SQLite already has one writer)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(7022416961)"))


def cluster_faces(session: Session, asset_id: int, found: list[DetectedFace], *, match_distance: float,
                  model: str, previous: list[dict[str, Any]] | None = None) -> list[Face]:
    """Store `found` as the asset's faces, each in a person: the person of the same face before a rerun,
    else the nearest person within `match_distance`, else a new one. Returns the new Face rows."""
    previous = previous or []
    dims = {f.descriptor.size for f in found if f.descriptor is not None}
    index = PersonIndex(session, dims.pop()) if len(dims) == 1 else None
    wanted = {p["person_id"] for p in previous if p["person_id"] is not None}
    existing = set(session.scalars(select(Person.id).where(Person.id.in_(wanted)))) if wanted else set()
    rows: list[Face] = []
    touched: set[int] = set()
    for f in found:
        person_id, pinned = None, False
        same = [p for p in previous if p["shot_seq"] == f.shot_seq and iou(p["box"], f.box) >= 0.5
                and p["person_id"] in existing]
        if same:
            best = max(same, key=lambda p: iou(p["box"], f.box))
            person_id, pinned = best["person_id"], bool(best["pinned"])
        elif f.descriptor is not None and index is not None:
            hit = index.nearest(f.descriptor)
            if hit is not None and hit[1] <= match_distance:
                person_id = hit[0]
        if person_id is None and f.descriptor is not None:
            person = Person(name="", meta={"created_from_asset": asset_id})
            session.add(person)
            session.flush()
            person_id = person.id
        if person_id is not None and f.descriptor is not None and index is not None:
            index.add(person_id, f.descriptor)
        x, y, w, h = f.box
        row = Face(asset_id=asset_id, shot_seq=f.shot_seq, time=f.time, x=x, y=y, w=w, h=h,
                   frame_width=f.frame_size[0], frame_height=f.frame_size[1], score=f.score,
                   descriptor=pack_vector(f.descriptor) if f.descriptor is not None else None, model=model,
                   person_id=person_id, pinned=pinned, thumb_sha=f.thumb_sha)
        session.add(row)
        rows.append(row)
        if person_id is not None:
            touched.add(person_id)
    session.flush()
    for pid in touched:
        refresh_person(session, pid)
    return rows


def refresh_person(session: Session, person_id: int) -> Person | None:
    """Recompute a person's centroid, face count and thumbnail from its faces."""
    person = session.get(Person, person_id)
    if person is None:
        return None
    faces = list(session.execute(select(Face.descriptor, Face.thumb_sha, Face.w, Face.h, Face.score)
                                 .where(Face.person_id == person_id)))
    vecs = [unpack_vector(d) for d, *_ in faces if d]
    sizes = {v.size for v in vecs}
    if vecs and len(sizes) == 1:
        person.centroid = pack_vector(np.mean(np.vstack(vecs), axis=0))
    elif not vecs:
        person.centroid = None
    person.face_count = len(faces)
    with_thumb = [f for f in faces if f[1]]
    if with_thumb and (person.thumb_sha is None or person.thumb_sha not in {f[1] for f in with_thumb}):
        best = max(with_thumb, key=lambda f: (f[2] * f[3]) * (1.0 + max(0.0, f[4] or 0.0)))
        person.thumb_sha = best[1]
    person.updated_at = utcnow()
    return person


def prune_empty_people(session: Session, person_ids: set[int]) -> list[int]:
    """Delete unnamed people of `person_ids` who have no faces left; returns their ids."""
    gone = []
    for pid in person_ids:
        person = session.get(Person, pid)
        if person is None:
            continue
        left = session.scalar(select(Face.id).where(Face.person_id == pid).limit(1))
        if left is None and not person.name:
            gone.append(pid)
        elif left is not None or person.name:
            refresh_person(session, pid)
    if gone:
        session.execute(delete(Person).where(Person.id.in_(gone)))
    return gone
