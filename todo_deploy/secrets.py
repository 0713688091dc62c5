"""`inv secrets`: .env → validated values → Secret ``todo-secrets`` on stdin → digest.

Rules:
- ``.env`` is parsed by python-dotenv's own parser (``export``, quotes, ``#`` in quotes,
  CRLF, a UTF-8 BOM); values are never interpolated, never shown (key names and lengths only),
  never put in argv, and never written anywhere but the user's ``.env``.
- Zero-credential default: empty ``BETTER_AUTH_SECRET`` and (with an empty ``DATABASE_URL``)
  ``POSTGRES_PASSWORD`` are generated once and stored back in ``.env``, so re-runs never
  rotate them. Empty ``DATABASE_URL`` selects the chart's in-cluster PostgreSQL.
- The Secret is applied with ``kubectl apply --server-side`` (no last-applied annotation
  holding a copy of the data) together with its Namespace, and annotated with the digest
  of its data, which ``inv deploy`` copies into the pods so a changed ``.env`` rolls them.
"""

from __future__ import annotations

import base64
import contextlib
import difflib
import hashlib
import io
import json
import secrets as pysecrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import yaml
from dotenv import set_key
from dotenv.parser import parse_stream

from . import doctor, proc, tools
from .cli import Session
from .config import Settings
from .console import mask
from .errors import ConfigError, StageFailed

DATABASE_URL = "DATABASE_URL"
COHERE_API_KEY = "COHERE_API_KEY"
BETTER_AUTH_SECRET = "BETTER_AUTH_SECRET"
POSTGRES_PASSWORD = "POSTGRES_PASSWORD"
REQUIRED_KEYS = (DATABASE_URL, COHERE_API_KEY, BETTER_AUTH_SECRET)
KNOWN_KEYS = (*REQUIRED_KEYS, POSTGRES_PASSWORD)
SECRET_KEYS = {  # .env key → Secret data key (the spec's names)
    DATABASE_URL: "database-url",
    COHERE_API_KEY: "cohere-api-key",
    BETTER_AUTH_SECRET: "better-auth-secret",
    POSTGRES_PASSWORD: "postgres-password",
}
MIN_AUTH_SECRET = 32
DIGEST_ANNOTATION = "todo-app.dev/secret-digest"
EMBEDDED_ANNOTATION = "todo-app.dev/embedded-db"
EMBEDDED_DB = {"user": "todo", "host": "todo-postgres", "port": "5432", "database": "todo"}
POSTGRES_POD = "todo-postgres-0"  # the chart's StatefulSet, its container and its claim
POSTGRES_CONTAINER = "postgresql"
POSTGRES_PVC = "data-todo-postgres-0"
URL_SHAPE = "postgresql://USER:PASSWORD@HOST:5432/DBNAME?sslmode=require"
GENERATE_HINT = 'python3 -c "import secrets; print(secrets.token_urlsafe(48))"'


@dataclass(frozen=True)
class Entry:
    value: str | None  # None: the line has a key but no "="
    line: int


@dataclass(frozen=True)
class Problem:
    line: int | None
    key: str | None
    message: str
    fix: str

    def render(self, path: Path) -> str:
        where = f"{path}:{self.line}" if self.line else str(path)
        key = f" {self.key}" if self.key else ""
        return f"{where}{key}: {self.message}\n    fix: {self.fix}"


@dataclass
class EnvFile:
    """What ``.env`` says, with line numbers; never printed with its values."""

    path: Path
    entries: dict[str, Entry] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def value(self, key: str) -> str:
        entry = self.entries.get(key)
        return (entry.value or "") if entry else ""


@dataclass(frozen=True)
class SecretValue:
    key: str  # Secret data key, e.g. database-url
    value: str
    source: str  # ".env line 3", "generated", "embedded database", "empty: chat disabled"


@dataclass(frozen=True)
class SecretDigest:
    value: str  # sha256 hex of the Secret data

    @property
    def short(self) -> str:
        return self.value[:12]


@dataclass(frozen=True)
class SecretPlan:
    """The Secret to apply plus what must be generated and stored in ``.env``."""

    values: tuple[SecretValue, ...]
    generated: Mapping[str, str]  # .env key → new value (to persist)
    embedded_db: bool
    digest: SecretDigest
    chat_enabled: bool

    def data(self) -> dict[str, str]:
        return {v.key: v.value for v in self.values}


