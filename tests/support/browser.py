"""Debian's Chromium, driven by Playwright, logged in to the local stack's Open WebUI."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
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


def admin_token(env: dict[str, str]) -> str:
    """A session token of the admin `make up` made, signed in through Open WebUI's API."""
    admin = {"email": env["OPEN_WEBUI_ADMIN_EMAIL"], "password": env["OPEN_WEBUI_ADMIN_PASSWORD"]}
    signin = f"{env['OPEN_WEBUI_URL']}/api/v1/auths/signin"
    return httpx.post(signin, json=admin, timeout=60).raise_for_status().json()["token"]


def cap_admins_replies(env: dict[str, str], max_tokens: int) -> None:
    """Set the admin's own max_tokens (Settings > General > Advanced Parameters), which Open WebUI
    then sends with each of the admin's chats: a request's own max_tokens wins over any default."""
    base = f"{env['OPEN_WEBUI_URL']}/api/v1/users/user/settings"
    headers = {"Authorization": f"Bearer {admin_token(env)}"}
    settings = httpx.get(base, headers=headers, timeout=60).raise_for_status().json() or {}
    ui = settings.get("ui") or {}
    ui["params"] = {**(ui.get("params") or {}), "max_tokens": max_tokens}
    httpx.post(f"{base}/update", headers=headers, json={**settings, "ui": ui}, timeout=60).raise_for_status()


def add_user(env: dict[str, str], name: str) -> tuple[str, str]:
    """A new Open WebUI account with the role `user`, added by the admin as the Admin Panel does (sign-up
    is closed once the admin exists): its email and password. Each call makes another account."""
    base = f"{env['OPEN_WEBUI_URL']}/api/v1/auths"
    token = admin_token(env)
    email, password = f"{name}-{secrets.token_hex(4)}@example.com", secrets.token_urlsafe(16)
    added = httpx.post(
        f"{base}/add",
        headers={"Authorization": f"Bearer {token}"},
        json={"name": name, "email": email, "password": password, "role": "user"},
        timeout=60,
    )
    assert added.status_code == 200, f"the admin could not add a user: {added.status_code} {added.text[:200]}"
    return email, password


@contextmanager
def open_webui_page(env: dict[str, str], login: tuple[str, str] | None = None) -> Iterator[Page]:
    """A page logged in to Open WebUI as this (email, password), by default the admin `make up` made
    (from the stack's .run/env)."""
    email, password = login or (env["OPEN_WEBUI_ADMIN_EMAIL"], env["OPEN_WEBUI_ADMIN_PASSWORD"])
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make setup` first")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.set_default_timeout(60_000)
        page.goto(f"{env['OPEN_WEBUI_URL']}/auth")
        page.fill("#email", email)
        page.fill("#password", password)
        page.click("button[type=submit]")
        page.wait_for_selector("#chat-input")
        try:
            yield page
        finally:
            browser.close()
