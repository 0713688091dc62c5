"""What `inv secrets` builds and says, in-process: the Secret's data and sources, the digest's
exact form, the manifest, the masking format, the apply error, the SQL that rotates the
in-cluster password, and the annotations read back (invoke's MockContext answers the exact
commands with kubectl's output shapes)."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
import yaml
from invoke import MockContext, Result
from invoke.exceptions import Exit

import tasks
from tests.fakes.canned import RUNNING as MINIKUBE_RUNNING
from tests.fakes.canned import lock_commands, secret_json
from tests.unit.test_secrets_task import under_lock
from todo_deploy import envfile, secrets
from todo_deploy.config import Settings
from todo_deploy.console import MASK, Console, mask
from todo_deploy.errors import StageFailed
from todo_deploy.proc import ToolError, ToolResult
from todo_deploy.session import Session
from todo_deploy.tools import Kubectl, NotFound

URL = "postgresql://app:s3cr3t-pw@db.example.com:5432/todo"
AUTH = "auth-secret-value-" + "z" * 30
COHERE = "cohere-key-value-123"
CTX = " --context minikube"
APPLY = "kubectl apply --server-side --field-manager=todo-deploy -f -" + CTX
CHECKS = {
    "kubectl version --client -o json": Result(json.dumps(
        {"clientVersion": {"gitVersion": "v1.31.0"}})),
    "minikube -p minikube status -o json": Result(MINIKUBE_RUNNING),
    "kubectl config current-context": Result("minikube\n"),
    **{command: Result(answer) for command, answer in lock_commands().items()},
}
# the applied Secret, read back once per run (kubectl get -o json; not there yet by default)
GET_SECRET = "kubectl get secret todo-secrets -n todo -o json" + CTX
NO_SECRET = Result("", stderr='Error from server (NotFound): secrets "todo-secrets" not found\n',
                   exited=1)
CHECKS[GET_SECRET] = NO_SECRET


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # table cells on one line each


def env_at(tmp_path: Path, text: str) -> envfile.EnvFile:
    path = tmp_path / ".env"
    path.write_text(text)
    return envfile.read_env(path)


# -- the plan -----------------------------------------------------------------------------


def test_an_external_database_keeps_every_value_and_says_which_line_it_came_from(
        tmp_path: Path) -> None:
    env = env_at(tmp_path, f"# c\nDATABASE_URL= {URL} \nCOHERE_API_KEY={COHERE}\n"
                           f"BETTER_AUTH_SECRET={AUTH}\n")
    plan = secrets.plan(env)
    assert [(v.key, v.value, v.source) for v in plan.values] == [
        ("database-url", URL, ".env line 2"),
        ("cohere-api-key", COHERE, ".env line 3"),
        ("better-auth-secret", AUTH, ".env line 4"),
    ]
    assert (plan.embedded_db, plan.chat_enabled, dict(plan.generated)) == (False, True, {})
    assert plan.digest == secrets.digest_of(plan.data())


def test_an_empty_database_url_selects_the_in_cluster_database_and_generates_its_password(
        tmp_path: Path) -> None:
    env = env_at(tmp_path, "DATABASE_URL=  \nCOHERE_API_KEY=\nBETTER_AUTH_SECRET=\n"
                           "POSTGRES_PASSWORD=\n")
    plan = secrets.plan(env)
    data = plan.data()
    assert set(plan.generated) == {"POSTGRES_PASSWORD", "BETTER_AUTH_SECRET"}
    assert len(plan.generated["POSTGRES_PASSWORD"]) == 64  # 48 random bytes, url-safe
    assert data["postgres-password"] == plan.generated["POSTGRES_PASSWORD"]
    assert data["better-auth-secret"] == plan.generated["BETTER_AUTH_SECRET"]
    assert data["database-url"] == secrets.embedded_database_url(data["postgres-password"])
    assert [v.source for v in plan.values] == [
        "in-cluster PostgreSQL", "generated", "empty: chat disabled", "generated"]
    assert (plan.embedded_db, plan.chat_enabled, data["cohere-api-key"]) == (True, False, "")


def test_without_generating_an_empty_value_stays_empty(tmp_path: Path) -> None:
    env = env_at(tmp_path, "DATABASE_URL=\nCOHERE_API_KEY=\nBETTER_AUTH_SECRET=\n"
                           "POSTGRES_PASSWORD=kept-password\n")
    plan = secrets.plan(env, generate=False)
    assert dict(plan.generated) == {"BETTER_AUTH_SECRET": ""}
    assert plan.data()["better-auth-secret"] == ""
    assert [v.source for v in plan.values][1] == ".env line 4"
    assert plan.data()["postgres-password"] == "kept-password"


def test_the_embedded_database_url_escapes_user_password_and_database_only() -> None:
    db = {"user": "u@1", "host": "h.ns", "port": "6543", "database": "d/b"}
    assert secrets.embedded_database_url("p w+/", db) == "postgresql://u%401:p%20w%2B%2F@h.ns:6543/d%2Fb"
    assert secrets.embedded_database_url("pw") == "postgresql://todo:pw@todo-postgres:5432/todo"


def test_the_digest_is_sha256_of_the_sorted_compact_json_of_the_data() -> None:
    """inv deploy compares it with the annotation of the applied Secret: its form must not
    drift between versions, or every deploy would roll the pods once."""
    digest = secrets.digest_of({"b": "2", "a": "1"})
    # = printf %s '{"a":"1","b":"2"}' | sha256sum
    assert digest.value == "21f76dfbfe6dfe21f762080ef484112cf2952974cef30741fd1931e1c6d92112"
    assert digest == secrets.digest_of({"a": "1", "b": "2"})
    assert digest.short == digest.value[:12]
    assert secrets.digest_of({"a": "1", "b": "3"}) != digest


def test_the_manifest_is_the_namespace_and_the_annotated_secret(tmp_path: Path) -> None:
    env = env_at(tmp_path, f"DATABASE_URL={URL}\nCOHERE_API_KEY=\nBETTER_AUTH_SECRET={AUTH}\n")
    plan = secrets.plan(env)
    settings = Settings(namespace="ns1", secret_name="s1", field_manager="fm")
    doc = yaml.safe_load(secrets.manifest(settings, plan))
    assert (doc["apiVersion"], doc["kind"]) == ("v1", "List")
    namespace, secret = doc["items"]
    assert namespace == {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns1"}}
    assert (secret["apiVersion"], secret["kind"], secret["type"]) == ("v1", "Secret", "Opaque")
    assert secret["metadata"] == {
        "name": "s1", "namespace": "ns1",
        "labels": {"app": "todo-app", "app.kubernetes.io/part-of": "todo-app",
                   "app.kubernetes.io/managed-by": "fm"},
        "annotations": {"todo-app.dev/secret-digest": plan.digest.value,
                        "todo-app.dev/embedded-db": "false"}}
    assert list(secret["data"]) == sorted(secret["data"])
    assert {k: base64.b64decode(v).decode() for k, v in secret["data"].items()} == plan.data()
    embedded = secrets.plan(env_at(tmp_path, "DATABASE_URL=\nPOSTGRES_PASSWORD=pw12\n"))
    assert yaml.safe_load(secrets.manifest(settings, embedded))["items"][1]["metadata"][
        "annotations"]["todo-app.dev/embedded-db"] == "true"
    assert secrets.apply_args(settings) == ["apply", "--server-side", "--field-manager=fm",
                                            "-f", "-"]


# -- what is shown ------------------------------------------------------------------------


def test_a_secret_is_shown_as_its_length_only() -> None:
    assert mask("s3cr3t") == f"{MASK} (6 chars)" == "•••• (6 chars)"
    assert mask("") == mask(None) == "(empty)"


def test_a_dry_run_shows_sources_and_lengths_and_no_fragment_of_any_value(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = tmp_path / ".env"
    password, key = "Zq8vW3kTm1Hs", "Qz7Xw2Lp4Rt9Vb"
    url = f"postgresql://app:{password}@db.example.com:5432/todo"
    env.write_text(f"DATABASE_URL={url}\nCOHERE_API_KEY={key}\nBETTER_AUTH_SECRET=\n")
    tasks.secrets(MockContext(run={}), env_file=str(env), dry_run=True, no_color=True)
    out = " ".join(capsys.readouterr())
    assert url not in out
    for value in (password, key):  # not even 4 characters of it in a row
        assert not [value[i:i + 4] for i in range(len(value) - 3) if value[i:i + 4] in out]
    assert f"{MASK} ({len(url)} chars)" in out and f"{MASK} ({len(key)} chars)" in out
    assert ".env line 1" in out and ".env line 2" in out
    assert "generated, would be stored in .env (dry run: not written)" in out
    lines = [line.strip() for line in out.splitlines()]
    digest = out.split("secret digest: ")[1].split()[0]
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert f"secret digest: {digest} (changes on each dry run until generated values are " \
        "stored)" in lines
    assert f"✓ dry run: {env} is valid; nothing was applied and nothing generated was " \
        "stored" in lines
    assert re.search(r"┃ key +┃ value +┃ source +┃", out)
    assert re.search(r"│ database-url +│ •••• \(\d+ chars\) +│ \.env line 1 +│", out)
    assert "Secret todo/todo-secrets" in lines
    assert "in-cluster PostgreSQL will be used" not in out and "chatbot is disabled" not in out


def test_a_dry_run_with_nothing_to_generate_has_a_stable_digest_and_notes_empty_values(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = tmp_path / ".env"
    env.write_text(f"DATABASE_URL=\nCOHERE_API_KEY=\nBETTER_AUTH_SECRET={AUTH}\n"
                   "POSTGRES_PASSWORD=pw-123456789\n")
    tasks.secrets(MockContext(run={}), env_file=str(env), dry_run=True, no_color=True)
    out = " ".join(capsys.readouterr())
    lines = [line.strip() for line in out.splitlines()]
    digest = secrets.plan(envfile.read_env(env)).digest.value
    assert f"secret digest: {digest}" in lines
    assert f"✓ dry run: {env} is valid; nothing was applied" in lines
    assert "DATABASE_URL is empty: the chart's in-cluster PostgreSQL will be used." in lines
    assert "COHERE_API_KEY is empty: the chatbot is disabled (stored empty)." in lines


def test_an_applied_secret_reports_its_short_digest_and_the_generated_keys(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = tmp_path / ".env"
    env.write_text(f"DATABASE_URL={URL}\nCOHERE_API_KEY=\nBETTER_AUTH_SECRET=\n")
    c = MockContext(run={**CHECKS, APPLY: Result("secret/todo-secrets serverside-applied\n")})
    tasks.secrets(c, env_file=str(env), no_color=True)
    out = " ".join(capsys.readouterr())
    digest = out.split("secret digest: ")[1].split()[0]
    assert f"Secret todo/todo-secrets applied in context minikube (digest {digest[:12]})" in out
    assert f"Generated BETTER_AUTH_SECRET; stored in {env} so re-runs keep them" in out
    assert "generated, stored in .env" in out
    assert re.search(r"^BETTER_AUTH_SECRET=\S{64}$", env.read_text(), re.MULTILINE)


# -- failures -----------------------------------------------------------------------------


def kube(namespace: str = "todo") -> Kubectl:
    return Kubectl(MockContext(), "minikube", namespace, 120.0)


def test_an_apply_conflict_names_the_other_owner_and_both_ways_out() -> None:
    err = secrets._apply_error(kube("ns1"), Settings(namespace="ns1", secret_name="s1"), ToolResult(
        ("kubectl",), 1, "", "x\nerror: Apply failed with 1 CONFLICT with \"helm\"\n"))
    assert err.message == "kubectl apply of Secret s1 failed (exit 1)"
    assert err.hint == ("another tool manages Secret s1 (helm with secrets.create=true?). "
                        "Keep one owner: set secrets.create=false, or "
                        "kubectl -n ns1 delete secret s1 --context minikube")
    assert err.details == "x\nerror: Apply failed with 1 CONFLICT with \"helm\""


def test_any_other_apply_failure_points_at_doctor_only() -> None:
    err = secrets._apply_error(kube(), Settings(), ToolResult(("kubectl",), 1, "",
                                                              "server gone\n"))
    assert err.hint == "inv doctor   # is the cluster up and kubectl pointed at it?"
    assert err.details == "server gone"


def test_any_other_apply_failure_ends_the_task_with_exit_1(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = tmp_path / ".env"
    env.write_text(f"DATABASE_URL={URL}\nCOHERE_API_KEY=\nBETTER_AUTH_SECRET={AUTH}\n")
    c = MockContext(run={**CHECKS, APPLY: Result(stderr="error: the server is gone\n",
                                                 exited=1)})
    with pytest.raises(Exit) as failed:
        tasks.secrets(c, env_file=str(env), no_color=True)
    assert failed.value.code == 1
    out = " ".join(capsys.readouterr())
    assert "kubectl apply of Secret todo-secrets failed (exit 1)" in out
    assert "inv doctor   # is the cluster up and kubectl pointed at it?" in out
    assert "error: the server is gone" in out


# -- the in-cluster password ----------------------------------------------------------------


def test_the_rotation_sql_dollar_quotes_the_password_under_a_random_tag() -> None:
    sql = secrets.alter_role_sql("todo", "it's $1 \"x\"")
    m = re.fullmatch(r'ALTER ROLE "todo" WITH PASSWORD \$(pw_[0-9a-f]{16})\$'
                     r'it\'s \$1 "x"\$(pw_[0-9a-f]{16})\$;\n', sql)
    assert m and m[1] == m[2]
    assert secrets.alter_role_sql("todo", "pw") != secrets.alter_role_sql("todo", "pw")


def test_a_tag_that_occurs_in_the_password_is_drawn_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    drawn = iter(["0" * 16, "1" * 16])
    sizes: list[int] = []

    def token_hex(nbytes: int) -> str:
        sizes.append(nbytes)
        return next(drawn)

    monkeypatch.setattr(secrets.pysecrets, "token_hex", token_hex)
    password = "x$pw_" + "0" * 16 + "$y"
    tag = "pw_" + "1" * 16
    assert secrets.alter_role_sql("u", password) == \
        f'ALTER ROLE "u" WITH PASSWORD ${tag}${password}${tag}$;\n'
    assert sizes == [8, 8]


def session_with(c: MockContext) -> tuple[Session, list[str]]:
    console = Console(no_color=True)
    return Session(c, Settings(context="minikube"), console), []


def test_a_value_of_the_applied_secret_is_decoded_and_never_shown() -> None:
    c = MockContext(run={GET_SECRET: Result(secret_json("d" * 64, True,
                                                        {"postgres-password": "old-pw-1"}))})
    s, _ = session_with(c)
    assert secrets._secret_value(s, "postgres-password") == "old-pw-1"
    assert s.console.redact("was old-pw-1") == f"was {MASK}"


def test_no_applied_secret_has_no_value() -> None:
    c = MockContext(run={GET_SECRET: NO_SECRET})
    s, _ = session_with(c)
    assert secrets._secret_value(s, "postgres-password") is None
    other = MockContext(run={GET_SECRET: Result(secret_json("d" * 64, False, {"x": "1"}))})
    assert secrets._secret_value(session_with(other)[0], "postgres-password") is None


def secret_with(annotations: dict[str, str]) -> str:
    """kubectl get secret -o json with exactly these annotations (and no data)."""
    obj = json.loads(secret_json())
    obj["metadata"]["annotations"] = annotations
    return json.dumps(obj)


@pytest.mark.parametrize(("annotations", "expected"), [
    ({"todo-app.dev/secret-digest": "abc", "todo-app.dev/embedded-db": "true"}, ("abc", True)),
    ({"todo-app.dev/secret-digest": "abc", "todo-app.dev/embedded-db": "false"}, ("abc", False)),
    ({"todo-app.dev/secret-digest": "abc"}, ("abc", False)),
    ({"todo-app.dev/embedded-db": "true"}, None),
    ({}, None),
])
def test_the_applied_secrets_digest_and_database_are_read_from_its_annotations(
        annotations: dict[str, str], expected: tuple[str, bool] | None) -> None:
    s, _ = session_with(MockContext(run={GET_SECRET: Result(secret_with(annotations))}))
    found = secrets.cluster_secret(s)
    assert (found if found is None else (found.digest, found.embedded_db)) == expected


def test_no_applied_secret_has_no_digest() -> None:
    s, _ = session_with(MockContext(run={GET_SECRET: NO_SECRET}))
    assert secrets.cluster_secret(s) is None


def test_output_that_is_not_json_says_to_upgrade_kubectl() -> None:
    s, _ = session_with(MockContext(run={GET_SECRET: Result(
        "map[todo-app.dev/secret-digest:abc]")}))
    with pytest.raises(StageFailed) as err:
        secrets.cluster_secret(s)
    assert err.value.message == "cannot read the Secret from kubectl's output"
    assert err.value.hint == "upgrade kubectl (inv doctor shows its version)"


POD_READY = ("kubectl get pod todo-postgres-0 -n todo -o "
             "'jsonpath={.status.containerStatuses[0].ready}'" + CTX)
PSQL = ("kubectl exec -i -n todo todo-postgres-0 -c postgresql" + CTX + " -- psql -X "
        "-q -v ON_ERROR_STOP=1 -U todo -d todo")
GET_PVC = "kubectl get pvc data-todo-postgres-0 -n todo -o name" + CTX
OLD = Result(secret_json("e" * 64, True, {"postgres-password": "old-postgres-password-1"}))


def embedded_env(tmp_path: Path) -> Path:
    env = tmp_path / ".env"
    env.write_text(f"DATABASE_URL=\nCOHERE_API_KEY=\nBETTER_AUTH_SECRET={AUTH}\n"
                   "POSTGRES_PASSWORD=new-postgres-password-2\n")
    return env


def test_a_rotation_in_the_running_database_says_so(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    c = MockContext(run={**CHECKS, GET_SECRET: OLD, POD_READY: Result("true"), PSQL: Result(""),
                         APPLY: Result("")})
    tasks.secrets(c, env_file=str(embedded_env(tmp_path)), no_color=True)
    out = " ".join(capsys.readouterr())
    assert "setting the new POSTGRES_PASSWORD in the in-cluster PostgreSQL" in out
    assert ("POSTGRES_PASSWORD changed: the in-cluster PostgreSQL now takes the new one "
            "(ALTER ROLE); inv deploy rolls the backend onto it") in out


def test_a_missing_database_pod_with_its_data_kept_refuses_the_change(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    c = MockContext(run={**CHECKS, GET_SECRET: OLD, POD_READY: Result(
        "", stderr='Error from server (NotFound): pods "todo-postgres-0" not found\n', exited=1),
        GET_PVC: Result("persistentvolumeclaim/data-todo-postgres-0\n")})
    with pytest.raises(Exit):
        tasks.secrets(c, env_file=str(embedded_env(tmp_path)), no_color=True)
    out = " ".join(capsys.readouterr())
    assert ("POSTGRES_PASSWORD changed, but the in-cluster PostgreSQL that keeps the old one "
            "(its data is in data-todo-postgres-0) is not running to take the new one; "
            "nothing was changed") in " ".join(out.split())
    env = tmp_path / ".env"
    assert (f"put the old value back in {env} (it is still in the Secret: kubectl -n todo get "
            "secret todo-secrets -o 'jsonpath={.data.postgres-password}' --context minikube | "
            "base64 -d), run "
            "inv deploy, then change it again; or start over without the data: "
            "inv down --purge --yes && inv up") in " ".join(out.split())


def test_a_changed_password_without_database_pod_or_data_is_simply_applied(
        tmp_path: Path) -> None:
    """The release was removed but its Secret kept: no database holds the old password."""
    c = MockContext(run={**CHECKS, GET_SECRET: OLD, POD_READY: Result(
        "", stderr='Error from server (NotFound): pods "todo-postgres-0" not found\n', exited=1),
        GET_PVC: Result("", stderr="Error from server (NotFound): persistentvolumeclaims "
                                   '"data-todo-postgres-0" not found\n', exited=1),
        APPLY: Result("")})
    tasks.secrets(c, env_file=str(embedded_env(tmp_path)), no_color=True)
    assert under_lock([call.args[0] for call in c.run.call_args_list])[-1] == APPLY  # type: ignore[attr-defined]


def test_a_failed_rotation_points_at_the_database_logs_and_applies_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    c = MockContext(run={**CHECKS, GET_SECRET: OLD, POD_READY: Result("true"),
                         PSQL: Result(stderr='psql: error: role "todo" does not exist\n',
                                      exited=2)})
    with pytest.raises(Exit):
        tasks.secrets(c, env_file=str(embedded_env(tmp_path)), no_color=True)
    out = " ".join(capsys.readouterr())
    assert "kubectl -n todo logs todo-postgres-0 --context minikube   # then: inv secrets" in out
    assert APPLY not in [call.args[0] for call in c.run.call_args_list]  # type: ignore[attr-defined]


def test_the_stage_applies_unless_asked_for_a_dry_run(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(f"DATABASE_URL={URL}\nCOHERE_API_KEY=\nBETTER_AUTH_SECRET={AUTH}\n")
    env.chmod(0o600)
    c = MockContext(run={**CHECKS, APPLY: Result("")})
    s = Session(c, Settings(env_file=env, context="minikube"), Console(no_color=True))
    secrets.run_secrets(s)
    assert under_lock([call.args[0] for call in c.run.call_args_list])[-1] == APPLY  # type: ignore[attr-defined]


def test_an_unreachable_cluster_while_reading_the_digest_points_at_doctor() -> None:
    s, _ = session_with(MockContext(run={GET_SECRET: Result(
        "", stderr="The connection to the server 127.0.0.1:6443 was refused\n", exited=1)}))
    with pytest.raises(ToolError) as err:
        secrets.cluster_secret(s)
    assert not isinstance(err.value, NotFound)
    assert err.value.hint == "inv doctor"


def test_a_non_local_current_context_is_refused_before_anything_is_applied(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = tmp_path / ".env"
    env.write_text(f"DATABASE_URL={URL}\nCOHERE_API_KEY=\nBETTER_AUTH_SECRET={AUTH}\n")
    c = MockContext(run={"kubectl config current-context": Result("prod-eu\n")})
    with pytest.raises(Exit) as refused:
        tasks.secrets(c, env_file=str(env), no_color=True)
    assert refused.value.code == 2
    out = " ".join(" ".join(capsys.readouterr()).split())
    assert "refusing to apply the Secret in kube-context 'prod-eu': it is not a local" in out


def test_an_apply_says_what_it_generated_and_where_it_applies(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = tmp_path / ".env"
    env.write_text("DATABASE_URL=\nCOHERE_API_KEY=\nBETTER_AUTH_SECRET=\nPOSTGRES_PASSWORD=\n")
    env.chmod(0o600)
    c = MockContext(run={**CHECKS, GET_SECRET: NO_SECRET, APPLY: Result("")})
    tasks.secrets(c, env_file=str(env), no_color=True)
    lines = [line.strip() for line in " ".join(capsys.readouterr()).splitlines()]
    assert (f"Generated BETTER_AUTH_SECRET, POSTGRES_PASSWORD; stored in {env} so re-runs "
            "keep them (delete the value to rotate).") in lines
    assert "… applying Secret todo-secrets in namespace todo (context minikube)" in lines


def test_the_rotation_status_line_is_shown_as_it_starts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    c = MockContext(run={**CHECKS, GET_SECRET: OLD, POD_READY: Result("true"), PSQL: Result(""),
                         APPLY: Result("")})
    tasks.secrets(c, env_file=str(embedded_env(tmp_path)), no_color=True)
    lines = [line.strip() for line in " ".join(capsys.readouterr()).splitlines()]
    assert "… setting the new POSTGRES_PASSWORD in the in-cluster PostgreSQL" in lines


def test_the_env_files_warnings_and_absent_keys_are_said_first(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = tmp_path / ".env"
    env.write_text(f"DATABASE_URL={URL}\nBETTER_AUTH_SECRET={AUTH}\n")
    env.chmod(0o644)
    tasks.secrets(MockContext(run={}), env_file=str(env), dry_run=True, no_color=True)
    lines = [line.strip() for line in " ".join(capsys.readouterr()).splitlines()]
    warning = envfile.read_env(env).warnings[0]
    assert f"! {warning}" in lines
    assert envfile.absent_keys_note(envfile.read_env(env)) in lines