@dataclass(frozen=True)
class ClusterSecret:
    digest: str
    embedded_db: bool


# -- parsing and validation (pure) ------------------------------------------------------


def read_env_text(path: Path) -> str:
    """Read ``.env`` or raise a ConfigError that says how to get one."""
    if not path.exists():
        raise ConfigError(
            f"{path} does not exist",
            f"cp .env.example {path.name}   (or run scripts/onboard.sh, which does it)",
        )
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        raise ConfigError(f"cannot read {path}: {reason}",
                          f"check the file's permissions and encoding: ls -l {path}") from None


def parse_env(text: str, path: Path) -> EnvFile:
    """Parse with python-dotenv's parser; collect problems and warnings, never values."""
    env = EnvFile(path=path)
    seen: dict[str, int] = {}
    for binding in parse_stream(io.StringIO(text)):
        line = binding.original.line
        if binding.error:
            env.problems.append(Problem(line, _key_hint(binding.original.string), (
                "is not a KEY=VALUE line (an unclosed quote?)"),
                "write KEY=VALUE; quote values that contain spaces or '#': KEY=\"a # b\""))
            continue
        if binding.key is None:  # blank line or comment
            continue
        key = binding.key
        if key in seen:
            env.warnings.append(
                f"{path}:{line} {key} is also set on line {seen[key]}; line {line} wins "
                f"(the last one). Delete the other line.")
        seen[key] = line
        env.entries[key] = Entry(binding.value, line)
    for key in env.entries:
        if key not in KNOWN_KEYS:
            close = difflib.get_close_matches(key, KNOWN_KEYS, n=1)
            env.warnings.append(
                f"{path}:{env.entries[key].line} unknown key {key} is ignored"
                + (f" (did you mean {close[0]}?)" if close else ""))
    return env


def _key_hint(raw: str) -> str | None:
    """The key of a malformed line, if it plainly has one (never the value)."""
    head = raw.strip().removeprefix("export ").split("=", 1)[0].strip()
    return head if head.replace("_", "").isalnum() and head.isascii() else None


def validate(env: EnvFile) -> list[Problem]:
    """Problems with the known keys (values are judged, never echoed)."""
    problems = list(env.problems)
    for key in REQUIRED_KEYS:
        entry = env.entries.get(key)
        if entry is None:
            problems.append(Problem(None, key, "is missing",
                                    f"add a line `{key}=` (see .env.example; empty is allowed)"))
        elif entry.value is None:
            problems.append(Problem(entry.line, key, "has no '=' and no value",
                                    f"write `{key}=` (empty is allowed) or `{key}=<value>`"))
        elif entry.value and not entry.value.strip():
            problems.append(Problem(entry.line, key, "is blank (only spaces)",
                                    f"leave it empty (`{key}=`) or give a real value"))
    url = env.entries.get(DATABASE_URL)
    if url and url.value and url.value.strip():
        reason = database_url_problem(url.value)
        if reason:
            problems.append(Problem(url.line, DATABASE_URL, reason,
                                    f"use {URL_SHAPE}, or leave it empty for the in-cluster "
                                    "PostgreSQL"))
    auth = env.entries.get(BETTER_AUTH_SECRET)
    if auth and auth.value and auth.value.strip() and len(auth.value) < MIN_AUTH_SECRET:
        problems.append(Problem(
            auth.line, BETTER_AUTH_SECRET,
            f"is {len(auth.value)} characters; at least {MIN_AUTH_SECRET} are required",
            f"leave it empty to have one generated, or: {GENERATE_HINT}"))
    pw = env.entries.get(POSTGRES_PASSWORD)
    if pw and pw.value and len(pw.value.strip()) < 12:
        problems.append(Problem(pw.line, POSTGRES_PASSWORD,
                                f"is {len(pw.value.strip())} characters; use at least 12",
                                "leave it empty to have one generated"))
    return problems


