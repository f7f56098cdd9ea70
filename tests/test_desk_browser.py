"""编辑部 in headless Chromium: a chief creates a desk on /desk and adds an editor; the editor puts an asset on the
board, locks it, moves it through the columns (select and drag), assigns it, is told clearly when a colleague holds
a lock, and reads the item's history in the drawer. Screenshot: /tmp/zhimei-desk.png."""

from __future__ import annotations

import uuid

import pytest
from webserver import live_server, watched_page

import zhimei.desk as desk
from zhimei.library.assets import ingest_bytes
from zhimei.store.tokens import create_token

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def asset(title: str) -> int:
    body = f"# {title}\n\n{title}的正文 {uuid.uuid4().hex}。\n"
    return ingest_bytes(body.encode(), f"{uuid.uuid4().hex[:8]}.md", source="desk-test").asset_id


def test_an_editor_moves_an_item_on_the_board_and_sees_its_history(zhome, browser):
    from playwright.sync_api import expect

    chief = create_token("chief-wang", "editor")
    editor = create_token("editor-li", "editor")
    story = asset("港口吞吐量")
    other = asset("冬季供暖")
    with live_server(workers=0) as server:
        # the chief creates the desk and adds the editor, on the page
        page, errors = watched_page(browser, server, chief)
        page.goto(f"{server.url}/desk")
        expect(page.locator('[data-testid="no-desks"]')).to_be_visible()
        page.fill('[data-testid="desk-create-name"]', "财经")
        page.click('[data-testid="desk-create-submit"]')
        expect(page.locator('[data-testid="desk-board"]')).to_have_attribute("data-desk", "财经")
        expect(page.locator('[data-testid="desk-msg"]')).to_contain_text("财经")
        page.fill('[data-testid="member-name"]', "editor-li")
        page.select_option('[data-testid="member-role"]', "editor")
        page.click('[data-testid="member-submit"]')
        expect(page.locator('[data-testid="member-row"][data-name="editor-li"]')).to_have_attribute("data-role",
                                                                                                   "editor")
        page.close()

        # the editor adds an asset and works on it
        page, errors2 = watched_page(browser, server, editor)
        page.goto(f"{server.url}/desk?desk=财经")
        page.fill('[data-testid="item-add-asset"]', str(story))
        page.fill('[data-testid="item-add-title"]', "港口吞吐量创新高")
        page.click('[data-testid="item-add-submit"]')
        card = page.locator(f'[data-testid="desk-card"][data-asset="{story}"]')
        expect(card).to_have_attribute("data-stage", "incoming")
        expect(page.locator('[data-testid="desk-column"][data-stage="incoming"] [data-testid="desk-card"]')) \
            .to_have_count(1)
        item_id = int(card.get_attribute("data-id"))

        card.locator('[data-testid="lock-btn"]').click()
        expect(card.locator('[data-testid="lock-indicator"]')).to_contain_text("editor-li")
        card.locator('[data-testid="renew-btn"]').click()
        expect(page.locator('[data-testid="desk-msg"]')).to_contain_text("已续期")
        page.evaluate("sessionStorage.clear()")  # a lost token: the page asks for its own lock again
        card.locator('[data-testid="move-select"]').select_option("in_progress")
        card.locator('[data-testid="move-submit"]').click()
        expect(page.locator('[data-testid="desk-msg"]')).to_contain_text("in_progress")
        card = page.locator(f'[data-testid="desk-card"][data-id="{item_id}"]')
        expect(card).to_have_attribute("data-stage", "in_progress")
        expect(page.locator('[data-testid="desk-column"][data-stage="in_progress"] [data-testid="desk-card"]')) \
            .to_have_count(1)
        card.locator('[data-testid="assign-select"]').select_option("editor-li")
        card.locator('[data-testid="assign-submit"]').click()
        expect(card).to_have_attribute("data-assignee", "editor-li")
        card.locator('[data-testid="unlock-btn"]').click()
        expect(card.locator('[data-testid="lock-indicator"]')).to_have_count(0)

        # drag it on to proofread
        card.locator('[data-testid="card-title"]').drag_to(
            page.locator('[data-testid="desk-column"][data-stage="proofread"] h2'))
        expect(page.locator(f'[data-testid="desk-card"][data-id="{item_id}"]')).to_have_attribute(
            "data-stage", "proofread")

        # a colleague holds the lock on another item: the editor is told who and until when
        other_id = desk.add_item("财经", other, actor="chief-wang")["id"]
        desk.acquire_lock(other_id, actor="chief-wang")
        page.reload()
        other_card = page.locator(f'[data-testid="desk-card"][data-id="{other_id}"]')
        expect(other_card.locator('[data-testid="lock-indicator"]')).to_contain_text("chief-wang")
        other_card.locator('[data-testid="move-submit"]').click()
        msg = page.locator('[data-testid="desk-msg"]')
        expect(msg).to_contain_text(f"item {other_id} is locked by chief-wang until")
        expect(msg).to_have_class("desk-msg error")

        # a new working title (a prompt), then the history drawer, and a note added there
        card = page.locator(f'[data-testid="desk-card"][data-id="{item_id}"]')
        page.once("dialog", lambda d: d.accept("港口吞吐量再创新高"))
        card.locator('[data-testid="retitle-btn"]').click()
        expect(card.locator('[data-testid="card-title"]')).to_have_text("港口吞吐量再创新高")
        card.locator('[data-testid="history-btn"]').click()
        drawer = page.locator('[data-testid="history-drawer"]')
        expect(drawer).to_be_visible()
        rows = drawer.locator('[data-testid="history-row"]')
        expect(rows).to_have_count(7)
        assert [rows.nth(i).get_attribute("data-action") for i in range(7)] == [
            "created", "locked", "moved", "assigned", "unlocked", "moved", "retitled"]
        expect(rows.nth(2)).to_contain_text("incoming → in_progress")
        expect(rows.nth(5)).to_contain_text("in_progress → proofread")
        page.fill('[data-testid="note-text"]', "标题请再斟酌")
        page.click('[data-testid="note-submit"]')
        expect(rows).to_have_count(8)
        expect(rows.nth(7)).to_contain_text("标题请再斟酌")
        page.screenshot(path="/tmp/zhimei-desk.png", full_page=True)
        assert [h["action"] for h in desk.item_history(item_id)][-1] == "note"
    assert errors == [], errors
    unexpected = [e for e in errors2 if "409" not in e and "Conflict" not in e]
    assert unexpected == [], errors2
