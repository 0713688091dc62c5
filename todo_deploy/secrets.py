"""`inv secrets`: .env → validated values → Secret ``todo-secrets`` on stdin → digest.

Rules:
- ``.env`` is read, parsed, validated and masked by :mod:`todo_deploy.envfile`; values are
  never shown (key names and lengths only), never put in argv, and never written anywhere
  but the user's ``.env``.
- Zero-credential default: empty ``BETTER_AUTH_SECRET`` and (with an empty ``DATABASE_URL``)
  ``POSTGRES_PASSWORD`` are generated once and stored back in ``.env``, so re-runs never
  rotate them. Empty ``DATABASE_URL`` selects the chart's in-cluster PostgreSQL.
- The Secret is applied with ``kubectl apply --server-side`` (no last-applied annotation
  holding a copy of the data) together with its Namespace, and annotated with the digest
  of its data, which ``inv deploy`` copies into the pods so a changed ``.env`` rolls them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets as pysecrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

import yaml

from . import doctor, envfile, lock, proc, tools
from .config import Settings
from .console import mask
from .envfile import (
    BETTER_AUTH_SECRET,
    COHERE_API_KEY,
    DATABASE_URL,
    KNOWN_KEYS,
    POSTGRES_PASSWORD,
    EnvFile,
)
from .errors import StageFailed
from .session import Session

SECRET_KEYS = {  # .env key → Secret data key (the spec's names)
    DATABASE_URL: "database-url",
    COHERE_API_KEY: "cohere-api-key",
    BETTER_AUTH_SECRET: "better-auth-secret",
    POSTGRES_PASSWORD: "postgres-password",
}
DIGEST_ANNOTATION = "todo-app.dev/secret-digest"
EMBEDDED_ANNOTATION = "todo-app.dev/embedded-db"
EMBEDDED_DB = {"user": "todo", "host": "todo-postgres", "port": "5432", "database": "todo"}
POSTGRES_POD = "todo-postgres-0"  # the chart's StatefulSet, its container and its claim
POSTGRES_CONTAINER = "postgresql"
POSTGRES_PVC = "data-todo-postgres-0"



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
    digest: str  # the digest annotation ("" when absent)
    embedded_db: bool
    data_digest: str = ""  # sha256 of the Secret's data as it is in the cluster now
    data: Mapping[str, str] = field(default_factory=dict, repr=False)  # decoded; never shown

    def matches(self, secret_plan: SecretPlan) -> bool:
        """The cluster already holds exactly this plan: same data, same annotations."""
        return (self.data_digest == self.digest == secret_plan.digest.value
                and self.embedded_db == secret_plan.embedded_db)


# -- the Secret (pure) -----------------------------------------------------------------------


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
        url = embedded_database_url(password)
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


def embedded_database_url(password: str, db: Mapping[str, str] = EMBEDDED_DB) -> str:
    """DATABASE_URL of the in-cluster PostgreSQL. User, password and database name are
    percent-encoded (every byte but ``A-Za-z0-9-._~``), so a password holding ``@ : / ? # %
    + space`` still parses back to the right host and to itself. The chart composes the same
    bytes (``urlquery | replace "+" "%20"`` in templates/secret.yaml)."""
    def escape(value: str) -> str:
        return quote(value, safe="")

    return (f"postgresql://{escape(db['user'])}:{escape(password)}@{db['host']}:{db['port']}"
            f"/{escape(db['database'])}")


def digest_of(data: Mapping[str, str]) -> SecretDigest:
    """sha256 over the sorted data: equal data ⇔ equal digest (safe to show)."""
    canonical = json.dumps(dict(sorted(data.items())), separators=(",", ":"))
    return SecretDigest(hashlib.sha256(canonical.encode()).hexdigest())


def parse_cluster_secret(stdout: str) -> ClusterSecret:
    """``kubectl get secret -o json`` → its annotations and decoded data (pure)."""
    try:
        obj = json.loads(stdout or "{}")
    except json.JSONDecodeError:
        raise StageFailed("cannot read the Secret from kubectl's output",
                          "upgrade kubectl (inv doctor shows its version)") from None
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    data = {k: base64.b64decode(v).decode("utf-8", "replace")
            for k, v in (obj.get("data") or {}).items()}
    return ClusterSecret(digest=annotations.get(DIGEST_ANNOTATION, ""),
                         embedded_db=annotations.get(EMBEDDED_ANNOTATION) == "true",
                         data_digest=digest_of(data).value, data=data)


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


def run_secrets(s: Session, *, dry_run: bool = False) -> SecretPlan:
    console, settings = s.console, s.settings
    env = _load_with_warnings(s)
    secret_plan = plan(env)
    console.register_secret(*secret_plan.data().values())
    _show(s, secret_plan, dry_run=dry_run, absent=set(KNOWN_KEYS) - set(env.entries))
    if dry_run:
        console.info(f"secret digest: {secret_plan.digest.value}"
                     + (" (changes on each dry run until generated values are stored)"
                        if secret_plan.generated else ""))
        console.success(f"dry run: {settings.env_file} is valid; nothing was applied"
                        + (" and nothing generated was stored" if secret_plan.generated else ""))
        return secret_plan
    tools.require_safe(s.tools, "apply the Secret")
    doctor.require(s, "kubectl", "cluster")
    with lock.held(s, "secrets"):  # one mutating run at a time (.env's generated values too)
        return _apply(s, secret_plan)


def _apply(s: Session, secret_plan: SecretPlan) -> SecretPlan:
    console, settings = s.console, s.settings
    # before anything is stored or applied: a refusal leaves .env and the Secret as they were
    _rotate_embedded_password(s, secret_plan)
    if secret_plan.generated:
        envfile.persist_generated(settings.env_file, secret_plan.generated)
        console.info(f"Generated {', '.join(sorted(secret_plan.generated))}; stored in "
                     f"{settings.env_file} so re-runs keep them (delete the value to rotate).")
    live = applied_secret(s)
    if live is not None and live.matches(secret_plan):
        console.success(f"Secret {settings.namespace}/{settings.secret_name} unchanged in "
                        f"context {s.tools.context} (digest {secret_plan.digest.short}); "
                        "nothing to apply")
        console.info(f"secret digest: {secret_plan.digest.value}")
        return secret_plan
    with console.status(f"applying Secret {settings.secret_name} in namespace "
                        f"{settings.namespace} (context {s.tools.context})"):
        result = s.tools.kubectl.run(*apply_args(settings),
                                     stdin=manifest(settings, secret_plan), check=False)
    if not result.ok:
        s.forget(SECRET_KEY)
        raise _apply_error(s.tools.kubectl, settings, result)
    data = secret_plan.data()
    s.store(SECRET_KEY, ClusterSecret(secret_plan.digest.value, secret_plan.embedded_db,
                                      digest_of(data).value, data))
    console.success(f"Secret {settings.namespace}/{settings.secret_name} applied in context "
                    f"{s.tools.context} (digest {secret_plan.digest.short})")
    console.info(f"secret digest: {secret_plan.digest.value}")
    return secret_plan


def _load_with_warnings(s: Session) -> EnvFile:
    env = envfile.read_env(s.settings.env_file)
    for warning in env.warnings:
        s.console.warn(warning)
    note = envfile.absent_keys_note(env)
    if note:
        s.console.info(note)
    return envfile.check(s.settings, env)


def _show(s: Session, secret_plan: SecretPlan, *, dry_run: bool, absent: set[str]) -> None:
    stored = "would be stored in .env (dry run: not written)" if dry_run else "stored in .env"
    rows = [(v.key, mask(v.value), f"{v.source}, {stored}" if v.source == "generated"
             else v.source) for v in secret_plan.values]
    s.console.table(f"Secret {s.settings.namespace}/{s.settings.secret_name}",
                    ("key", "value", "source"), rows)
    # an absent key was named in the one "absent is the same as empty" line already
    if secret_plan.embedded_db and DATABASE_URL not in absent:
        s.console.info("DATABASE_URL is empty: the chart's in-cluster PostgreSQL will be used.")
    if not secret_plan.chat_enabled and COHERE_API_KEY not in absent:
        s.console.info("COHERE_API_KEY is empty: the chatbot is disabled (stored empty).")


def _apply_error(kube: tools.Kubectl, settings: Settings,
                 result: proc.ToolResult) -> StageFailed:
    stderr = proc.tail(result.stderr)
    if "conflict" in stderr.lower():
        delete = kube.command("-n", settings.namespace, "delete", "secret", settings.secret_name)
        hint = (f"another tool manages Secret {settings.secret_name} (helm with "
                f"secrets.create=true?). Keep one owner: set secrets.create=false, or {delete}")
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


SECRET_KEY = ("applied-secret",)


def applied_secret(s: Session) -> ClusterSecret | None:
    """The Secret in the cluster (None: there is none): one ``kubectl get -o json`` per run,
    shared by inv secrets (nothing to apply when it matches) and inv deploy (its digest). Its
    values are registered with the console's masking and never shown."""
    def ask() -> ClusterSecret | None:
        try:
            found = s.tools.kubectl.run("get", "secret", s.settings.secret_name, "-n",
                                        s.settings.namespace, "-o", "json", hint="inv doctor")
        except tools.NotFound:
            return None
        return parse_cluster_secret(found.stdout)

    secret: ClusterSecret | None = s.remember(SECRET_KEY, ask)
    if secret is not None:
        s.console.register_secret(*secret.data.values())
    return secret