def database_url_problem(url: str) -> str | None:
    """Why ``url`` is not a usable PostgreSQL URL (the message never contains the URL)."""
    if "#" in url:
        return "contains '#': percent-encode it in the password as %23"
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
        _ = parts.port
    except ValueError:
        return "is not a valid URL (bad port or brackets?)"
    if parts.scheme not in ("postgresql", "postgres"):
        shown = parts.scheme if parts.scheme.isalnum() else "?"
        return f"must start with postgresql:// or postgres:// (found scheme {shown!r})"
    if not host:
        return "has no host"
    if not parts.path.strip("/"):
        return "has no database name (the path after the host)"
    return None


def plan(env: EnvFile, generate: bool = True) -> SecretPlan:
    """The Secret's data from a valid ``.env``, generating what is empty (pure but random)."""
    generated: dict[str, str] = {}

    def from_env_or_generate(key: str) -> tuple[str, str]:
        current = env.value(key)
        if current:
            return current, f".env line {env.entries[key].line}"
        new = pysecrets.token_urlsafe(48) if generate else ""
        generated[key] = new
        return new, "generated"

    values: list[SecretValue] = []
    url = env.value(DATABASE_URL).strip()
    embedded = not url
    if embedded:
        password, source = from_env_or_generate(POSTGRES_PASSWORD)
        e = EMBEDDED_DB
        url = f"postgresql://{e['user']}:{password}@{e['host']}:{e['port']}/{e['database']}"
        values.append(SecretValue(SECRET_KEYS[DATABASE_URL], url, "in-cluster PostgreSQL"))
        values.append(SecretValue(SECRET_KEYS[POSTGRES_PASSWORD], password, source))
    else:
        values.append(SecretValue(SECRET_KEYS[DATABASE_URL], url,
                                  f".env line {env.entries[DATABASE_URL].line}"))
    cohere = env.value(COHERE_API_KEY).strip()
    values.append(SecretValue(
        SECRET_KEYS[COHERE_API_KEY], cohere,
        f".env line {env.entries[COHERE_API_KEY].line}" if cohere else "empty: chat disabled"))
    auth, source = from_env_or_generate(BETTER_AUTH_SECRET)
    values.append(SecretValue(SECRET_KEYS[BETTER_AUTH_SECRET], auth, source))
    data = {v.key: v.value for v in values}
    return SecretPlan(tuple(values), generated, embedded, digest_of(data), bool(cohere))


def digest_of(data: Mapping[str, str]) -> SecretDigest:
    """sha256 over the sorted data: equal data ⇔ equal digest (safe to show)."""
    canonical = json.dumps(dict(sorted(data.items())), separators=(",", ":"))
    return SecretDigest(hashlib.sha256(canonical.encode()).hexdigest())


def manifest(settings: Settings, secret_plan: SecretPlan) -> str:
    """Namespace + Secret as a v1 List, built with pyyaml (applied on stdin, never saved)."""
    labels = {
        "app": "todo-app",
        "app.kubernetes.io/part-of": "todo-app",
        "app.kubernetes.io/managed-by": settings.field_manager,
    }
    doc = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": settings.namespace}},
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "Opaque",
                "metadata": {
                    "name": settings.secret_name,
                    "namespace": settings.namespace,
                    "labels": labels,
                    "annotations": {
                        DIGEST_ANNOTATION: secret_plan.digest.value,
                        EMBEDDED_ANNOTATION: str(secret_plan.embedded_db).lower(),
                    },
                },
                "data": {k: base64.b64encode(v.encode()).decode()
                         for k, v in sorted(secret_plan.data().items())},
            },
        ],
    }
    return yaml.safe_dump(doc, sort_keys=False)


def apply_args(settings: Settings) -> list[str]:
    return ["apply", "--server-side", f"--field-manager={settings.field_manager}",
            "-f", "-"]


# -- the stage ------------------------------------------------------------------------------


def load(settings: Settings) -> EnvFile:
    """Read, parse and validate ``.env``; raise one ConfigError listing every problem."""
    return check(settings, parse_env(read_env_text(settings.env_file), settings.env_file))


def check(settings: Settings, env: EnvFile) -> EnvFile:
    problems = validate(env)
    if problems:
        listing = "\n".join(p.render(settings.env_file) for p in problems)
        raise ConfigError(
            f"{settings.env_file} has {len(problems)} problem(s); nothing was applied",
            "fix the lines above, then re-run: inv secrets --dry-run",
            details=listing)
    return env


