"""编辑部 desks: REST endpoints under /api/desks and the /desk board page.

Token roles first (viewer reads, editor writes), desk roles on top (only a chief of the desk, or an admin token,
manages members; ready/published and other desks need a chief or editor …). Bad input is a 4xx naming the
problem: unknown desk/member/item/asset 404; locked by someone else, stale version or a move the stage does not
allow 409 (a lock conflict also answers ``holder`` and ``until``); a write with neither version nor lock token
428; hostile or oversized text 422.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from zhimei.api.auth import Principal, require
from zhimei.api.routes_pages import render, render_error
from zhimei.desk import (
    DESK_ROLES,
    STAGES,
    TRANSITIONS,
    DeskError,
    acquire_lock,
    add_item,
    add_member,
    add_note,
    assign_item,
    break_lock,
    create_desk,
    desk_board,
    desk_history,
    get_desk,
    get_item,
    handover_item,
    item_history,
    list_desks,
    list_items,
    list_members,
    move_item,
    release_lock,
    remove_member,
    renew_lock,
    retitle_item,
    transfer_item,
)

__all__ = ["router", "DeskIn", "MemberIn", "ItemIn", "WriteIn", "MoveIn", "AssignIn", "HandoverIn", "TransferIn",
           "RetitleIn", "NoteIn", "LockIn", "TokenIn", "BreakIn"]

router = APIRouter(tags=["desk"])
_TEXT_CAP = 200_000  # a hard cap; the configured note limit answers with a clearer message below it


def _desk_path() -> Any:
    return Path(..., min_length=1, max_length=64, description="desk id or name")


def _item_path() -> Any:
    return Path(..., ge=1, le=2**31 - 1, description="desk item id")


def _run(fn, *args: Any, **kwargs: Any) -> Any:
    """Call a desk function; a DeskError becomes its status with ``detail`` (and e.g. holder, until)."""
    try:
        return fn(*args, **kwargs)
    except DeskError as exc:
        return JSONResponse({"detail": str(exc), **exc.extra}, status_code=exc.status)


def _admin(p: Principal) -> bool:
    return p.allows("admin")


# ---- bodies -----------------------------------------------------------------------------------------

class DeskIn(BaseModel):
    """A new desk; whoever creates it becomes its chief."""

    name: str = Field(..., max_length=200, description="1-64 characters, e.g. 时政")
    description: str = Field("", max_length=_TEXT_CAP)


class MemberIn(BaseModel):
    role: str = Field(..., max_length=32, description=" | ".join(DESK_ROLES))


class ItemIn(BaseModel):
    """Put an asset on the desk (stage incoming)."""

    asset_id: int = Field(..., ge=1, le=2**31 - 1)
    title: str | None = Field(None, max_length=_TEXT_CAP)
    assignee: str | None = Field(None, max_length=_TEXT_CAP)
    note: str = Field("", max_length=_TEXT_CAP)


class WriteIn(BaseModel):
    """Every change names the item's version you read, or carries your lock token (or both)."""

    version: int | None = Field(None, ge=1)
    lock_token: str | None = Field(None, max_length=200)
    note: str = Field("", max_length=_TEXT_CAP)


class MoveIn(WriteIn):
    stage: str = Field(..., max_length=32, description=" | ".join(STAGES))


class AssignIn(WriteIn):
    assignee: str | None = Field(None, max_length=_TEXT_CAP, description="a member of the desk; null: nobody")


class HandoverIn(WriteIn):
    to: str = Field(..., max_length=_TEXT_CAP, description="the member taking the item over")


class TransferIn(WriteIn):
    desk: str = Field(..., max_length=200, description="the desk (id or name) to move the item to")


class RetitleIn(WriteIn):
    title: str = Field(..., max_length=_TEXT_CAP)


class NoteIn(BaseModel):
    note: str = Field(..., max_length=_TEXT_CAP)


class LockIn(BaseModel):
    minutes: float | None = Field(None, gt=0, le=1440, description="default: the desk_lock_minutes setting")


class TokenIn(BaseModel):
    token: str = Field(..., min_length=1, max_length=200)
    minutes: float | None = Field(None, gt=0, le=1440)


class BreakIn(BaseModel):
    reason: str = Field("", max_length=_TEXT_CAP)


# ---- API: desks and members ----------------------------------------------------------------------------

