"""`inv secrets` as a task: exact commands (MockContext) and what reaches kubectl (fake).

The fake kubectl/minikube (tests/fakes/fake_tool.py) stand in for a cluster, which cannot
run here; they record argv and stdin and replay the real tools' output shapes.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from invoke import MockContext, Result
from invoke.exceptions import Exit

import tasks
from tests.conftest import ROOT, FakeTools
from tests.fakes.canned import RUNNING as MINIKUBE_RUNNING
from tests.fakes.canned import SECRET_NOT_FOUND, STOPPED, lock_commands, secret_json
from todo_deploy import envfile, secrets
from todo_deploy.config import Settings

KUBECTL_VERSION = json.dumps({"clientVersion": {"gitVersion": "v1.31.0"}})
APPLY_OK = "namespace/todo serverside-applied\nsecret/todo-secrets serverside-applied\n"
URL = "postgresql://app:s3cr3t-pw@db.example.com:5432/todo?sslmode=require"
AUTH = "auth-secret-value-" + "z" * 30
COHERE = "cohere-key-value-123"


def write_env(path: Path, url: str = URL, cohere: str = COHERE, auth: str = AUTH) -> Path:
    path.write_text(f"DATABASE_URL={url}\nCOHERE_API_KEY={cohere}\nBETTER_AUTH_SECRET={auth}\n")
    return path


def cluster_up(fake: FakeTools) -> None:
    fake.rule("minikube", r"status -o json", stdout=MINIKUBE_RUNNING)
    fake.rule("kubectl", r"^version --client", stdout=KUBECTL_VERSION)
    fake.rule("kubectl", r"^config current-context", stdout="minikube\n")
    fake.rule("kubectl", r"^apply --server-side", stdout=APPLY_OK)
    # no Secret yet (so no in-cluster password to rotate), unless a test says otherwise
    fake.rule("kubectl", r"^get secret todo-secrets", stderr=SECRET_NOT_FOUND, code=1,
              fallback=True)


def inv(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def test_secrets_runs_exactly_the_checks_then_one_server_side_apply(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = write_env(tmp_path / ".env")
    c = MockContext(run={
        **{command: Result(answer) for command, answer in lock_commands().items()},
        "kubectl version --client -o json": Result(KUBECTL_VERSION),
        "minikube -p minikube status -o json": Result(MINIKUBE_RUNNING),
        "kubectl config current-context": Result("minikube\n"),
        "kubectl get secret todo-secrets -n todo -o json --context minikube":
            Result("", stderr=SECRET_NOT_FOUND, exited=1),
        "kubectl apply --server-side --field-manager=todo-deploy -f -"
            " --context minikube": Result(APPLY_OK),
    })
    tasks.secrets(c, env_file=str(env))
    assert "applied in context minikube" in capsys.readouterr().out
    commands = [call.args[0] for call in c.run.call_args_list]  # type: ignore[attr-defined]
    assert commands == [  # the context is resolved once per run, before anything else
        "kubectl config current-context",
        "kubectl version --client -o json",
        "minikube -p minikube status -o json",
        # the run lock (a Lease), taken once the cluster is known to be there
        "kubectl create -f - -n todo -o json --context minikube",
        "kubectl get secret todo-secrets -n todo -o json --context minikube",
        "kubectl apply --server-side --field-manager=todo-deploy -f - --context minikube",
        "kubectl delete --raw /apis/coordination.k8s.io/v1/namespaces/todo/leases/"
        "todo-deploy-todo-app -f - --context minikube",
    ]


def test_dry_run_runs_no_command(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text((ROOT / ".env.example").read_text())
    c = MockContext(run={})
    tasks.secrets(c, env_file=str(env), dry_run=True)
    assert c.run.call_args_list == []  # type: ignore[attr-defined]
    assert env.read_text() == (ROOT / ".env.example").read_text()  # nothing stored


def test_bad_env_exits_2_and_applies_nothing(tmp_path: Path) -> None:
    env = write_env(tmp_path / ".env", auth="too-short")
    c = MockContext(run={})
    with pytest.raises(Exit) as err:
        tasks.secrets(c, env_file=str(env))
    assert err.value.code == 2
    assert c.run.call_args_list == []  # type: ignore[attr-defined]


def test_manifest_reaches_kubectl_on_stdin_and_never_in_argv(
        fake_tools: FakeTools, tmp_path: Path) -> None:
    cluster_up(fake_tools)
    env = write_env(tmp_path / ".env")
    result = inv("secrets", "--env-file", str(env), "--namespace", "demo")
    assert result.returncode == 0, result.stderr
    applies = [c for c in fake_tools.calls("kubectl") if c["argv"][0] == "apply"]
    assert len(applies) == 1
    items = yaml.safe_load(applies[0]["stdin"])["items"]
    assert [i["kind"] for i in items] == ["Namespace", "Secret"]
    data = {k: base64.b64decode(v).decode() for k, v in items[1]["data"].items()}
    assert data == {"database-url": URL, "cohere-api-key": COHERE, "better-auth-secret": AUTH}
    everything_argv = json.dumps([c["argv"] for c in fake_tools.calls()])
    printed = result.stdout + result.stderr
    for value in (URL, COHERE, AUTH, "s3cr3t-pw"):
        assert value not in everything_argv
        assert value not in printed
    assert "database-url" in printed and "chars" in printed


def test_zero_credential_env_generates_once_and_rerun_keeps_digest(
        fake_tools: FakeTools, tmp_path: Path) -> None:
    cluster_up(fake_tools)
    env = tmp_path / ".env"
    env.write_text((ROOT / ".env.example").read_text())
    first = inv("secrets", "--env-file", str(env))
    assert first.returncode == 0, first.stderr
    stored = env.read_text()
    assert "stored in" in first.stdout and str(env) in first.stdout
    second = inv("secrets", "--env-file", str(env))
    assert second.returncode == 0, second.stderr
    assert env.read_text() == stored  # no rotation
    digests = [line for r in (first, second) for line in r.stdout.splitlines()
               if line.startswith("secret digest:")]
    assert len(digests) == 2 and digests[0] == digests[1]
    applies = [c["stdin"] for c in fake_tools.calls("kubectl") if c["argv"][0] == "apply"]
    assert applies[0] == applies[1]
    secret = yaml.safe_load(applies[0])["items"][1]
    assert secret["metadata"]["annotations"]["todo-app.dev/embedded-db"] == "true"
    for line in stored.splitlines():  # generated values never printed
        key, _, value = line.partition("=")
        if value and not key.startswith("#"):
            assert value not in first.stdout + first.stderr


def test_changed_env_changes_the_digest(fake_tools: FakeTools, tmp_path: Path) -> None:
    cluster_up(fake_tools)
    env = write_env(tmp_path / ".env")
    first = inv("secrets", "--env-file", str(env), "--dry-run")
    write_env(env, cohere="another-key")
    second = inv("secrets", "--env-file", str(env), "--dry-run")
    digest = [[x for x in r.stdout.splitlines() if x.startswith("secret digest")]
              for r in (first, second)]
    assert digest[0] != digest[1]
    assert fake_tools.calls() == []  # dry run: no tool called


def test_missing_env_exits_2_with_hint(fake_tools: FakeTools, tmp_path: Path) -> None:
    cluster_up(fake_tools)
    result = inv("secrets", "--env-file", str(tmp_path / ".env"))
    assert result.returncode == 2
    assert "does not exist" in result.stderr and "cp .env.example" in result.stderr
    assert "Traceback" not in result.stderr
    assert fake_tools.calls("kubectl") == []


def test_cluster_not_running_exits_3_before_apply(fake_tools: FakeTools, tmp_path: Path) -> None:
    fake_tools.rule("kubectl", r"^version --client", stdout=KUBECTL_VERSION)
    fake_tools.rule("kubectl", r"^config current-context", stdout="minikube\n")
    fake_tools.rule("minikube", r"status -o json", stdout=STOPPED, code=7)
    result = inv("secrets", "--env-file", str(write_env(tmp_path / ".env")))
    assert result.returncode == 3
    assert "minikube -p minikube start" in result.stderr
    assert not [c for c in fake_tools.calls("kubectl") if c["argv"][0] == "apply"]


def test_apply_failure_exits_1_with_kubectl_words(fake_tools: FakeTools, tmp_path: Path) -> None:
    fake_tools.rule("kubectl", r"^apply", code=1,
                    stderr='error: Apply failed with 1 conflict: conflict with "helm" '
                           'using v1: .data.database-url\n')
    cluster_up(fake_tools)
    result = inv("secrets", "--env-file", str(write_env(tmp_path / ".env")))
    assert result.returncode == 1
    assert "conflict" in result.stderr and "secrets.create=false" in result.stderr


# -- the in-cluster PostgreSQL's password ---------------------------------------------------------

OLD_PW = "old-postgres-password-1"
NEW_PW = "new-postgres-password-2"
CTX = " --context minikube"  # every call to the cluster carries the run's context
GET_SECRET = "kubectl get secret todo-secrets -n todo -o json" + CTX
NO_SECRET = Result("", stderr=SECRET_NOT_FOUND, exited=1)


def with_password(password: str) -> Result:
    """The Secret an earlier inv secrets applied, holding ``password``."""
    return Result(secret_json("1" * 64, True, {"postgres-password": password}))
POD_READY = ("kubectl get pod todo-postgres-0 -n todo -o "
             "'jsonpath={.status.containerStatuses[0].ready}' --context minikube")
PSQL = ("kubectl exec -i -n todo todo-postgres-0 -c postgresql --context minikube -- psql -X "
        "-q -v ON_ERROR_STOP=1 -U todo -d todo")
GET_PVC = "kubectl get pvc data-todo-postgres-0 -n todo -o name --context minikube"
APPLY = "kubectl apply --server-side --field-manager=todo-deploy -f - --context minikube"
CHECKS = {
    "kubectl version --client -o json": Result(KUBECTL_VERSION),
    "minikube -p minikube status -o json": Result(MINIKUBE_RUNNING),
    "kubectl config current-context": Result("minikube\n"),
    "kubectl apply --server-side --field-manager=todo-deploy -f -"
        " --context minikube": Result(APPLY_OK),
    **{command: Result(answer) for command, answer in lock_commands().items()},
}


def embedded_env(path: Path, password: str) -> Path:
    path.write_text(f"DATABASE_URL=\nCOHERE_API_KEY=\nBETTER_AUTH_SECRET={AUTH}\n"
                    f"POSTGRES_PASSWORD={password}\n")
    return path


def commands(c: MockContext) -> list[str]:
    """What the task ran under the run lock: a taken lock is released by the last call."""
    return under_lock([call.args[0] for call in c.run.call_args_list])  # type: ignore[attr-defined]


def under_lock(ran: list[str]) -> list[str]:
    create, release = lock_commands()
    if create in ran:
        assert ran.count(create) == 1 and ran[-1] == release, ran
    return [command for command in ran if command not in (create, release)]


def test_a_changed_password_is_set_in_the_running_database_first_on_stdin(
        tmp_path: Path) -> None:
    env = embedded_env(tmp_path / ".env", NEW_PW)
    c = MockContext(run={**CHECKS, GET_SECRET: with_password(OLD_PW),
                         POD_READY: Result("true"), PSQL: Result("")})
    tasks.secrets(c, env_file=str(env))
    assert commands(c)[-2:] == [PSQL, "kubectl apply --server-side --field-manager=todo-deploy "
                                      "-f - --context minikube"]
    psql = next(call for call in c.run.call_args_list  # type: ignore[attr-defined]
                if call.args[0] == PSQL)
    sql = psql.kwargs["in_stream"].read()
    assert sql.startswith('ALTER ROLE "todo" WITH PASSWORD $pw_') and NEW_PW in sql
    assert NEW_PW not in " ".join(commands(c))


def test_a_password_with_url_special_characters_is_rotated_raw_and_escaped_only_in_the_url(
        tmp_path: Path) -> None:
    special = "p@ss/w:rd?#1 %2B+x"
    env = tmp_path / ".env"
    env.write_text(f"DATABASE_URL=\nCOHERE_API_KEY=\nBETTER_AUTH_SECRET={AUTH}\n"
                   f"POSTGRES_PASSWORD='{special}'\n")
    c = MockContext(run={**CHECKS, GET_SECRET: with_password(OLD_PW),
                         POD_READY: Result("true"), PSQL: Result("")})
    tasks.secrets(c, env_file=str(env))
    calls = c.run.call_args_list  # type: ignore[attr-defined]
    sql = next(call for call in calls if call.args[0] == PSQL).kwargs["in_stream"].read()
    tag = sql.split("PASSWORD ", 1)[1].split("$", 2)[1]
    assert sql == f'ALTER ROLE "todo" WITH PASSWORD ${tag}${special}${tag}$;\n'
    applied = next(call for call in calls if call.args[0].startswith("kubectl apply"))
    secret = yaml.safe_load(applied.kwargs["in_stream"].read())["items"][1]
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert data["postgres-password"] == special
    assert data["database-url"] == ("postgresql://todo:p%40ss%2Fw%3Ard%3F%231%20%252B%2Bx"
                                    "@todo-postgres:5432/todo")
    assert special not in " ".join(commands(c))


def test_a_changed_password_with_the_database_stopped_but_its_data_kept_is_refused(
        tmp_path: Path) -> None:
    env = embedded_env(tmp_path / ".env", "")  # emptied: "delete the value to rotate it"
    c = MockContext(run={**CHECKS, GET_SECRET: with_password(OLD_PW),
                         POD_READY: Result("", exited=1),
                         GET_PVC: Result("persistentvolumeclaim/data-todo-postgres-0\n")})
    with pytest.raises(Exit) as refused:
        tasks.secrets(c, env_file=str(env))
    assert refused.value.code == 1
    assert APPLY not in commands(c)
    assert "POSTGRES_PASSWORD=\n" in env.read_text()  # nothing generated was stored


def test_an_unchanged_password_touches_no_database(tmp_path: Path) -> None:
    env = embedded_env(tmp_path / ".env", OLD_PW)
    c = MockContext(run={**CHECKS, GET_SECRET: with_password(OLD_PW)})
    tasks.secrets(c, env_file=str(env))
    assert PSQL not in commands(c) and POD_READY not in commands(c)


def test_a_first_install_has_no_password_to_rotate(tmp_path: Path) -> None:
    env = embedded_env(tmp_path / ".env", NEW_PW)
    c = MockContext(run={**CHECKS, GET_SECRET: NO_SECRET})
    tasks.secrets(c, env_file=str(env))
    assert commands(c)[-1] == APPLY


# -- nothing to apply when the cluster holds the same Secret (#11.16) ---------------------------


def applied_as(env: Path, *, edit: dict[str, str] | None = None,
               embedded: bool | None = None) -> Result:
    """The Secret that ``inv secrets`` applied for ``env`` (optionally edited in the cluster
    since, or annotated with another embedded-db flag)."""
    plan = secrets.plan(envfile.load(Settings.from_config(None, env_file=str(env))),
                        generate=False)
    data = {**plan.data(), **(edit or {})}
    return Result(secret_json(plan.digest.value,
                              plan.embedded_db if embedded is None else embedded, data))


def test_a_secret_the_cluster_already_holds_is_not_applied_again(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = write_env(tmp_path / ".env")
    c = MockContext(run={**CHECKS, GET_SECRET: applied_as(env)})
    tasks.secrets(c, env_file=str(env))
    assert APPLY not in commands(c)
    assert commands(c)[-1] == GET_SECRET
    shown = capsys.readouterr()
    assert "unchanged" in shown.out
    for value in (URL, AUTH, COHERE, "s3cr3t-pw"):  # the values read back are never shown
        assert value not in shown.out + shown.err


@pytest.mark.parametrize("drift", ["value edited in the cluster", "key added in the cluster",
                                   "embedded-db annotation differs"])
def test_a_secret_that_differs_in_any_way_is_applied(tmp_path: Path, drift: str) -> None:
    env = write_env(tmp_path / ".env")
    live = {"value edited in the cluster": applied_as(env, edit={"cohere-api-key": "other"}),
            "key added in the cluster": applied_as(env, edit={"extra": "x"}),
            "embedded-db annotation differs": applied_as(env, embedded=True)}[drift]
    c = MockContext(run={**CHECKS, GET_SECRET: live})
    tasks.secrets(c, env_file=str(env))
    assert commands(c)[-2:] == [GET_SECRET, APPLY]


def test_parse_cluster_secret_decodes_the_data_and_reads_both_annotations() -> None:
    parsed = secrets.parse_cluster_secret(
        secret_json("ab" * 32, True, {"postgres-password": "pä ss", "database-url": "x"}))
    assert parsed.digest == "ab" * 32 and parsed.embedded_db is True
    assert dict(parsed.data) == {"postgres-password": "pä ss", "database-url": "x"}
    assert parsed.data_digest == secrets.digest_of(parsed.data).value
    assert "pä ss" not in repr(parsed)  # the values stay out of any repr
    bare = secrets.parse_cluster_secret(secret_json())
    assert (bare.digest, bare.embedded_db, dict(bare.data)) == ("", False, {})