def run_secrets(s: Session, *, dry_run: bool = False) -> SecretPlan:
    console, settings = s.console, s.settings
    env = _load_with_warnings(s)
    secret_plan = plan(env)
    console.register_secret(*secret_plan.data().values())
    _show(s, secret_plan, dry_run=dry_run)
    if dry_run:
        console.info(f"secret digest: {secret_plan.digest.value}"
                     + (" (changes on each dry run until generated values are stored)"
                        if secret_plan.generated else ""))
        console.success(f"dry run: {settings.env_file} is valid; nothing was applied"
                        + (" and nothing generated was stored" if secret_plan.generated else ""))
        return secret_plan
    tools.require_safe(s.tools, "apply the Secret")
    doctor.require(s, "kubectl", "cluster")
    # before anything is stored or applied: a refusal leaves .env and the Secret as they were
    _rotate_embedded_password(s, secret_plan)
    if secret_plan.generated:
        persist_generated(settings.env_file, secret_plan.generated)
        console.info(f"Generated {', '.join(sorted(secret_plan.generated))}; stored in "
                     f"{settings.env_file} so re-runs keep them (delete the value to rotate).")
    with console.status(f"applying Secret {settings.secret_name} in namespace "
                        f"{settings.namespace} (context {s.tools.context})"):
        result = s.tools.kubectl.run(*apply_args(settings),
                                     stdin=manifest(settings, secret_plan), check=False)
    if not result.ok:
        raise _apply_error(settings, result)
    console.success(f"Secret {settings.namespace}/{settings.secret_name} applied "
                    f"(digest {secret_plan.digest.short})")
    console.info(f"secret digest: {secret_plan.digest.value}")
    return secret_plan


def mask_known_values(s: Session) -> None:
    """Register the values ``.env`` holds with this session's console, so pod logs and tool
    output that echo one (a crash log printing its DATABASE_URL) show it masked.

    ``cli.session`` calls it for every task (each task has its own console). Best effort: a
    missing or unreadable ``.env`` registers nothing and is not an error here.
    """
    try:
        env = parse_env(read_env_text(s.settings.env_file), s.settings.env_file)
    except ConfigError:
        return
    values = [env.value(key) for key in KNOWN_KEYS]
    url = env.value(DATABASE_URL).strip()
    if url:  # the password alone, too: a log may print it without the rest of the URL
        with contextlib.suppress(ValueError):  # urlsplit: "Invalid IPv6 URL"
            values.append(urlsplit(url).password or "")
    s.console.register_secret(*values)


def _load_with_warnings(s: Session) -> EnvFile:
    env = parse_env(read_env_text(s.settings.env_file), s.settings.env_file)
    for warning in env.warnings:
        s.console.warn(warning)
    return check(s.settings, env)


def _show(s: Session, secret_plan: SecretPlan, *, dry_run: bool) -> None:
    stored = "would be stored in .env (dry run: not written)" if dry_run else "stored in .env"
    rows = [(v.key, mask(v.value), f"{v.source}, {stored}" if v.source == "generated"
             else v.source) for v in secret_plan.values]
    s.console.table(f"Secret {s.settings.namespace}/{s.settings.secret_name}",
                    ("key", "value", "source"), rows)
    if secret_plan.embedded_db:
        s.console.info("DATABASE_URL is empty: the chart's in-cluster PostgreSQL will be used.")
    if not secret_plan.chat_enabled:
        s.console.info("COHERE_API_KEY is empty: the chatbot is disabled (stored empty).")


def persist_generated(path: Path, generated: Mapping[str, str]) -> None:
    """Store generated values in ``.env`` (python-dotenv's ``set_key``); keep it private."""
    for key, value in generated.items():
        set_key(path, key, value, quote_mode="never")
    path.chmod(0o600)


def _apply_error(settings: Settings, result: proc.ToolResult) -> StageFailed:
    stderr = proc.tail(result.stderr)
    if "conflict" in stderr.lower():
        hint = (f"another tool manages Secret {settings.secret_name} (helm with "
                f"secrets.create=true?). Keep one owner: set secrets.create=false, or "
                f"kubectl -n {settings.namespace} delete secret {settings.secret_name}")
    else:
        hint = "inv doctor   # is the cluster up and kubectl pointed at it?"
    return StageFailed(f"kubectl apply of Secret {settings.secret_name} failed "
                       f"(exit {result.code})", hint, details=stderr)


