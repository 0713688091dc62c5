"""Pure functions of the secrets stage: parsing, validation, plan, digest, manifest."""

from __future__ import annotations

import base64
import os
import sys
from pathlib import Path
from typing import ClassVar
from urllib.parse import unquote, urlsplit

import pytest
import yaml

from todo_deploy import envfile, secrets
from todo_deploy.config import Settings
from todo_deploy.errors import ConfigError

GOOD_URL = "postgresql://app:pw@db.example.com:5432/todo?sslmode=require"
AUTH = "a" * 40
ENV = Path("/work/.env")


def parsed(text: str) -> envfile.EnvFile:
    return envfile.parse_env(text, ENV)


def problems(text: str) -> list[envfile.Problem]:
    return envfile.validate(parsed(text))


def full(url: str = GOOD_URL, cohere: str = "ck", auth: str = AUTH) -> str:
    return f"DATABASE_URL={url}\nCOHERE_API_KEY={cohere}\nBETTER_AUTH_SECRET={auth}\n"


def test_example_file_is_valid_and_fully_generated() -> None:
    env = parsed(Path(__file__).parents[2].joinpath(".env.example").read_text())
    assert envfile.validate(env) == []
    plan = secrets.plan(env)
    assert plan.embedded_db and not plan.chat_enabled
    assert set(plan.generated) == {"BETTER_AUTH_SECRET", "POSTGRES_PASSWORD"}
    assert set(plan.data()) == {"database-url", "cohere-api-key", "better-auth-secret",
                                "postgres-password"}


def test_embedded_database_url_uses_generated_password() -> None:
    plan = secrets.plan(parsed(full(url="", auth="")))
    password = plan.data()["postgres-password"]
    assert plan.data()["database-url"] == (
        f"postgresql://todo:{password}@todo-postgres:5432/todo")
    assert len(plan.data()["better-auth-secret"]) >= envfile.MIN_AUTH_SECRET


# what a password may hold that a URL's userinfo would misread: each alone, then all at once
URL_SPECIAL = ("@", ":", "/", "?", "#", "%", "+", " ")
SPECIAL_PASSWORDS = [f"pw{ch}{ch}12345678" for ch in URL_SPECIAL] + [
    "p@ss/word#1234", "p@ss:w/rd?#1 %25+x", "%41%2B+ end"]


@pytest.mark.parametrize("password", SPECIAL_PASSWORDS,
                         ids=[f"{ord(ch):02x}" for ch in URL_SPECIAL] + ["issue", "all", "pct"])
def test_embedded_database_url_parses_back_to_host_user_and_the_exact_password(
        password: str) -> None:
    """POSTGRES_PASSWORD as a user writes it in .env (quoted: it has '#' and spaces)."""
    quoted = password.replace("'", "")
    env = parsed(full(url="") + f"POSTGRES_PASSWORD='{quoted}'\n")
    assert env.value("POSTGRES_PASSWORD") == password
    plan = secrets.plan(env)
    assert plan.data()["postgres-password"] == password
    parts = urlsplit(plan.data()["database-url"])
    assert (parts.scheme, parts.hostname, parts.port) == ("postgresql", "todo-postgres", 5432)
    assert unquote(parts.username or "") == "todo"
    assert unquote(parts.password or "") == password
    assert (parts.path, parts.query, parts.fragment) == ("/todo", "", "")
    assert envfile.database_url_problem(plan.data()["database-url"]) is None


def test_embedded_database_url_escapes_every_reserved_character_as_percent_hex() -> None:
    url = secrets.embedded_database_url("a@b:c/d?e#f%g+h i~j_k.l-m")
    assert url == ("postgresql://todo:a%40b%3Ac%2Fd%3Fe%23f%25g%2Bh%20i~j_k.l-m"
                   "@todo-postgres:5432/todo")


def test_values_from_env_are_kept_and_nothing_generated() -> None:
    plan = secrets.plan(parsed(full()))
    assert plan.generated == {}
    assert plan.data() == {"database-url": GOOD_URL, "cohere-api-key": "ck",
                           "better-auth-secret": AUTH}
    assert not plan.embedded_db and plan.chat_enabled


