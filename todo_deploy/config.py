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
    images: dict[str, ImageConfig] = field(default_factory=dict)
    root: Path = ROOT

    @classmethod
    def from_config(cls, todo: Any, root: Path = ROOT, **overrides: Any) -> Settings:
        """Build from invoke's merged ``todo`` config section plus CLI ``overrides``."""
        cfg = _plain(todo) if todo is not None else {}

        def get(path: str, default: Any) -> Any:
            node: Any = cfg
            for key in path.split("."):
                if not isinstance(node, dict) or key not in node:
                    return default
                node = node[key]
            return default if node is None else node

        def resolve(value: Any) -> Path:
            p = Path(str(value)).expanduser()
            return p if p.is_absolute() else (root / p)

        images = {}
        for component in ("backend", "frontend"):
            images[component] = ImageConfig(
                component=component,
                name=str(get(f"images.{component}.name", f"todo-{component}")),
                context=resolve(get(f"images.{component}.context", f"app/{component}")),
                dockerfile=resolve(
                    get(f"images.{component}.dockerfile", f"docker/{component}/Dockerfile")
                ),
                build_args={str(k): str(v) for k, v in
                            (get(f"build.args.{component}", {}) or {}).items()},
            )
        try:
            settings = cls(
                namespace=str(get("namespace", "todo")),
                release=str(get("release", "todo-app")),
                chart=resolve(get("chart", "helm/todo-app")),
                values_file=resolve(get("values_file", "")) if get("values_file", "") else None,
                env_file=resolve(get("env_file", ".env")),
                state_dir=resolve(get("state_dir", ".todo-deploy")),
                field_manager=str(get("field_manager", "todo-deploy")),
                secret_name=str(get("secret_name", "todo-secrets")),
                profile=str(get("minikube.profile", "minikube")),
                cpus=int(get("minikube.cpus", 2)),
                memory=int(get("minikube.memory", 4096)),
                build_target=str(get("build.target", "minikube")),
                context=str(get("context", "")),
                target=str(get("target", "minikube")),
                kind_cluster=str(get("kind.cluster", "kind")),
                registry=str(get("registry.url", "")),
                image_pull_secrets=tuple(str(x) for x in
                                         (get("registry.pull_secrets", []) or [])),
                build_network=str(get("build.network", "")),
                keep_tags=int(get("build.keep", 3)),
                tool_timeout=float(get("timeouts.tool", 120)),
                deploy_timeout=float(get("timeouts.deploy", 300)),
                verify_timeout=float(get("timeouts.verify", 300)),
                images=images,
                root=root,
            )
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