def alter_role_sql(user: str, password: str) -> str:
    """``ALTER ROLE`` with the password dollar-quoted under a random tag (pure but random):
    no escaping to get wrong, and it travels on stdin only."""
    tag = "pw_" + pysecrets.token_hex(8)
    while tag in password:  # pragma: no cover - 2^-64
        tag = "pw_" + pysecrets.token_hex(8)
    return f'ALTER ROLE "{user}" WITH PASSWORD ${tag}${password}${tag}$;\n'


def _secret_value(s: Session, key: str) -> str | None:
    """One value of the applied Secret (None: no Secret or no such key); never shown."""
    settings = s.settings
    found = s.tools.kubectl.jsonpath("secret", settings.secret_name, f"{{.data.{key}}}",
                                     check=False).strip()
    if not found:
        return None
    value = base64.b64decode(found).decode()
    s.console.register_secret(value)
    return value


def _rotate_embedded_password(s: Session, secret_plan: SecretPlan) -> None:
    """The in-cluster PostgreSQL keeps the password it was initialised with: a changed
    POSTGRES_PASSWORD alone would lock the backend out. So the new one is set in the running
    database first (``ALTER ROLE`` through ``kubectl exec``, SQL on stdin, local socket), or,
    when the database has data but does not run, nothing is changed and the user is told."""
    if not secret_plan.embedded_db:
        return
    settings, key = s.settings, SECRET_KEYS[POSTGRES_PASSWORD]
    new = secret_plan.data()[key]
    old = _secret_value(s, key)
    if old is None or old == new:
        return
    ns, kube = settings.namespace, s.tools.kubectl
    ready = kube.jsonpath("pod", POSTGRES_POD, "{.status.containerStatuses[0].ready}",
                          check=False)
    if ready.strip() == "true":
        with s.console.status("setting the new POSTGRES_PASSWORD in the in-cluster PostgreSQL"):
            kube.run("exec", "-i", "-n", ns, POSTGRES_POD, "-c", POSTGRES_CONTAINER, "--",
                     "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-U", EMBEDDED_DB["user"],
                     "-d", EMBEDDED_DB["database"],
                     stdin=alter_role_sql(EMBEDDED_DB["user"], new),
                     hint=f"kubectl -n {ns} logs {POSTGRES_POD}   # then: inv secrets")
        s.console.info("POSTGRES_PASSWORD changed: the in-cluster PostgreSQL now takes the new "
                       "one (ALTER ROLE); inv deploy rolls the backend onto it")
        return
    volume = kube.run("get", "pvc", POSTGRES_PVC, "-n", ns, "-o", "name", check=False)
    if volume.ok:
        raise StageFailed(
            "POSTGRES_PASSWORD changed, but the in-cluster PostgreSQL that keeps the old one "
            f"(its data is in {POSTGRES_PVC}) is not running to take the new one; nothing was "
            "changed",
            f"put the old value back in {settings.env_file} (it is still in the Secret: "
            f"kubectl -n {ns} get secret {settings.secret_name} -o "
            f"jsonpath='{{.data.{key}}}' | base64 -d), run inv deploy, then change it again; "
            "or start over without the data: inv down --purge --yes && inv up")


def cluster_secret(s: Session) -> ClusterSecret | None:
    """The digest and embedded-db flag of the applied Secret (reads annotations only)."""
    settings = s.settings
    try:
        found = s.tools.kubectl.jsonpath("secret", settings.secret_name,
                                         "{.metadata.annotations}", hint="inv doctor")
    except tools.NotFound:
        return None
    try:
        annotations = json.loads(found or "{}")
    except json.JSONDecodeError:  # very old kubectl prints map[...] for a map
        raise StageFailed("cannot read the Secret's annotations from kubectl's output",
                          "upgrade kubectl (inv doctor shows its version)") from None
    digest = annotations.get(DIGEST_ANNOTATION, "")
    if not digest:
        return None
    return ClusterSecret(digest=digest,
                         embedded_db=annotations.get(EMBEDDED_ANNOTATION) == "true")