def test_crlf_bom_export_and_quoted_hash_are_understood() -> None:
    text = ("\ufeffexport DATABASE_URL='postgresql://u:p%23w@h:5432/db'\r\n"
            "COHERE_API_KEY=\"key # with hash\"  # a comment\r\n"
            f"BETTER_AUTH_SECRET={AUTH}\r\n")
    env = parsed(text)
    assert envfile.validate(env) == []
    assert env.value("DATABASE_URL") == "postgresql://u:p%23w@h:5432/db"
    assert env.value("COHERE_API_KEY") == "key # with hash"
    assert env.value("BETTER_AUTH_SECRET") == AUTH


def test_values_are_not_interpolated() -> None:
    env = parsed(full(auth="${HOME}" + "x" * 40))
    assert env.value("BETTER_AUTH_SECRET").startswith("${HOME}")


def test_malformed_line_is_reported_with_its_line_and_key_but_not_its_value() -> None:
    found = problems(full() + "BROKEN='unterminated secret-value\n")
    assert [(p.line, p.key) for p in found] == [(4, "BROKEN")]
    assert "secret-value" not in found[0].render(ENV)


def test_an_absent_optional_key_means_empty_and_is_named_in_one_info_line() -> None:
    env = parsed("DATABASE_URL=\nBETTER_AUTH_SECRET=\n")  # no COHERE_API_KEY line
    assert envfile.validate(env) == []
    secret_plan = secrets.plan(env)
    assert secret_plan.data()["cohere-api-key"] == ""
    assert not secret_plan.chat_enabled
    assert envfile.absent_keys_note(env) == (
        ".env has no line for COHERE_API_KEY (chatbot disabled): absent is the same as empty")


def test_an_env_file_with_no_lines_at_all_is_the_zero_credential_default() -> None:
    env = parsed("# nothing set\n")
    assert envfile.validate(env) == []
    secret_plan = secrets.plan(env)
    assert secret_plan.embedded_db and set(secret_plan.generated) == {
        "BETTER_AUTH_SECRET", "POSTGRES_PASSWORD"}
    assert envfile.absent_keys_note(env) == (
        ".env has no line for DATABASE_URL (the in-cluster PostgreSQL), COHERE_API_KEY "
        "(chatbot disabled), BETTER_AUTH_SECRET (generated and stored): absent is the same "
        "as empty")
    assert envfile.absent_keys_note(parsed(full())) is None


def test_key_without_equals_sign_is_a_problem() -> None:
    found = problems("DATABASE_URL\nCOHERE_API_KEY=\nBETTER_AUTH_SECRET=\n")
    assert [(p.line, p.key) for p in found] == [(1, "DATABASE_URL")]


def test_blank_value_of_spaces_is_a_problem() -> None:
    found = problems(full(cohere="'   '"))
    assert [(p.line, p.key) for p in found] == [(2, "COHERE_API_KEY")]


@pytest.mark.parametrize(("url", "reason"), [
    ("mysql://u:p@h/db", "must start with postgresql://"),
    ("postgresql:///db", "has no host"),
    ("postgresql://u:p@h:5432/", "has no database name"),
    ("postgresql://u:p@h:99999999/db", "is not a valid URL"),
    ("postgresql://u:p#w@h/db", "percent-encode"),
])
def test_bad_database_url_names_the_reason_without_the_url(url: str, reason: str) -> None:
    found = problems(full(url=url))
    assert len(found) == 1 and found[0].key == "DATABASE_URL"
    assert reason in found[0].message
    assert url not in found[0].render(ENV)


def test_postgres_scheme_is_accepted() -> None:
    assert problems(full(url="postgres://u:p@h/db")) == []


def test_short_auth_secret_reports_length_only() -> None:
    found = problems(full(auth="short-secret"))
    assert found[0].key == "BETTER_AUTH_SECRET"
    assert "12 characters" in found[0].message
    assert "short-secret" not in found[0].render(ENV)


def test_duplicate_key_warns_which_line_wins() -> None:
    env = parsed(full() + f"BETTER_AUTH_SECRET={'b' * 40}\n")
    assert env.value("BETTER_AUTH_SECRET") == "b" * 40
    assert any("line 4 wins" in w and "line 3" in w for w in env.warnings)