@router.get("/api/desks", summary="Desks with their member count and items per stage")
def api_desks(_: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    return {"items": list_desks(), "stages": list(STAGES), "roles": list(DESK_ROLES),
            "transitions": {k: list(v) for k, v in TRANSITIONS.items()}}


@router.post("/api/desks", status_code=201, summary="Create a desk (you become its chief)")
def api_create_desk(body: DeskIn, p: Principal = Depends(require("editor"))) -> Any:
    return _run(create_desk, body.name, actor=p.name, description=body.description)


# ---- API: items (declared before /api/desks/{desk}) ------------------------------------------------------

@router.get("/api/desks/items/{item_id}", summary="One desk item with its history")
def api_item(item_id: int = _item_path(), _: Principal = Depends(require("viewer"))) -> Any:
    return _run(get_item, item_id)


@router.get("/api/desks/items/{item_id}/history", summary="Who did what to the item, oldest first")
def api_item_history(item_id: int = _item_path(), _: Principal = Depends(require("viewer"))) -> Any:
    out = _run(item_history, item_id)
    return out if isinstance(out, JSONResponse) else {"items": out}


@router.post("/api/desks/items/{item_id}/move", summary="Move the item to another stage",
             responses={409: {"description": "locked by someone else, stale version, or a move not allowed"}})
def api_move(body: MoveIn, item_id: int = _item_path(), p: Principal = Depends(require("editor"))) -> Any:
    return _run(move_item, item_id, body.stage, actor=p.name, version=body.version, lock_token=body.lock_token,
                note=body.note, admin=_admin(p))


@router.post("/api/desks/items/{item_id}/assign", summary="Assign the item to a member (null: nobody)")
def api_assign(body: AssignIn, item_id: int = _item_path(), p: Principal = Depends(require("editor"))) -> Any:
    return _run(assign_item, item_id, body.assignee, actor=p.name, version=body.version,
                lock_token=body.lock_token, note=body.note, admin=_admin(p))


@router.post("/api/desks/items/{item_id}/handover", summary="Hand the item over to another member, with a note")
def api_handover(body: HandoverIn, item_id: int = _item_path(), p: Principal = Depends(require("editor"))) -> Any:
    return _run(handover_item, item_id, body.to, actor=p.name, note=body.note, version=body.version,
                lock_token=body.lock_token, admin=_admin(p))


@router.post("/api/desks/items/{item_id}/transfer", summary="Move the item to another desk")
def api_transfer(body: TransferIn, item_id: int = _item_path(), p: Principal = Depends(require("editor"))) -> Any:
    return _run(transfer_item, item_id, body.desk, actor=p.name, version=body.version, lock_token=body.lock_token,
                note=body.note, admin=_admin(p))


@router.patch("/api/desks/items/{item_id}", summary="Change the item's working title")
def api_retitle(body: RetitleIn, item_id: int = _item_path(), p: Principal = Depends(require("editor"))) -> Any:
    return _run(retitle_item, item_id, body.title, actor=p.name, version=body.version, lock_token=body.lock_token,
                note=body.note, admin=_admin(p))


@router.post("/api/desks/items/{item_id}/notes", status_code=201, summary="Add a note to the item's history")
def api_note(body: NoteIn, item_id: int = _item_path(), p: Principal = Depends(require("editor"))) -> Any:
    return _run(add_note, item_id, body.note, actor=p.name, admin=_admin(p))


@router.post("/api/desks/items/{item_id}/lock", summary="Lock the item for editing (renews your own lock)",
             responses={409: {"description": "locked by someone else: detail, holder, until"}})
def api_lock(body: LockIn | None = None, item_id: int = _item_path(),
             p: Principal = Depends(require("editor"))) -> Any:
    return _run(acquire_lock, item_id, actor=p.name, minutes=body.minutes if body else None, admin=_admin(p))


@router.post("/api/desks/items/{item_id}/lock/renew", summary="Extend your lock")
def api_renew(body: TokenIn, item_id: int = _item_path(), p: Principal = Depends(require("editor"))) -> Any:
    return _run(renew_lock, item_id, body.token, actor=p.name, minutes=body.minutes)


@router.post("/api/desks/items/{item_id}/unlock", summary="Release your lock")
def api_unlock(body: TokenIn, item_id: int = _item_path(), p: Principal = Depends(require("editor"))) -> Any:
    return _run(release_lock, item_id, body.token, actor=p.name)


@router.post("/api/desks/items/{item_id}/lock/break", summary="Break a lock (a chief of the desk, or an admin)")
def api_break(body: BreakIn, item_id: int = _item_path(), p: Principal = Depends(require("editor"))) -> Any:
    return _run(break_lock, item_id, actor=p.name, reason=body.reason, admin=_admin(p))


# ---- API: one desk -----------------------------------------------------------------------------------------

@router.get("/api/desks/{desk}", summary="One desk (id or name) with its members")
def api_desk(desk: str = _desk_path(), _: Principal = Depends(require("viewer"))) -> Any:
    return _run(get_desk, desk)


@router.get("/api/desks/{desk}/board", summary="The desk board: one column of items per stage")
def api_board(desk: str = _desk_path(), _: Principal = Depends(require("viewer"))) -> Any:
    return _run(desk_board, desk)


@router.get("/api/desks/{desk}/history", summary="The desk's history, newest first")
def api_desk_history(desk: str = _desk_path(), limit: int = Query(200, ge=1, le=5000),
                     _: Principal = Depends(require("viewer"))) -> Any:
    out = _run(desk_history, desk, limit=limit)
    return out if isinstance(out, JSONResponse) else {"items": out}


@router.get("/api/desks/{desk}/members", summary="The desk's members and their desk roles")
def api_members(desk: str = _desk_path(), _: Principal = Depends(require("viewer"))) -> Any:
    out = _run(list_members, desk)
    return out if isinstance(out, JSONResponse) else {"items": out}


@router.put("/api/desks/{desk}/members/{name}", summary="Add a member or change their desk role (chief/admin)")
def api_put_member(body: MemberIn, desk: str = _desk_path(), name: str = Path(..., min_length=1, max_length=200),
                   p: Principal = Depends(require("editor"))) -> Any:
    return _run(add_member, desk, name, body.role, actor=p.name, admin=_admin(p))


@router.delete("/api/desks/{desk}/members/{name}", summary="Take a member off the desk (chief/admin)")
def api_delete_member(desk: str = _desk_path(), name: str = Path(..., min_length=1, max_length=200),
                      p: Principal = Depends(require("editor"))) -> Any:
    out = _run(remove_member, desk, name, actor=p.name, admin=_admin(p))
    return out if isinstance(out, JSONResponse) else {"removed": name}


@router.get("/api/desks/{desk}/items", summary="The desk's items, filtered by stage and assignee")
def api_items(desk: str = _desk_path(), stage: str | None = Query(None, max_length=32),
              assignee: str | None = Query(None, max_length=100), limit: int = Query(500, ge=1, le=5000),
              _: Principal = Depends(require("viewer"))) -> Any:
    out = _run(list_items, desk, stage=stage, assignee=assignee, limit=limit)
    return out if isinstance(out, JSONResponse) else {"items": out}


@router.post("/api/desks/{desk}/items", status_code=201,
             summary="Put an asset on the desk (the same asset again: the existing item, 200)")
def api_add_item(body: ItemIn, desk: str = _desk_path(), p: Principal = Depends(require("editor"))) -> Any:
    out = _run(add_item, desk, body.asset_id, actor=p.name, title=body.title, assignee=body.assignee,
               note=body.note, admin=_admin(p))
    if isinstance(out, dict) and not out["created"]:
        return JSONResponse(out, status_code=200)
    return out


# ---- page --------------------------------------------------------------------------------------------------

@router.get("/desk", include_in_schema=False)
def desk_page(request: Request, desk: str | None = Query(None, max_length=64),
              p: Principal = Depends(require("viewer"))) -> HTMLResponse:
    desks = list_desks()
    board = None
    chosen = desk or (desks[0]["name"] if desks else None)
    if chosen:
        try:
            board = desk_board(chosen)
        except DeskError as exc:
            return render_error(request, exc.status, str(exc))
    my_role = None
    if board:
        my_role = next((m["role"] for m in board["members"] if m["name"] == p.name), None)
    return render(request, "desk.html", p, nav="desk", desks=desks, board=board, stages=STAGES,
                  roles=DESK_ROLES, transitions={k: list(v) for k, v in TRANSITIONS.items()}, my_role=my_role,
                  can_manage=bool(board) and (my_role == "chief" or p.allows("admin")))
