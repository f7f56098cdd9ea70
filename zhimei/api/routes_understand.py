"""Understanding (智能编目) endpoints and pages: transcript, tags (editable, with history), people (影人识别:
list, name, merge, split, appearances) and the topic vocabulary (admin).

Every route depends on ``require(role)``: viewer reads, editor changes tags and people, admin edits topics.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from zhimei.api.auth import Principal, require
from zhimei.api.routes_pages import NOTICES, render
from zhimei.library.understand import (
    PeopleError,
    PersonNotFound,
    TagError,
    add_user_tag,
    asset_tags,
    create_topic,
    delete_topic,
    list_people,
    merge_people,
    name_person,
    person_detail,
    remove_tag,
    split_faces,
    tag_changes,
    topic_dicts,
    transcript,
    understanding,
    update_topic,
)
from zhimei.store.db import session_scope
from zhimei.store.models import Asset

__all__ = ["router", "TagIn", "NameIn", "MergeIn", "SplitIn", "TopicIn", "TopicPatch"]

router = APIRouter(tags=["understanding"])
NOTICES.update({
    "tag-added": "已添加标签 The tag was added.",
    "tag-removed": "已删除标签 The tag was removed.",
    "named": "已命名 The person was named.",
    "merged": "已合并 The people were merged.",
    "split": "已拆分 The faces now form a new person.",
    "topic-saved": "已保存 The topic was saved.",
})


class TagIn(BaseModel):
    """A tag to add."""

    name: str = Field(..., min_length=1, max_length=200)


class NameIn(BaseModel):
    """A person's name (empty clears it)."""

    name: str = Field("", max_length=200)


class MergeIn(BaseModel):
    """People to fold into this one."""

    others: list[int] = Field(..., min_length=1, max_length=500)


class SplitIn(BaseModel):
    """Faces to put into a new person, optionally named."""

    face_ids: list[int] = Field(..., min_length=1, max_length=5000)
    name: str = Field("", max_length=200)


class TopicIn(BaseModel):
    """A topic of the controlled vocabulary."""

    name: str = Field(..., min_length=1, max_length=100)
    name_en: str = Field("", max_length=100)
    keywords: list[str] = Field(default_factory=list, max_length=500)
    parent_id: int | None = None


class TopicPatch(BaseModel):
    """Changes to a topic (fields left out stay as they are)."""

    name: str | None = Field(None, min_length=1, max_length=100)
    name_en: str | None = Field(None, max_length=100)
    keywords: list[str] | None = Field(None, max_length=500)
    parent_id: int | None = None
    enabled: bool | None = None


# ---- shared work (run in the thread pool) ----------------------------------------------------------

def _need_asset(session: Any, asset_id: int) -> None:
    if session.get(Asset, asset_id) is None:
        raise HTTPException(404, f"no asset {asset_id}")


def _call(fn, *args: Any, **kwargs: Any) -> Any:
    """Run a library function in a transaction; its errors become 404/422 for the caller."""
    try:
        with session_scope() as session:
            return fn(session, *args, **kwargs)
    except (PersonNotFound, LookupError) as exc:
        raise HTTPException(404, str(exc).strip("'\"")) from None
    except (PeopleError, TagError) as exc:
        raise HTTPException(422, str(exc)) from None


def _asset_call(asset_id: int, fn, *args: Any, **kwargs: Any) -> Any:
    def run(session: Any) -> Any:
        _need_asset(session, asset_id)
        return fn(session, asset_id, *args, **kwargs)

    return _call(run)


def _tags_now(asset_id: int) -> dict[str, Any]:
    return _asset_call(asset_id, lambda s, a: {"items": asset_tags(s, a), "changes": tag_changes(s, a)})


def _remove_now(asset_id: int, name: str, who: str) -> dict[str, Any]:
    def run(session: Any, aid: int) -> dict[str, Any]:
        if not remove_tag(session, aid, name, who):
            raise HTTPException(404, f"asset {aid} has no tag {name!r}")
        return {"removed": name}

    return _asset_call(asset_id, run)


# ---- REST API --------------------------------------------------------------------------------------

