"""Provenance pages in headless Chromium: label an image from its provenance page, see the AIGC fields and the
C2PA state, export the evidence packet, verify it on /evidence/verify, and see a corrupted one refused.
Screenshots: /tmp/zhimei-provenance.png, /tmp/zhimei-evidence-verify.png."""

from __future__ import annotations

import zipfile

import pytest
from PIL import Image
from webserver import live_server, watched_page

from zhimei.library.assets import ingest_file
from zhimei.store.tokens import create_token

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_label_export_and_verify_in_the_browser(zhome, browser, tmp_path):
    from playwright.sync_api import expect

    src = tmp_path / "ai-picture.png"
    Image.new("RGB", (640, 400), (30, 90, 160)).save(src)
    aid = ingest_file(src, title="AI 生成配图").asset_id
    token = create_token("browser-editor", "editor")
    with live_server(workers=0) as server:
        page, errors = watched_page(browser, server, token)
        page.goto(f"{server.url}/assets/{aid}/provenance")
        expect(page.locator('[data-testid="prov-unread"]')).to_be_visible()
        page.click('[data-testid="prov-refresh"]')
        expect(page.locator('[data-testid="prov-status"]')).to_have_text("none")

        page.fill('[data-testid="label-producer"]', "91110108MA01KP2T5U")
        page.click('[data-testid="label-submit"]')
        page.wait_for_url("**/provenance?notice=labelled", timeout=60_000)
        new_id = int(page.url.split("/assets/")[1].split("/")[0])
        assert new_id != aid
        fields = page.locator('[data-testid="prov-labelled-aigc"]')
        expect(fields.locator('[data-field="ContentProducer"]')).to_have_text("91110108MA01KP2T5U")
        expect(fields.locator('[data-field="Label"]')).to_have_text("1")
        expect(page.locator('[data-testid="prov-labelled-c2pa"]')).to_have_text("Trusted")
        page.click('[data-testid="prov-refresh"]')  # read the labelled file's own labels back
        expect(page.locator('[data-testid="prov-status"]')).to_have_text("labelled")
        expect(page.locator('[data-testid="prov-c2pa-state"]')).to_contain_text("Trusted")
        page.screenshot(path="/tmp/zhimei-provenance.png", full_page=True)

        page.fill('[data-testid="evidence-decision"]', "blocked")
        with page.expect_download() as dl:
            page.click('[data-testid="evidence-submit"]')
        packet = tmp_path / "packet.zip"
        dl.value.save_as(packet)
        with zipfile.ZipFile(packet) as zf:
            assert "manifest.json" in zf.namelist()

        page.goto(f"{server.url}/evidence/verify")
        page.set_input_files('[data-testid="verify-file"]', str(packet))
        page.click('[data-testid="verify-submit"]')
        expect(page.locator('[data-testid="verify-result"]')).to_contain_text("VALID")
        expect(page.locator('[data-testid="verify-result"]')).not_to_contain_text("INVALID")

        bad = tmp_path / "bad.zip"
        with zipfile.ZipFile(packet) as zin, zipfile.ZipFile(bad, "w") as zout:
            for info in zin.infolist():
                data = zin.read(info.filename)
                zout.writestr(info, data.replace(b"blocked", b"passed!") if info.filename == "manifest.json"
                              else data)
        page.set_input_files('[data-testid="verify-file"]', str(bad))
        page.click('[data-testid="verify-submit"]')
        expect(page.locator('[data-testid="verify-result"]')).to_contain_text("INVALID")
        expect(page.locator('[data-testid="verify-problems"]')).to_contain_text("signature-mismatch")
        page.screenshot(path="/tmp/zhimei-evidence-verify.png", full_page=True)
        assert errors == []