def _secret_value(s: Session, key: str) -> str | None:
    """One value of the applied Secret (None: no Secret or no such key); never shown."""
    secret = applied_secret(s)
    return None if secret is None else (secret.data.get(key) or None)


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
                     hint=f"{kube.command('-n', ns, 'logs', POSTGRES_POD)}   "
                          "# then: inv secrets")
        s.console.info("POSTGRES_PASSWORD changed: the in-cluster PostgreSQL now takes the new "
                       "one (ALTER ROLE); inv deploy rolls the backend onto it")
        return
    volume = kube.run("get", "pvc", POSTGRES_PVC, "-n", ns, "-o", "name", check=False)
    old_value = kube.command("-n", ns, "get", "secret", settings.secret_name, "-o",
                             f"jsonpath={{.data.{key}}}")
    if volume.ok:
        raise StageFailed(
            "POSTGRES_PASSWORD changed, but the in-cluster PostgreSQL that keeps the old one "
            f"(its data is in {POSTGRES_PVC}) is not running to take the new one; nothing was "
            "changed",
            f"put the old value back in {settings.env_file} (it is still in the Secret: "
            f"{old_value} | base64 -d), run inv deploy, then change it again; "
            "or start over without the data: inv down --purge --yes && inv up")


def cluster_secret(s: Session) -> ClusterSecret | None:
    """The digest and embedded-db flag of the applied Secret (None: no Secret, or one
    without the digest annotation)."""
    secret = applied_secret(s)
    return secret if secret is not None and secret.digest else None