@router.get("/api/assets/{asset_id}/understanding", summary="People, faces, entities, tags history, safety and "
            "embedding counts of an asset")
def api_understanding(asset_id: int, _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    return _asset_call(asset_id, understanding)


@router.get("/api/assets/{asset_id}/transcript", summary="The transcript: time-coded lines with word timings")
def api_transcript(asset_id: int, words: bool = Query(True, description="include word timings"),
                   _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    return {"asset_id": asset_id, "lines": _asset_call(asset_id, transcript, with_words=words)}


@router.get("/api/assets/{asset_id}/tags", summary="An asset's tags and who changed them")
def api_tags(asset_id: int, _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    return _tags_now(asset_id)


@router.post("/api/assets/{asset_id}/tags", status_code=201, summary="Add a tag (recorded with who added it)")
def api_add_tag(asset_id: int, body: TagIn, principal: Principal = Depends(require("editor"))) -> dict[str, Any]:
    return _asset_call(asset_id, add_user_tag, body.name, principal.name)


@router.delete("/api/assets/{asset_id}/tags/{name:path}", summary="Remove a tag (recorded; re-runs do not add it back)")
def api_remove_tag(asset_id: int, name: str, principal: Principal = Depends(require("editor"))) -> dict[str, Any]:
    return _remove_now(asset_id, name, principal.name)


@router.get("/api/people", summary="People (face clusters), most seen first")
def api_people(q: str | None = Query(None, max_length=200, description="part of a name"),
               named: bool | None = Query(None, description="only named (true) or unnamed (false) people"),
               limit: int = Query(100, ge=1, le=500), offset: int = Query(0, ge=0),
               _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    items, total = _call(list_people, q=q or None, named=named, limit=limit, offset=offset)
    return {"total": total, "items": items}


@router.get("/api/people/{person_id}", summary="A person and every appearance (asset, time, face)")
def api_person(person_id: int, _: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    return _call(person_detail, person_id)


@router.post("/api/people/{person_id}/name", summary="Name a person (an empty name clears it)")
def api_name_person(person_id: int, body: NameIn, principal: Principal = Depends(require("editor"))) -> dict[str, Any]:
    return _call(name_person, person_id, body.name, principal.name)


@router.post("/api/people/{person_id}/merge", summary="Merge other people into this one")
def api_merge_people(person_id: int, body: MergeIn,
                     principal: Principal = Depends(require("editor"))) -> dict[str, Any]:
    return _call(merge_people, person_id, body.others, principal.name)


@router.post("/api/people/split", status_code=201, summary="Split faces off into a new person")
def api_split_faces(body: SplitIn, principal: Principal = Depends(require("editor"))) -> dict[str, Any]:
    return _call(split_faces, body.face_ids, principal.name, body.name)


@router.get("/api/topics", summary="The controlled topic vocabulary")
def api_topics(_: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    return {"items": _call(topic_dicts)}


@router.post("/api/topics", status_code=201, summary="Add a topic (admin)")
def api_create_topic(body: TopicIn, principal: Principal = Depends(require("admin"))) -> dict[str, Any]:
    return _call(create_topic, body.name, body.name_en, body.keywords, body.parent_id, principal.name)


@router.patch("/api/topics/{topic_id}", summary="Change a topic (admin)")
def api_update_topic(topic_id: int, body: TopicPatch,
                     principal: Principal = Depends(require("admin"))) -> dict[str, Any]:
    return _call(update_topic, topic_id, principal.name, **body.model_dump(exclude_unset=True))


@router.delete("/api/topics/{topic_id}", summary="Remove a topic (admin)")
def api_delete_topic(topic_id: int, _: Principal = Depends(require("admin"))) -> dict[str, Any]:
    _call(delete_topic, topic_id)
    return {"deleted": topic_id}


# ---- pages and their form actions ------------------------------------------------------------------

def _redirect(url: str, notice: str) -> RedirectResponse:
    return RedirectResponse(f"{url}{'&' if '?' in url else '?'}notice={notice}", status_code=303)


@router.get("/people", include_in_schema=False)
def people_page(request: Request, q: str = Query("", max_length=200), page: int = Query(1, ge=1, le=100_000),
                principal: Principal = Depends(require("viewer"))) -> HTMLResponse:
    size = 60
    items, total = _call(list_people, q=q or None, limit=size, offset=(page - 1) * size)
    pages = max(1, -(-total // size))
    return render(request, "people.html", principal, nav="people", people=items, total=total, q=q, page=page,
                  pages=pages, prev_url=f"/people?q={quote(q)}&page={page - 1}" if page > 1 else None,
                  next_url=f"/people?q={quote(q)}&page={page + 1}" if page < pages else None)


@router.get("/people/{person_id}", include_in_schema=False)
def person_page(request: Request, person_id: int,
                principal: Principal = Depends(require("viewer"))) -> HTMLResponse:
    p = _call(person_detail, person_id)
    groups: dict[int, dict[str, Any]] = {}
    for a in p["appearances"]:
        groups.setdefault(a["asset_id"], {"asset_id": a["asset_id"], "title": a["title"], "kind": a["kind"],
                                          "faces": []})["faces"].append(a)
    others, _total = _call(list_people, limit=500)
    return render(request, "person.html", principal, nav="people", p=p, groups=list(groups.values()),
                  others=[o for o in others if o["id"] != person_id])


@router.post("/people/{person_id}/name", include_in_schema=False)
async def name_action(person_id: int, name: str = Form("", max_length=200),
                      principal: Principal = Depends(require("editor"))) -> Response:
    await run_in_threadpool(_call, name_person, person_id, name, principal.name)
    return _redirect(f"/people/{person_id}", "named")


@router.post("/people/{person_id}/merge", include_in_schema=False)
async def merge_action(person_id: int, other: int = Form(...),
                       principal: Principal = Depends(require("editor"))) -> Response:
    await run_in_threadpool(_call, merge_people, person_id, [other], principal.name)
    return _redirect(f"/people/{person_id}", "merged")


@router.post("/people/split", include_in_schema=False)
async def split_action(face_id: list[int] = Form(...), name: str = Form("", max_length=200),
                       principal: Principal = Depends(require("editor"))) -> Response:
    out = await run_in_threadpool(_call, split_faces, face_id, principal.name, name)
    return _redirect(f"/people/{out['id']}", "split")


@router.post("/assets/{asset_id}/tags", include_in_schema=False)
async def add_tag_action(asset_id: int, name: str = Form(..., max_length=200),
                         principal: Principal = Depends(require("editor"))) -> Response:
    await run_in_threadpool(_asset_call, asset_id, add_user_tag, name, principal.name)
    return _redirect(f"/assets/{asset_id}", "tag-added")


@router.post("/assets/{asset_id}/tags/remove", include_in_schema=False)
async def remove_tag_action(asset_id: int, name: str = Form(..., max_length=200),
                            principal: Principal = Depends(require("editor"))) -> Response:
    await run_in_threadpool(_remove_now, asset_id, name, principal.name)
    return _redirect(f"/assets/{asset_id}", "tag-removed")


@router.get("/topics", include_in_schema=False)
def topics_page(request: Request, principal: Principal = Depends(require("admin"))) -> HTMLResponse:
    return render(request, "topics.html", principal, nav="topics", topics=_call(topic_dicts))


@router.post("/topics", include_in_schema=False)
async def topic_save_action(topic_id: str = Form("", max_length=20), name: str = Form(..., max_length=100),
                            name_en: str = Form("", max_length=100), keywords: str = Form("", max_length=20_000),
                            enabled: str = Form("", max_length=5),
                            principal: Principal = Depends(require("admin"))) -> Response:
    words = [w.strip() for w in keywords.replace("，", ",").replace("\n", ",").split(",") if w.strip()]
    if topic_id.strip():
        try:
            tid = int(topic_id)
        except ValueError:
            raise HTTPException(422, "topic_id must be a number") from None
        await run_in_threadpool(_call, update_topic, tid, principal.name, name=name, name_en=name_en,
                                keywords=words, enabled=bool(enabled))
    else:
        await run_in_threadpool(_call, create_topic, name, name_en, words, None, principal.name)
    return _redirect("/topics", "topic-saved")
