"""``inv deploy --dry-run`` diffs helm's manifests: a chart-owned Secret (secrets.create=true)
is in them, and its values must never reach the diff (base64 ``data`` or plain)."""

from __future__ import annotations

import base64
from pathlib import Path

from tests.chart.conftest import template_text
from todo_deploy import deploy

AUTH_A = "first-auth-secret-for-the-dry-run-test-000"
AUTH_B = "second-auth-secret-for-the-dry-run-test-111"
DB_URL = "postgresql://todo:pg-password-in-url-9@db.example:5432/todo"


def owned(auth: str) -> tuple[str, ...]:
    return ("--set", "secrets.create=true", "--set-string", f"secrets.betterAuthSecret={auth}",
            "--set-string", f"secrets.databaseUrl={DB_URL}")


def shown(changes: list[deploy.Change]) -> str:
    return "\n".join(line for change in changes for line in change.diff)


def forms(value: str) -> list[str]:
    return [value, base64.b64encode(value.encode()).decode()]


def test_a_new_chart_owned_secret_is_listed_with_its_keys_and_masked_values(
        helm: Path) -> None:
    changes = deploy.manifest_changes("", template_text(helm, *owned(AUTH_A)))
    secret = next(c for c in changes if c.key == "Secret/todo-secrets")
    assert secret.kind == "add"
    text = shown(changes)
    for value in (AUTH_A, DB_URL, "pg-password-in-url-9"):
        for form in forms(value):
            assert form not in text
    assert "+  better-auth-secret: '***'" in secret.diff
    assert "+  database-url: '***'" in secret.diff


def test_a_changed_secret_value_shows_which_key_changed_but_neither_value(helm: Path) -> None:
    changes = deploy.manifest_changes(template_text(helm, *owned(AUTH_A)),
                                      template_text(helm, *owned(AUTH_B)))
    secret = next(c for c in changes if c.key == "Secret/todo-secrets")
    text = shown(changes)
    for value in (AUTH_A, AUTH_B, DB_URL):
        for form in forms(value):
            assert form not in text
    body = [line for line in secret.diff if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert body == ["-  better-auth-secret: '***'", "+  better-auth-secret: '*** (changed)'"]
