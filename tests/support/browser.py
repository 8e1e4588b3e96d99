"""Debian's Chromium, driven by Playwright, logged in to the local stack's Open WebUI."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Page, sync_playwright

from dmr_tools.paths import CHROMIUM

# The flags this machine needs: no sandbox as root, no network chatter, no /dev/shm limits.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@contextmanager
def open_webui_page(env: dict[str, str]) -> Iterator[Page]:
    """A page logged in to Open WebUI as the admin `make up` made (from the stack's .run/env)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make setup` first")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.set_default_timeout(60_000)
        page.goto(f"{env['OPEN_WEBUI_URL']}/auth")
        page.fill("#email", env["OPEN_WEBUI_ADMIN_EMAIL"])
        page.fill("#password", env["OPEN_WEBUI_ADMIN_PASSWORD"])
        page.click("button[type=submit]")
        page.wait_for_selector("#chat-input")
        try:
            yield page
        finally:
            browser.close()
