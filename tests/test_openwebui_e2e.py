"""A person chats in Open WebUI with `auto`, in a real headless Chromium, and a medical
question is answered by the `doctor` adapter: proven from vLLM's own request log."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

CHROMIUM = "/usr/bin/chromium"
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
QUESTION = "My ankle is swollen and bruised since I twisted it yesterday, should I get an x-ray?"


@pytest.fixture(scope="module")
def page(open_webui: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make setup` first")
    email, password = "admin@example.com", secrets.token_urlsafe(16)
    # The first account becomes the admin.
    signup = httpx.post(
        f"{open_webui}/api/v1/auths/signup",
        json={"name": "Admin", "email": email, "password": password},
        timeout=60,
    )
    assert signup.status_code == 200, signup.text
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(f"{open_webui}/auth")
        page.fill("#email", email)
        page.fill("#password", password)
        page.click("button[type=submit]")
        page.wait_for_selector("#chat-input")
        try:
            yield page
        finally:
            page.screenshot(path=str(tmp_path_factory.mktemp("screens") / "last.png"))
            browser.close()


def test_a_medical_question_typed_in_open_webui_is_answered_by_the_doctor_adapter(page: Page, vllm, proxy):
    dismiss = page.get_by_role("button", name=re.compile("Okay, Let's Go!"))
    if dismiss.count():
        dismiss.click()
    expect(page.locator("#model-selector-model-button")).to_contain_text("auto")
    offset = len(vllm.server.log_text())
    page.fill("#chat-input", QUESTION)
    page.click("#send-message-button")

    deadline = time.monotonic() + 90
    while not (served := [model for _, model in vllm.served(since=offset)]) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert served, f"no request reached vLLM after sending the chat; proxy log:\n{proxy.server.tail()}"
    assert served[0] == "doctor", f"Open WebUI's chat was served by {served[0]!r}, expected doctor"
    expect(page.locator(".chat-assistant, [id^=message-]").last).to_be_visible()