def test_unknown_key_warns_with_a_suggestion() -> None:
    env = parsed(full() + "DATABSE_URL=x\n")
    assert envfile.validate(env) == []
    assert any("DATABSE_URL" in w and "did you mean DATABASE_URL" in w for w in env.warnings)


def test_digest_is_stable_and_changes_with_any_value() -> None:
    a = secrets.digest_of({"x": "1", "y": "2"})
    assert a == secrets.digest_of({"y": "2", "x": "1"})
    assert a != secrets.digest_of({"x": "1", "y": "3"})
    assert len(a.value) == 64


def test_manifest_holds_namespace_and_secret_with_spec_keys(tmp_path: Path) -> None:
    settings = Settings.from_config(None, root=tmp_path, namespace="demo")
    plan = secrets.plan(parsed(full()))
    doc = yaml.safe_load(secrets.manifest(settings, plan))
    namespace, secret = doc["items"]
    assert namespace == {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}}
    assert secret["metadata"]["name"] == "todo-secrets"
    assert secret["metadata"]["namespace"] == "demo"
    assert secret["metadata"]["annotations"][secrets.DIGEST_ANNOTATION] == plan.digest.value
    assert secret["metadata"]["annotations"][secrets.EMBEDDED_ANNOTATION] == "false"
    decoded = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert decoded == {"database-url": GOOD_URL, "cohere-api-key": "ck",
                       "better-auth-secret": AUTH}


