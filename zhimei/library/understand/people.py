"""People (影人识别): list, look up, name, merge and split the face clusters of the library.

Every function takes an open session; the caller commits (API, CLI and pages share these).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import distinct, func, or_, select, update
from sqlalchemy.orm import Session

from zhimei.library.understand.faces import prune_empty_people, refresh_person
from zhimei.store.models import Asset, Face, Person, utcnow

__all__ = ["PeopleError", "PersonNotFound", "list_people", "person_detail", "name_person", "merge_people",
           "split_faces", "asset_people", "MAX_NAME"]

MAX_NAME = 200


class PeopleError(ValueError):
    """A request about people that cannot be done; the message says why."""


class PersonNotFound(LookupError):
    """No person (or face) with that id."""


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def _summary(p: Person, assets: int | None = None) -> dict[str, Any]:
    return {"id": p.id, "name": p.name, "thumbnail": p.thumb_sha, "faces": p.face_count, "assets": assets,
            "named_by": p.named_by or None, "updated_at": _iso(p.updated_at), "created_at": _iso(p.created_at)}


def list_people(session: Session, *, q: str | None = None, named: bool | None = None, limit: int = 100,
                offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """People with faces or a name, most seen first: (items, total). `q` matches names."""
    stmt = select(Person).where(or_(Person.face_count > 0, Person.name != ""))
    if q:
        stmt = stmt.where(Person.name.icontains(q[:200], autoescape=True))
    if named is True:
        stmt = stmt.where(Person.name != "")
    elif named is False:
        stmt = stmt.where(Person.name == "")
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    people = list(session.scalars(stmt.order_by(Person.face_count.desc(), Person.id)
                                  .limit(max(1, min(limit, 500))).offset(max(0, offset))))
    counts = dict(session.execute(
        select(Face.person_id, func.count(distinct(Face.asset_id))).where(Face.person_id.in_([p.id for p in people]))
        .group_by(Face.person_id)).all()) if people else {}
    return [_summary(p, counts.get(p.id, 0)) for p in people], total


def _person(session: Session, person_id: int) -> Person:
    p = session.get(Person, person_id)
    if p is None:
        raise PersonNotFound(f"no person {person_id}")
    return p


def person_detail(session: Session, person_id: int) -> dict[str, Any]:
    """A person with every appearance: asset, time (video) and face, in asset and time order."""
    p = _person(session, person_id)
    rows = session.execute(
        select(Face, Asset.title, Asset.kind, Asset.filename).join(Asset, Asset.id == Face.asset_id)
        .where(Face.person_id == person_id).order_by(Face.asset_id, Face.time, Face.id)
    ).all()
    appearances = [{"face_id": f.id, "asset_id": f.asset_id, "title": title or filename or f"#{f.asset_id}",
                    "kind": kind, "time": f.time, "shot": f.shot_seq, "thumbnail": f.thumb_sha,
                    "box": [f.x, f.y, f.w, f.h], "score": f.score, "pinned": f.pinned}
                   for f, title, kind, filename in rows]
    out = _summary(p, len({a["asset_id"] for a in appearances}))
    out["appearances"] = appearances
    return out


def asset_people(session: Session, asset_id: int) -> list[dict[str, Any]]:
    """The people seen in one asset, with their faces there (time and thumbnail)."""
    rows = session.execute(
        select(Face, Person.name, Person.thumb_sha).outerjoin(Person, Person.id == Face.person_id)
        .where(Face.asset_id == asset_id).order_by(Face.time, Face.id)
    ).all()
    people: dict[int | None, dict[str, Any]] = {}
    for f, name, thumb in rows:
        entry = people.setdefault(f.person_id, {"id": f.person_id, "name": name or "",
                                                "thumbnail": thumb or f.thumb_sha, "faces": []})
        entry["faces"].append({"face_id": f.id, "time": f.time, "shot": f.shot_seq, "thumbnail": f.thumb_sha,
                               "box": [f.x, f.y, f.w, f.h], "score": f.score})
    return [dict(p, first=p["faces"][0]["time"]) for p in people.values()]


def name_person(session: Session, person_id: int, name: str, who: str) -> dict[str, Any]:
    """Give a person a name (empty clears it)."""
    p = _person(session, person_id)
    clean = " ".join((name or "").split())
    if len(clean) > MAX_NAME:
        raise PeopleError(f"a name may be at most {MAX_NAME} characters")
    p.name, p.named_by, p.updated_at = clean, who if clean else "", utcnow()
    session.flush()
    return _summary(p)


def merge_people(session: Session, into_id: int, other_ids: list[int], who: str) -> dict[str, Any]:
    """Move every face of `other_ids` into `into_id` and delete the others; the kept person takes the first
    other's name when it has none."""
    others = [i for i in dict.fromkeys(other_ids) if i != into_id]
    if not others:
        raise PeopleError("name at least one other person to merge")
    keep = _person(session, into_id)
    people = [_person(session, i) for i in others]
    if not keep.name:
        named = next((o for o in people if o.name), None)
        if named is not None:
            keep.name, keep.named_by = named.name, named.named_by
    session.execute(update(Face).where(Face.person_id.in_(others)).values(person_id=into_id, pinned=True)
                    .execution_options(synchronize_session=False))
    for o in people:
        session.delete(o)
    session.flush()
    keep.meta = dict(keep.meta or {}, merged=[*(keep.meta or {}).get("merged", []), *others],
                     merged_by=who)
    refresh_person(session, into_id)
    session.flush()
    return _summary(keep)


def split_faces(session: Session, face_ids: list[int], who: str, name: str = "") -> dict[str, Any]:
    """Put faces into a new person (pinned there); the people they left are updated or, when empty and
    unnamed, deleted."""
    ids = list(dict.fromkeys(face_ids))
    if not ids:
        raise PeopleError("choose at least one face to split off")
    faces = list(session.scalars(select(Face).where(Face.id.in_(ids))))
    missing = set(ids) - {f.id for f in faces}
    if missing:
        raise PersonNotFound(f"no face {', '.join(str(i) for i in sorted(missing))}")
    clean = " ".join((name or "").split())
    if len(clean) > MAX_NAME:
        raise PeopleError(f"a name may be at most {MAX_NAME} characters")
    left = {f.person_id for f in faces if f.person_id is not None}
    person = Person(name=clean, named_by=who if clean else "", meta={"split_by": who, "split_from": sorted(left)})
    session.add(person)
    session.flush()
    for f in faces:
        f.person_id, f.pinned = person.id, True
    session.flush()
    refresh_person(session, person.id)
    prune_empty_people(session, left)
    session.flush()
    return _summary(person, len({f.asset_id for f in faces}))
