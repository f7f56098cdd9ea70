"""The Studio headlines page in headless Chromium: pick a source, run (the embedded model streams), see the
variants with their method, edit the chosen one and save it as a new AI-marked asset. Screenshot:
/tmp/zhimei-studio.png."""

from __future__ import annotations

import pytest
from webserver import live_server, watched_page

import zhimei.jobs as jobs
from zhimei.library.assets import ingest_bytes
from zhimei.settings import reset_settings
from zhimei.store.db import session_scope
from zhimei.store.models import Asset
from zhimei.store.tokens import create_token

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ZH = ("记者从市交通委获悉，本市将于下月起新增20条夜间公交线路，覆盖主要商圈和地铁站，方便市民夜间出行。"
      "首批线路将于7月1日开通，票价与日间线路相同。")


def test_studio_headlines_pick_run_compare_edit_save(zhome, browser, monkeypatch):
    from playwright.sync_api import expect

    monkeypatch.setenv("ZHIMEI_STAGE_MODULES", '["zhimei.library.text_stages"]')
    reset_settings()
    src = ingest_bytes(ZH.encode("utf-8"), "night-bus.txt", title="夜间公交").asset_id
    jobs.drain()
    token = create_token("browser-editor", "editor")
    with live_server(workers=0) as server:
        page, errors = watched_page(browser, server, token)
        page.goto(f"{server.url}/studio/headlines")
        box = page.locator(f'[data-testid="studio-source-{src}"]')
        expect(box).to_have_count(1)
        box.check()
        page.fill('[data-testid="studio-n"]', "2")
        page.select_option('[data-testid="studio-method-select"]', "hybrid")  # the embedded model streams
        page.click('[data-testid="studio-run"]')
        variants = page.locator('[data-testid="studio-variant"]')
        expect(variants).to_have_count(2, timeout=240_000)
        expect(page.locator('[data-testid="studio-method"]')).to_contain_text("gemma3")
        variants.nth(1).click()
        edit = page.locator('[data-testid="studio-edit"]')
        expect(edit).not_to_have_value("")
        edit.fill("编辑后：本市新增20条夜间公交线路")
        page.click('[data-testid="studio-save"]')
        link = page.locator('[data-testid="studio-saved-link"]')
        expect(link).to_have_count(1, timeout=30_000)
        aid = int(link.inner_text().lstrip("#"))
        page.screenshot(path="/tmp/zhimei-studio.png", full_page=True)
        assert errors == []
    with session_scope() as s:
        a = s.get(Asset, aid)
        assert a.parent_id == src and a.meta["ai_generated"] and a.meta["review_status"] == "pending"
        assert a.meta["studio"]["backend"] == "gemma3" and a.created_by == "browser-editor"