def test_missing_file_hints_at_example_and_onboarding(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        envfile.read_env_text(tmp_path / ".env")
    assert "cp .env.example" in (err.value.hint or "")
    assert "onboard" in (err.value.hint or "")


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes(b"DATABASE_URL=\xff\xfe\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        envfile.read_env_text(tmp_path / ".env")
    with pytest.raises(ConfigError, match="cannot read"):
        envfile.read_env_text(tmp_path)  # a directory


def test_load_lists_every_problem_in_one_error(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("DATABASE_URL=mysql://h/db\nCOHERE_API_KEY=\nBETTER_AUTH_SECRET=short\n")
    settings = Settings.from_config(None, root=tmp_path)
    with pytest.raises(ConfigError) as err:
        envfile.load(settings)
    assert "2 problem(s)" in err.value.message
    assert f"{path}:1 DATABASE_URL" in (err.value.details or "")
    assert f"{path}:3 BETTER_AUTH_SECRET" in (err.value.details or "")
    assert err.value.code == 2


def test_persist_generated_updates_env_in_place(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("# keep me\nDATABASE_URL=\nBETTER_AUTH_SECRET=\nCOHERE_API_KEY=\n")
    envfile.persist_generated(path, {"BETTER_AUTH_SECRET": "g" * 64, "POSTGRES_PASSWORD": "p" * 20})
    text = path.read_text()
    assert text.startswith("# keep me\nDATABASE_URL=\n")
    env = parsed(text)
    assert env.value("BETTER_AUTH_SECRET") == "g" * 64
    assert env.value("POSTGRES_PASSWORD") == "p" * 20


def test_a_symlinked_env_stays_a_symlink_and_its_target_gets_the_values(
        tmp_path: Path) -> None:
    target = tmp_path / "dotfiles" / "todo.env"
    target.parent.mkdir()
    target.write_text("DATABASE_URL=\nBETTER_AUTH_SECRET=\n")
    target.chmod(0o600)
    link = tmp_path / ".env"
    link.symlink_to(target)
    envfile.persist_generated(link, {"BETTER_AUTH_SECRET": "g" * 64})
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert parsed(target.read_text()).value("BETTER_AUTH_SECRET") == "g" * 64
    assert target.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == [".env", "dotfiles"]  # no temp left


def test_a_dangling_env_symlink_creates_its_target_privately(tmp_path: Path) -> None:
    target = tmp_path / "todo.env"
    link = tmp_path / ".env"
    link.symlink_to(target)
    envfile.persist_generated(link, {"BETTER_AUTH_SECRET": "g" * 64})
    assert link.is_symlink()
    assert target.stat().st_mode & 0o777 == 0o600
    assert parsed(target.read_text()).value("BETTER_AUTH_SECRET") == "g" * 64


def test_an_env_starting_with_a_bom_gets_no_duplicate_key(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_bytes(b"\xef\xbb\xbfBETTER_AUTH_SECRET=\r\nDATABASE_URL=\r\n")
    envfile.persist_generated(path, {"BETTER_AUTH_SECRET": "g" * 64, "POSTGRES_PASSWORD": "p" * 20})
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfBETTER_AUTH_SECRET=" + b"g" * 64)  # BOM kept, once
    text = envfile.read_env_text(path)
    assert text.count("BETTER_AUTH_SECRET=") == 1
    env = parsed(text)
    assert env.value("BETTER_AUTH_SECRET") == "g" * 64
    assert env.value("POSTGRES_PASSWORD") == "p" * 20
    assert not env.warnings  # no duplicate-key warning


def test_an_env_without_a_bom_gets_none(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("BETTER_AUTH_SECRET=\n")
    envfile.persist_generated(path, {"BETTER_AUTH_SECRET": "g" * 64})
    assert path.read_bytes().startswith(b"BETTER_AUTH_SECRET=")


def test_persist_generated_makes_a_new_env_private(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    envfile.persist_generated(path, {"BETTER_AUTH_SECRET": "g" * 64})
    assert path.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("mode", [0o600, 0o400, 0o640])
def test_persist_generated_never_loosens_the_mode_of_env(tmp_path: Path, mode: int) -> None:
    path = tmp_path / ".env"
    path.write_text("BETTER_AUTH_SECRET=\n")
    path.chmod(mode)
    envfile.persist_generated(path, {"BETTER_AUTH_SECRET": "g" * 64})
    assert path.stat().st_mode & 0o777 == mode


def test_generating_values_writes_nothing_outside_the_directory_of_env(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file opened for writing while values are stored (python-dotenv's temporary
    file included: before 1.2.2 it went to the system temp directory) is next to .env."""
    home = tmp_path / "project"
    home.mkdir()
    path = home / ".env"
    path.write_text("DATABASE_URL=\nBETTER_AUTH_SECRET=\n")
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "systemp"))
    (tmp_path / "systemp").mkdir()
    written = RecordWrites()
    with written:
        envfile.persist_generated(path, {"BETTER_AUTH_SECRET": "g" * 64,
                                         "POSTGRES_PASSWORD": "p" * 20})
    assert written.paths, "the audit hook saw no write at all"
    outside = [p for p in written.paths if not Path(p).resolve().is_relative_to(home.resolve())]
    assert outside == []
    assert list(home.iterdir()) == [path]
    assert list((tmp_path / "systemp").iterdir()) == []


class RecordWrites:
    """Paths opened for writing (an audit hook; hooks cannot be removed, so it is gated)."""

    hooked = False
    active: ClassVar[list[RecordWrites]] = []

    def __init__(self) -> None:
        self.paths: list[str] = []
        if not RecordWrites.hooked:
            sys.addaudithook(RecordWrites._hook)
            RecordWrites.hooked = True

    @staticmethod
    def _hook(event: str, args: tuple[object, ...]) -> None:
        if event != "open" or not RecordWrites.active:
            return
        path, mode, flags = args
        writing = (isinstance(mode, str) and any(m in mode for m in "wax+")) or (
            isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
        if writing and isinstance(path, str | bytes | os.PathLike):
            RecordWrites.active[-1].paths.append(os.fsdecode(path))

    def __enter__(self) -> RecordWrites:
        RecordWrites.active.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        RecordWrites.active.remove(self)


@pytest.mark.parametrize(("mode", "who"), [(0o644, "group and others"), (0o640, "its group")])
def test_env_readable_by_others_warns_with_the_chmod_fix(
        tmp_path: Path, mode: int, who: str) -> None:
    path = tmp_path / ".env"
    path.write_text(full())
    path.chmod(mode)
    env = envfile.read_env(path)
    assert env.warnings == [f"{path} is readable by {who} (mode {mode:04o}) and holds "
                            f"credentials; fix: chmod 600 {path}"]
    assert path.stat().st_mode & 0o777 == mode  # warned, not changed


def test_private_env_gets_no_permission_warning(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text(full())
    path.chmod(0o600)
    assert envfile.read_env(path).warnings == []
