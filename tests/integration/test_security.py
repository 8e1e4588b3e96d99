"""Nobody gets in without the key or an approved account, and no secret is written down."""

from __future__ import annotations

import json

import httpx
import pytest

from dmr_tools.paths import ROOT

# Every endpoint that reaches a model, a key, a user, spend or the config, and the metrics.
GUARDED = [
    ("GET", "/v1/models"),
    ("POST", "/v1/chat/completions"),
    ("POST", "/v1/completions"),
    ("POST", "/v1/embeddings"),
    ("GET", "/metrics/"),
    ("GET", "/health"),
    ("GET", "/model/info"),
    ("POST", "/model/new"),
    ("POST", "/key/generate"),
    ("GET", "/key/list"),
    ("GET", "/user/list"),
    ("GET", "/spend/logs"),
    ("POST", "/config/update"),
    ("GET", "/routes"),
]


@pytest.mark.parametrize("key", [None, "sk-wrong"], ids=["no-key", "wrong-key"])
def test_every_guarded_proxy_endpoint_answers_401_without_the_master_key(proxy, key: str | None):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    answers = {
        f"{method} {path}": httpx.request(
            method, proxy.url + path, headers=headers, json={}, timeout=30
        ).status_code
        for method, path in GUARDED
    }
    assert set(answers.values()) == {401}, {k: v for k, v in answers.items() if v != 401}


def test_open_webui_refuses_sign_ups_once_the_admin_exists(stack):
    signup = httpx.post(
        f"{stack.env['OPEN_WEBUI_URL']}/api/v1/auths/signup",
        json={"name": "Visitor", "email": "visitor@example.com", "password": "a-long-passphrase-1"},
        timeout=60,
    )
    assert signup.status_code == 403, f"a stranger signed up: {signup.status_code} {signup.text}"


def test_no_secret_lands_in_a_log_of_the_stack_the_readme_or_the_docs(stack, api):
    api.chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}], max_tokens=2)
    run = stack.run
    stored = json.loads(run.secrets_file.read_text())
    admin = stored.pop("open-webui-admin")  # its e-mail is no secret: the README shows it
    secrets = [admin["password"], *(value for secret in stored.values() for value in secret.values())]
    assert len(secrets) == 3, "expected the admin password, the master key and Open WebUI's key"
    places = {
        path.name: path.read_text(encoding="utf-8", errors="replace") for path in run.logs.glob("*.log")
    }
    for doc in (ROOT / "README.md", ROOT / "chart" / "README.md", *(ROOT / "docs").glob("*.md")):
        places[str(doc.relative_to(ROOT))] = doc.read_text(encoding="utf-8")
    leaks = [name for name, text in places.items() for secret in secrets if secret in text]
    assert not leaks, f"a secret was written to {sorted(set(leaks))}"
