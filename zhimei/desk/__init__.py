"""desk (编辑部): desks with members and desk roles, items moving through stages (incoming → in_progress →
proofread → review → ready → published), assignment and hand-over, edit locks, and each item's history.

People are the actor names the rest of zhimei uses (a token's name; ``cli:<login>`` on the command line).
Desk roles (chief / editor / reporter / proofreader) are separate from API token roles; an admin token passes
every desk-role check but never someone else's lock (it breaks it, recorded). Other areas use these names,
not the submodules."""

from __future__ import annotations

from zhimei.desk.core import DESK_ROLES, STAGE_ROLES, STAGES, TRANSITIONS, allowed_moves
from zhimei.desk.desks import (
    add_member,
    create_desk,
    desk_history,
    get_desk,
    list_desks,
    list_members,
    remove_member,
)
from zhimei.desk.errors import DeskError
from zhimei.desk.items import (
    add_item,
    add_note,
    assign_item,
    desk_board,
    get_item,
    handover_item,
    item_history,
    list_items,
    move_item,
    retitle_item,
    transfer_item,
)
from zhimei.desk.locks import acquire_lock, break_lock, release_lock, renew_lock

__all__ = [
    "DeskError", "STAGES", "DESK_ROLES", "TRANSITIONS", "STAGE_ROLES", "allowed_moves",
    "create_desk", "list_desks", "get_desk", "list_members", "add_member", "remove_member", "desk_history",
    "add_item", "list_items", "get_item", "item_history", "move_item", "assign_item", "handover_item",
    "transfer_item", "retitle_item", "add_note", "desk_board", "acquire_lock", "renew_lock", "release_lock",
    "break_lock",
]
