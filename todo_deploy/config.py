"""Configuration, resolved in one place.

Precedence is invoke's own: ``invoke.yaml`` < ``INVOKE_TODO_*`` environment < task flags.
``Settings.from_config`` reads ``c.config.todo`` (invoke has already merged the yaml and
the environment) and applies the flags a task passes as overrides (``None`` = not given).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ("minikube", "kind", "registry", "docker")
COMPONENTS = ("backend", "frontend")


@dataclass(frozen=True)
class Key:
    """One setting: its path under ``todo`` in invoke's config (``invoke.yaml``,
    ``INVOKE_TODO_<PATH>``), the :class:`Settings` field it fills, and what it means."""

    path: str
    field: str
    help: str

    @property
    def env(self) -> str:
        return "INVOKE_TODO_" + self.path.upper().replace(".", "_")


KEYS = (
    Key("namespace", "namespace", "Kubernetes namespace (created if missing)"),
    Key("release", "release", "Helm release name"),
    Key("chart", "chart", "chart path"),
    Key("values_file", "values_file", "extra chart values (YAML) for deploy; what the suite "
        "sets (tags, secret digest) wins"),
    Key("env_file", "env_file", "where inv secrets reads credentials"),
    Key("state_dir", "state_dir", "git-ignored folder for non-secret local state"),
    Key("field_manager", "field_manager", "server-side apply field manager"),
    Key("secret_name", "secret_name", "Secret created by inv secrets"),
    Key("context", "context", "kube-context of every kubectl/helm call (\"\" = the current "
        "one; a cluster that is not local must be named)"),
    Key("target", "target", "minikube | kind | registry | docker (README: Beyond minikube)"),
    Key("kind.cluster", "kind_cluster", "kind load docker-image --name (context kind-<name>)"),
    Key("registry.url", "registry", "registry target: push here, e.g. registry.example.com/team"),
    Key("registry.pull_secrets", "image_pull_secrets", "docker-registry Secrets the pods pull "
        "with"),
    Key("minikube.profile", "profile", "minikube -p PROFILE"),
    Key("minikube.cpus", "cpus", "CPUs when inv up starts minikube"),
    Key("minikube.memory", "memory", "MiB when inv up starts minikube"),
    Key("build.target", "build_target", "minikube | host: which Docker daemon the minikube "
        "target builds in"),
    Key("build.network", "build_network", "docker network mode for RUN steps (\"host\" in CI)"),
    Key("build.keep", "keep_tags", "digest tags kept per image after a build (never those the "
        "release uses)"),
    Key("timeouts.tool", "tool_timeout", "seconds for any single kubectl/helm/minikube call"),
    Key("timeouts.deploy", "deploy_timeout", "helm --timeout, seconds"),
    Key("timeouts.verify", "verify_timeout", "seconds of inv verify's rollout watch"),
    Key("lock.wait", "lock_wait", "seconds a mutating task waits for the run lock another run "
        "holds (0: refuse at once; --wait-lock[=SECONDS])"),
    Key("lock.lease_seconds", "lock_seconds", "the run lock's leaseDurationSeconds: a run "
        "that stops renewing it (killed, crashed) loses it this long after its last renewal"),
)
# `--wait-lock` without a value: wait this long (a cold `inv up` of another run may build
# for minutes)
LOCK_WAIT_BARE = 900.0


def default_image(component: str) -> dict[str, str]:
    """images.<component>: repository name, source directory, Dockerfile (paths from the
    repository's root)."""
    return {"name": f"todo-{component}", "context": f"app/{component}",
            "dockerfile": f"docker/{component}/Dockerfile"}


def default_images(root: Path) -> dict[str, ImageConfig]:
    return {c: ImageConfig(c, d["name"], root / d["context"], root / d["dockerfile"])
            for c, d in ((c, default_image(c)) for c in COMPONENTS)}


def defaults_tree() -> dict[str, Any]:
    """Every default as invoke's ``todo`` config tree. tasks.py gives it to its collection, so
    each key exists before invoke.yaml and ``INVOKE_TODO_*`` (invoke reads an environment
    variable only for a key that exists) — and the defaults are stated once, in
    :class:`Settings`."""
    defaults, tree = Settings(), dict[str, Any]()
    for key in KEYS:
        value = getattr(defaults, key.field)
        if isinstance(value, Path):
            value = value.relative_to(ROOT).as_posix()
        elif isinstance(value, tuple):
            value = list(value)
        elif value is None:
            value = ""
        node = tree
        *parents, leaf = key.path.split(".")
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    tree["images"] = {c: default_image(c) for c in COMPONENTS}
    tree["build"]["args"] = {c: dict[str, str]() for c in COMPONENTS}
    return tree


@dataclass(frozen=True)
class ImageConfig:
    component: str  # "backend" | "frontend"
    name: str  # image repository, e.g. todo-backend
    context: Path  # source directory
    dockerfile: Path
    build_args: dict[str, str] = field(default_factory=dict)  # build.args.<component>


@dataclass(frozen=True)
class Settings:
    namespace: str = "todo"
    release: str = "todo-app"
    chart: Path = ROOT / "helm" / "todo-app"
    values_file: Path | None = None  # extra chart values for deploy (the suite's --set wins)
    env_file: Path = ROOT / ".env"
    state_dir: Path = ROOT / ".todo-deploy"
    field_manager: str = "todo-deploy"
    secret_name: str = "todo-secrets"
    profile: str = "minikube"
    cpus: int = 2
    memory: int = 4096
    build_target: str = "minikube"  # minikube | host: where `minikube` target builds
    context: str = ""  # kube-context; "" = kubectl's current one (resolved once per run)
    target: str = "minikube"  # minikube | kind | registry | docker (see README)
    kind_cluster: str = "kind"  # kind load docker-image --name
    registry: str = ""  # registry target: host[:port][/path] to push to
    image_pull_secrets: tuple[str, ...] = ()  # registry target: imagePullSecrets names
    build_network: str = ""
    keep_tags: int = 3  # digest tags kept per image after a build (build.keep)
    tool_timeout: float = 120.0
    deploy_timeout: float = 300.0
    verify_timeout: float = 300.0
    lock_wait: float = 0.0  # seconds to wait for a run lock held by another run (lock.wait)
    lock_seconds: int = 30  # the run lock's leaseDurationSeconds (lock.lease_seconds)
    images: dict[str, ImageConfig] = field(default_factory=lambda: default_images(ROOT))
    root: Path = ROOT

    @classmethod
    def from_config(cls, todo: Any, root: Path = ROOT, **overrides: Any) -> Settings:
        """Build from invoke's merged ``todo`` config section plus CLI ``overrides``; what the
        section lacks keeps the dataclass's default (the one statement of each default)."""
        cfg = _plain(todo) if todo is not None else {}
        defaults = cls()

        def get(path: str) -> Any:
            node: Any = cfg
            for key in path.split("."):
                if not isinstance(node, dict) or key not in node:
                    return None
                node = node[key]
            return node

        def resolve(value: Any) -> Path:
            p = Path(str(value)).expanduser()
            return p if p.is_absolute() else (root / p)

        values: dict[str, Any] = {}
        try:
            for key in KEYS:
                raw, default = get(key.path), getattr(defaults, key.field)
                if key.field == "values_file":
                    values[key.field] = resolve(raw) if raw else None
                elif isinstance(default, Path):  # defaults are under ROOT: rebased on root
                    values[key.field] = resolve(default.relative_to(ROOT) if raw is None
                                                else raw)
                elif raw is None:
                    values[key.field] = default
                elif isinstance(default, tuple):
                    values[key.field] = tuple(str(x) for x in raw or [])
                else:
                    values[key.field] = type(default)(raw)
            images = {}
            for component in COMPONENTS:
                given = {k: get(f"images.{component}.{k}") for k in ("name", "context",
                                                                    "dockerfile")}
                image = {k: v if v is not None else default for (k, v), default in zip(
                    given.items(), default_image(component).values(), strict=True)}
                images[component] = ImageConfig(
                    component=component, name=str(image["name"]),
                    context=resolve(image["context"]), dockerfile=resolve(image["dockerfile"]),
                    build_args={str(k): str(v) for k, v in
                                (get(f"build.args.{component}") or {}).items()})
            settings = cls(**values, images=images, root=root)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"invalid value in invoke.yaml / INVOKE_TODO_*: {exc}",
                              "inv config  # shows the resolved configuration") from None
        return settings.override(**overrides)

    def override(self, **overrides: Any) -> Settings:
        """Apply CLI flags; ``None`` means the flag was not given."""
        known = {f.name for f in fields(self)}
        given = {k: v for k, v in overrides.items() if v is not None}
        unknown = set(given) - known
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        for key in ("chart", "values_file", "env_file", "state_dir"):
            if key in given:
                p = Path(str(given[key])).expanduser()
                given[key] = p if p.is_absolute() else Path.cwd() / p
        if given.get("lock_wait") is True:  # a bare `--wait-lock` (invoke's optional value)
            given["lock_wait"] = LOCK_WAIT_BARE
        for key, value in list(given.items()):  # invoke passes flags without a typed default
            current = getattr(self, key)  # (``cpus: int | None = None``) as strings
            if isinstance(value, str) and isinstance(current, int | float) and \
                    not isinstance(current, bool):
                try:
                    given[key] = type(current)(value)
                except ValueError:
                    raise ConfigError(f"setting {key} must be a number, not {value!r}",
                                      "inv config  # shows the resolved configuration") from None
        if given.get("target") == "host":  # `inv build --target host`: minikube's cluster,
            given["target"], given["build_target"] = "minikube", "host"  # the host's daemon
        resolved = replace(self, **given)
        if resolved.values_file is not None and not resolved.values_file.is_file():
            raise ConfigError(f"values file {resolved.values_file} does not exist",
                              "fix todo.values_file in invoke.yaml / INVOKE_TODO_VALUES_FILE")
        if resolved.build_target not in ("minikube", "host"):
            raise ConfigError(
                f"build target must be 'minikube' or 'host', not {resolved.build_target!r}",
                "inv build --target minikube   (or fix build.target / INVOKE_TODO_BUILD_TARGET)")
        if resolved.keep_tags < 1:
            raise ConfigError(
                f"build.keep must be at least 1 (the newest tag per image), not "
                f"{resolved.keep_tags}", "inv build --keep 3   (or fix build.keep / "
                "INVOKE_TODO_BUILD_KEEP)")
        if resolved.lock_wait < 0 or resolved.lock_seconds < 5:
            raise ConfigError(
                f"lock.wait must be 0 or more seconds and lock.lease_seconds at least 5, not "
                f"{resolved.lock_wait:g} and {resolved.lock_seconds}",
                "inv deploy --wait-lock=300   (or fix lock.wait / INVOKE_TODO_LOCK_WAIT, "
                "lock.lease_seconds / INVOKE_TODO_LOCK_LEASE_SECONDS)")
        if resolved.target not in TARGETS:
            raise ConfigError(
                f"target must be one of {', '.join(TARGETS)}, not {resolved.target!r}",
                "inv up --target minikube   (or fix todo.target / INVOKE_TODO_TARGET)")
        if resolved.target == "registry":
            if not resolved.registry:
                raise ConfigError("the registry target needs a registry to push to",
                                  "inv up --target registry --registry 127.0.0.1:5000   "
                                  "(or todo.registry.url in invoke.yaml)")
            prefix = resolved.registry.rstrip("/") + "/"  # REGISTRY/todo-backend:<digest12>
            resolved = replace(resolved, images={
                k: v if v.name.startswith(prefix) else replace(v, name=prefix + v.name)
                for k, v in resolved.images.items()})
        return resolved

    @property
    def pull_policy(self) -> str:
        """The pods' imagePullPolicy on this target ("" = the chart's default, Never)."""
        return {"registry": "IfNotPresent", "docker": "Never", "kind": "Never"}.get(
            self.target, "")

    @property
    def builds_on_host(self) -> bool:
        """Images are built in the host's Docker daemon (every target but minikube's own)."""
        return self.target != "minikube" or self.build_target == "host"

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly view for ``inv config``."""
        raw = asdict(self)

        def clean(value: Any) -> Any:
            if isinstance(value, Path):
                return str(value)
            if isinstance(value, dict):
                return {k: clean(v) for k, v in value.items()}
            return value

        return {k: clean(v) for k, v in raw.items()}


def _plain(node: Any) -> Any:
    """invoke's DataProxy → plain dicts."""
    if hasattr(node, "items"):
        return {k: _plain(v) for k, v in node.items()}
    return node
