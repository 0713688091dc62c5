"""`inv build`: content-digest tags, the filtered build context, builds in minikube's daemon.

- The suite builds the context itself: the files of the configured source directory after the
  ignore rules of ``docker/<component>/Dockerfile.dockerignore`` (BuildKit's naming) plus the
  hard-coded ``.env`` exclusions, collected with docker-py's own matcher. Exactly those files
  (path, mode, content), the Dockerfile, the build args and the base image name(s) make the
  content digest; the same file list is sent to the daemon as a tar.
- Tags: ``todo-<component>:<digest12>`` and ``:latest``. A tag that already exists in the
  target daemon is not rebuilt (``--force`` rebuilds). ``current_images`` recomputes the tags
  for ``inv deploy``; the build args used are kept in ``<state_dir>/images.json``.
- Target: minikube's Docker daemon (``minikube docker-env`` parsed into an environment dict,
  never ``os.environ``), or the host's (``--target host``). When minikube runs containerd or
  cri-o, ``minikube image build`` is used instead, and the user is told so.
- docker-py has no BuildKit: the classic builder runs, so the Dockerfiles avoid ``RUN --mount``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import stat
import tarfile
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from . import cluster, doctor, proc
from .cli import Session
from .config import ImageConfig, Settings
from .console import StepTracker
from .errors import ConfigError, PrereqError, StageFailed

COMPONENTS = ("backend", "frontend")
LATEST = "latest"
TAG_LENGTH = 12
# The Dockerfile travels inside the context tar under this name (and is ignored by COPY).
DOCKERFILE_IN_CONTEXT = ".todo-deploy.Dockerfile"
# Never in any build context, whatever the ignore file says (a `!` exception included).
ALWAYS_EXCLUDED = (".env", ".env.*", "**/.env", "**/.env.*")
SECRET_NAMES = (".env", ".env.*")
DIGEST_SCHEME = "todo-deploy/image-digest/v1"
STATE_FILE = "images.json"
NON_DOCKER_RUNTIMES = ("containerd", "cri-o", "crio")
BUILD_TIMEOUT = 1800.0  # seconds one build step may stay silent
LOG_TAIL_LINES = 40
STEP_RE = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
ARG_REF_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


# -- typed values ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ImageRef:
    """An image the deployment uses: ``repository:tag`` (tag = first 12 hex of the digest)."""

    component: str
    repository: str
    tag: str
    digest: str = ""

    @property
    def ref(self) -> str:
        return f"{self.repository}:{self.tag}"


@dataclass(frozen=True)
class BuiltImage:
    """One row of the build table."""

    component: str
    repository: str
    tag: str
    digest: str
    size: int  # bytes, as the daemon reports it (0 when unknown)
    seconds: float
    built: bool  # False: the digest tag already existed, the build was skipped

    @property
    def ref(self) -> str:
        return f"{self.repository}:{self.tag}"

    @property
    def result(self) -> str:
        return "built" if self.built else "skipped"


@dataclass(frozen=True)
class BuildContext:
    """What goes into one image: the filtered files, the Dockerfile, args and base images."""

    component: str
    repository: str
    root: Path
    files: tuple[str, ...]  # relative paths (files, directories, symlinks) after ignore rules
    dockerfile: bytes
    build_args: tuple[tuple[str, str], ...]  # sorted
    base_images: tuple[str, ...]
    digest: str

    @property
    def tag(self) -> str:
        return self.digest[:TAG_LENGTH]

    @property
    def ref(self) -> ImageRef:
        return ImageRef(self.component, self.repository, self.tag, self.digest)

    @property
    def args(self) -> dict[str, str]:
        return dict(self.build_args)


@dataclass(frozen=True)
class StepEvent:
    """One decoded event of the classic builder's JSON stream."""

    lines: tuple[str, ...] = ()
    step: int | None = None
    steps: int | None = None
    instruction: str = ""
    error: str | None = None
    image_id: str | None = None


@dataclass
class BuildLog:
    """Every line one build printed, for the failure tail and the log file."""

    lines: list[str] = field(default_factory=list)
    step: str = ""

    def tail(self, n: int = LOG_TAIL_LINES) -> str:
        return "\n".join(self.lines[-n:])


# -- pure functions ----------------------------------------------------------------------------
def ignore_file_for(dockerfile: Path) -> Path:
    """BuildKit's per-Dockerfile ignore file: ``<Dockerfile>.dockerignore``."""
    return dockerfile.with_name(dockerfile.name + ".dockerignore")


def parse_ignore(text: str) -> list[str]:
    """.dockerignore lines → patterns (comments and blank lines dropped)."""
    patterns = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            patterns.append(line)
    return patterns


def is_secret_file(relpath: str) -> bool:
    name = relpath.rstrip("/").rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in SECRET_NAMES)


def context_files(root: Path, patterns: Sequence[str]) -> list[str]:
    """Relative paths under ``root`` that enter the build context (docker-py's matcher).

    ``.env`` files are dropped twice: by patterns appended after the user's (so a ``!`` rule
    cannot re-include them) and by name afterwards.
    """
    from docker.utils.build import exclude_paths

    found = exclude_paths(str(root), [*patterns, *ALWAYS_EXCLUDED],
                          dockerfile=DOCKERFILE_IN_CONTEXT)
    return sorted(p for p in found if p != DOCKERFILE_IN_CONTEXT and not is_secret_file(p)
                  and not any(is_secret_file(part) for part in p.split("/")))


def _logical_lines(dockerfile: str) -> Iterator[str]:
    """Dockerfile instructions with ``\\`` continuations joined and comments dropped."""
    current = ""
    for raw in dockerfile.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        yield current.strip()
        current = ""
    if current.strip():
        yield current.strip()


def _substitute(text: str, values: Mapping[str, str]) -> str:
    def repl(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        default = match.group(2)
        value = values.get(name, "")
        return value if value else (default or "")

    return ARG_REF_RE.sub(repl, text)


def base_images(dockerfile: str, build_args: Mapping[str, str]) -> tuple[str, ...]:
    """External images the ``FROM`` lines name, with global ``ARG`` defaults and build args.

    Stage names (``FROM builder``) are not base images.
    """
    args: dict[str, str] = {}
    stages: set[str] = set()
    bases: list[str] = []
    seen_from = False
    for line in _logical_lines(dockerfile):
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "ARG" and not seen_from:
            for decl in rest.split():
                name, eq, default = decl.partition("=")
                args[name] = build_args.get(name, default.strip("\"'") if eq else "")
        elif keyword == "FROM":
            seen_from = True
            words = [w for w in rest.split() if not w.startswith("--")]
            if not words:
                continue
            image = _substitute(words[0], args)
            if image.lower() not in stages and image not in bases:
                bases.append(image)
            if len(words) >= 3 and words[1].lower() == "as":
                stages.add(words[2].lower())
    return tuple(bases)


def content_digest(root: Path, files: Iterable[str], dockerfile: bytes,
                   build_args: Mapping[str, str], bases: Sequence[str]) -> str:
    """sha256 over the Dockerfile, the build args, the base image names and every context
    entry's path, mode and content (symlinks: their target). Deterministic; no daemon needed.
    """
    h = hashlib.sha256()

    def put(*parts: str | bytes) -> None:
        for part in parts:
            data = part.encode() if isinstance(part, str) else part
            h.update(len(data).to_bytes(8, "big"))
            h.update(data)

    put(DIGEST_SCHEME, "dockerfile", dockerfile)
    for key in sorted(build_args):
        put("arg", key, build_args[key])
    for base in bases:
        put("base", base)
    for rel in sorted(files):
        full = root / rel
        st = os.lstat(full)
        mode = f"{stat.S_IMODE(st.st_mode):o}"
        if stat.S_ISLNK(st.st_mode):
            put("link", rel, os.readlink(full))
        elif stat.S_ISDIR(st.st_mode):
            put("dir", rel, mode)
        elif stat.S_ISREG(st.st_mode):
            fh = hashlib.sha256()
            with open(full, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    fh.update(chunk)
            put("file", rel, mode, fh.hexdigest())
    return h.hexdigest()


def parse_build_args(values: Iterable[str]) -> dict[str, dict[str, str]]:
    """``--build-arg`` flags: ``KEY=VALUE`` (both images) or ``backend:KEY=VALUE``."""
    result: dict[str, dict[str, str]] = {c: {} for c in COMPONENTS}
    for raw in values:
        scope, key_value = None, raw
        head, sep, tail = raw.partition(":")
        if sep and head in COMPONENTS:
            scope, key_value = head, tail
        key, eq, value = key_value.partition("=")
        if not eq or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise ConfigError(
                f"--build-arg {raw!r} is not KEY=VALUE or COMPONENT:KEY=VALUE",
                "inv build --build-arg backend:BASE_IMAGE=python:3.11-slim")
        for component in ([scope] if scope else COMPONENTS):
            result[component][key] = value
    return result


def parse_stream_event(event: Mapping[str, Any]) -> StepEvent:
    """One JSON object of ``/build``'s stream (classic builder) → a typed event."""
    if "error" in event or "errorDetail" in event:
        detail = event.get("errorDetail") or {}
        message = str(event.get("error") or detail.get("message") or "build failed")
        return StepEvent(lines=tuple(message.rstrip().splitlines()), error=message.strip())
    aux = event.get("aux")
    if isinstance(aux, dict) and aux.get("ID"):
        return StepEvent(image_id=str(aux["ID"]))
    text = str(event.get("stream") or event.get("status") or "")
    lines = tuple(line.rstrip() for line in text.splitlines() if line.strip())
    for line in lines:
        match = STEP_RE.match(line)
        if match:
            return StepEvent(lines=lines, step=int(match.group(1)), steps=int(match.group(2)),
                             instruction=match.group(3))
        built = re.match(r"^Successfully built ([0-9a-f]+)$", line)
        if built:
            return StepEvent(lines=lines, image_id=built.group(1))
    return StepEvent(lines=lines)


def parse_image_list(text: str) -> set[str]:
    """``minikube image ls`` (short format) → ``repository:tag`` set, default registry
    prefixes (``docker.io/library/``, ``docker.io/``) removed."""
    refs = set()
    for line in text.splitlines():
        ref = line.strip()
        if not ref:
            continue
        for prefix in ("docker.io/library/", "docker.io/"):
            if ref.startswith(prefix):
                ref = ref[len(prefix):]
                break
        refs.add(ref)
    return refs


def minikube_build_opts(runtime: str, build_args: Iterable[tuple[str, str]], *,
                        no_cache: bool) -> list[str]:
    """``--build-opt`` flags for ``minikube image build`` on ``runtime``.

    minikube turns ``--build-opt=X`` into ``--X`` for the node's builder: ``buildctl build``
    (containerd) takes build args as ``--opt build-arg:K=V``; ``podman build`` (cri-o) and
    ``docker build`` take ``--build-arg K=V``. ``--no-cache`` is the same for all three.
    """
    if runtime.lower() == "containerd":
        opts = [f"--build-opt=opt=build-arg:{k}={v}" for k, v in build_args]
    else:
        opts = [f"--build-opt=build-arg={k}={v}" for k, v in build_args]
    return opts + (["--build-opt=no-cache"] if no_cache else [])


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


# -- the build context -------------------------------------------------------------------------
def effective_args(image: ImageConfig, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Build args of one image: ``build.args.<component>`` < ``--build-arg`` flags."""
    return {**image.build_args, **(extra or {})}


def prepare(image: ImageConfig, build_args: Mapping[str, str]) -> BuildContext:
    """Collect the context of ``image`` and compute its digest (no daemon involved)."""
    if not image.dockerfile.is_file():
        raise ConfigError(f"Dockerfile for {image.component} not found: {image.dockerfile}",
                          f"set todo.images.{image.component}.dockerfile in invoke.yaml")
    if not image.context.is_dir():
        raise ConfigError(
            f"build context for {image.component} not found: {image.context}",
            f"set todo.images.{image.component}.context in invoke.yaml "
            f"(or INVOKE_TODO_IMAGES_{image.component.upper()}_CONTEXT=path)")
    ignore = ignore_file_for(image.dockerfile)
    patterns = parse_ignore(ignore.read_text(encoding="utf-8")) if ignore.is_file() else []
    files = context_files(image.context, patterns)
    dockerfile = image.dockerfile.read_bytes()
    args = dict(build_args)
    bases = base_images(dockerfile.decode("utf-8", "replace"), args)
    digest = content_digest(image.context, files, dockerfile, args, bases)
    return BuildContext(image.component, image.name, image.context, tuple(files), dockerfile,
                        tuple(sorted(args.items())), bases, digest)


def context_tar(ctx: BuildContext) -> IO[bytes]:
    """The tar sent to the daemon: exactly ``ctx.files`` plus the Dockerfile.

    A ``.dockerignore`` naming the Dockerfile keeps it out of ``COPY . .``.
    """
    from docker.utils.build import create_archive

    fileobj: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - returned to the caller
    create_archive(
        root=str(ctx.root), files=list(ctx.files), fileobj=fileobj,
        extra_files=[(".dockerignore", f"{DOCKERFILE_IN_CONTEXT}\n.dockerignore\n"),
                     (DOCKERFILE_IN_CONTEXT, ctx.dockerfile.decode("utf-8"))])
    return fileobj


def context_size(ctx: BuildContext) -> int:
    """Bytes of the tar the daemon receives."""
    with context_tar(ctx) as fileobj:
        fileobj.seek(0, os.SEEK_END)
        return fileobj.tell()


# -- state: what was built, for `inv deploy` -----------------------------------------------------
def state_path(settings: Settings) -> Path:
    return settings.state_dir / STATE_FILE


def load_state(settings: Settings) -> dict[str, dict[str, Any]]:
    """``{component: {repository, tag, digest, build_args, built_at}}``; {} when absent."""
    path = state_path(settings)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    images = data.get("images") if isinstance(data, dict) else None
    return {k: v for k, v in (images or {}).items() if isinstance(v, dict)}


def save_state(settings: Settings, contexts: Iterable[BuildContext]) -> None:
    """Record the build args and tags (never secrets) in the git-ignored state folder."""
    images = load_state(settings)
    for ctx in contexts:
        images[ctx.component] = {"repository": ctx.repository, "tag": ctx.tag,
                                 "digest": ctx.digest, "build_args": ctx.args,
                                 "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    path = state_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"version": 1, "images": images}, indent=2, sort_keys=True) + "\n",
                   encoding="utf-8")
    tmp.replace(path)


def current_images(settings: Settings) -> list[ImageRef]:
    """The tags ``inv deploy`` must use: digests recomputed from the current sources, with the
    build args the last ``inv build`` recorded (config args when nothing was recorded)."""
    recorded = load_state(settings)
    refs = []
    for component in COMPONENTS:
        image = settings.images[component]
        entry = recorded.get(component) or {}
        args = entry.get("build_args")
        if not isinstance(args, dict):
            args = effective_args(image)
        refs.append(prepare(image, {str(k): str(v) for k, v in args.items()}).ref)
    return refs


# -- where images are built ----------------------------------------------------------------------
@dataclass(frozen=True)
class ImageInfo:
    image_id: str  # "" when the target cannot tell (minikube image ls)
    size: int  # bytes; 0 when unknown


class Builder(Protocol):
    where: str

    def inspect(self, ref: str) -> ImageInfo | None:
        """``ref`` in the target, None when it does not exist."""

    def build(self, ctx: BuildContext, *, no_cache: bool, network: str | None,
              tracker: StepTracker, log: BuildLog) -> None: ...

    def tag_latest(self, ctx: BuildContext) -> None: ...

    def close(self) -> None: ...


class DockerBuilder:
    """Builds through docker-py's low-level API against one daemon."""

    def __init__(self, client: Any, where: str):
        self.client = client
        self.where = where

    def inspect(self, ref: str) -> ImageInfo | None:
        import docker.errors

        try:
            data = self.client.api.inspect_image(ref)
        except docker.errors.ImageNotFound:
            return None
        return ImageInfo(str(data.get("Id") or ""), int(data.get("Size") or 0))

    def build(self, ctx: BuildContext, *, no_cache: bool, network: str | None,
              tracker: StepTracker, log: BuildLog) -> None:
        import docker.errors

        name = ctx.component
        image_id = None
        with context_tar(ctx) as fileobj:
            try:
                stream = self.client.api.build(
                    fileobj=fileobj, custom_context=True, dockerfile=DOCKERFILE_IN_CONTEXT,
                    tag=ctx.ref.ref, buildargs=ctx.args, nocache=no_cache, rm=True,
                    forcerm=True, network_mode=network or None, decode=True,
                    timeout=BUILD_TIMEOUT,
                    labels={"todo-app.dev/component": ctx.component,
                            "todo-app.dev/content-digest": ctx.digest})
                for raw in stream:
                    event = parse_stream_event(raw)
                    for line in event.lines:
                        log.lines.append(line)
                    if event.step is not None:
                        log.step = f"step {event.step}/{event.steps}: {event.instruction}"
                        tracker.update(name, step=log.step[:100])
                    for line in event.lines:
                        if event.step is None:
                            tracker.update(name, line=line)
                    if event.image_id:
                        image_id = event.image_id
                    if event.error:
                        raise _build_failed(ctx, log, event.error)
            except docker.errors.APIError as exc:
                log.lines.append(str(exc.explanation or exc))
                raise _build_failed(ctx, log, str(exc.explanation or exc)) from None
        if image_id is None:
            raise _build_failed(ctx, log, "the daemon reported no image ID")

    def tag_latest(self, ctx: BuildContext) -> None:
        self.client.api.tag(ctx.ref.ref, ctx.repository, LATEST, force=True)

    def close(self) -> None:
        self.client.close()


class MinikubeImageBuilder:
    """containerd / cri-o runtimes: ``minikube image build`` inside the node (no docker-env).

    The filtered context is unpacked into a temporary directory, so the ignore rules and the
    ``.env`` exclusion hold here too. No live step view: minikube prints at the end.

    minikube passes each ``--build-opt=X`` on as ``--X`` to the node's builder: ``buildctl``
    for containerd (build args are ``--opt build-arg:K=V``), ``podman build`` for cri-o
    (``--build-arg K=V``); see :func:`minikube_build_opts`. ``minikube image build`` exits 0
    even when the build failed (kubernetes/minikube#16576), so success is judged by the tag
    appearing in ``minikube image ls``.
    """

    def __init__(self, s: Session, runtime: str):
        self.s = s
        self.runtime = runtime
        self.where = f"minikube ({runtime}) via `minikube image build`"
        self._listed: set[str] | None = None

    def _images(self) -> set[str]:
        if self._listed is None:
            out = proc.run(self.s.c, cluster.minikube(self.s.settings, "image", "ls"),
                           timeout=self.s.settings.tool_timeout)
            self._listed = parse_image_list(out.stdout)
        return self._listed

    def inspect(self, ref: str) -> ImageInfo | None:
        return ImageInfo("", 0) if ref in self._images() else None

    def build(self, ctx: BuildContext, *, no_cache: bool, network: str | None,
              tracker: StepTracker, log: BuildLog) -> None:
        settings = self.s.settings
        with tempfile.TemporaryDirectory(prefix="todo-build-") as tmp:
            with context_tar(ctx) as fileobj, tarfile.open(fileobj=fileobj) as tar:
                # extraction filters arrived in 3.11.4; our own tar is trusted before that
                if hasattr(tarfile, "tar_filter"):
                    tar.extractall(tmp, filter="tar")
                else:  # pragma: no cover - Python 3.11.0-3.11.3
                    tar.extractall(tmp)
            argv = cluster.minikube(settings, "image", "build", "-t", ctx.ref.ref,
                                    "-f", DOCKERFILE_IN_CONTEXT)
            argv += minikube_build_opts(self.runtime, ctx.build_args, no_cache=no_cache)
            argv.append(tmp)
            tracker.update(ctx.component, step="minikube image build")
            result = proc.run(self.s.c, argv, check=False, timeout=BUILD_TIMEOUT)
        for line in (result.stdout + result.stderr).splitlines():
            log.lines.append(line)
            tracker.update(ctx.component, line=line)
        if not result.ok:
            raise _build_failed(ctx, log, f"`minikube image build` exited {result.code}")
        self._listed = None
        if self.inspect(ctx.ref.ref) is None:  # minikube exits 0 on a failed build
            raise _build_failed(ctx, log, f"`minikube image build` exited 0 but {ctx.ref.ref} "
                                          "is not in `minikube image ls`")

    def tag_latest(self, ctx: BuildContext) -> None:
        proc.run(self.s.c, cluster.minikube(self.s.settings, "image", "tag", ctx.ref.ref,
                                            f"{ctx.repository}:{LATEST}"),
                 timeout=self.s.settings.tool_timeout)

    def close(self) -> None:
        return None


def _build_failed(ctx: BuildContext, log: BuildLog, reason: str) -> StageFailed:
    where = f" at {log.step}" if log.step else ""
    return StageFailed(
        f"building {ctx.repository}{where} failed: {reason.strip().splitlines()[-1]}",
        f"fix the failing step, then: inv build --only {ctx.component}",
        details=log.tail())


def docker_environment(endpoint: cluster.DockerEndpoint) -> dict[str, str]:
    """The environment docker-py reads: minikube's parsed docker-env, or the host's own.

    Never ``{}``: docker-py silently falls back to ``os.environ`` for an empty dict.
    """
    if endpoint.target == "host":
        return dict(os.environ)
    return dict(endpoint.environment)


def docker_client(endpoint: cluster.DockerEndpoint, timeout: float) -> Any:
    import docker.errors

    import docker

    try:
        return docker.from_env(environment=docker_environment(endpoint), timeout=int(timeout))
    except docker.errors.DockerException as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if endpoint.target == "host":
            hint = "start Docker on this machine (or build in minikube: inv build)"
        else:
            hint = "minikube start   # then: inv build   (or: inv build --target host)"
        raise PrereqError(f"cannot reach the Docker daemon at {endpoint.host}: {reason}",
                          hint) from None


@contextmanager
def open_builder(s: Session) -> Iterator[Builder]:
    """The builder for the configured target; says so when it falls back to minikube's own."""
    settings = s.settings
    if settings.build_target == "host":
        doctor.require(s, "docker-sdk")
        endpoint = cluster.DockerEndpoint(target="host")
    else:
        doctor.require(s, "docker-sdk", "minikube")
        try:
            endpoint = cluster.docker_env(s)
        except PrereqError:
            info = cluster.profile(s)
            if info is None or info.runtime.lower() not in NON_DOCKER_RUNTIMES:
                raise
            s.console.warn(
                f"minikube profile {settings.profile!r} runs {info.runtime}: no Docker daemon to "
                "build in, so images are built with `minikube image build` (no live step view)")
            yield MinikubeImageBuilder(s, info.runtime)
            return
    builder = DockerBuilder(docker_client(endpoint, settings.tool_timeout),
                            f"{endpoint.target} daemon ({endpoint.host})")
    try:
        yield builder
    finally:
        builder.close()


def missing_images(s: Session, refs: Sequence[ImageRef]) -> list[ImageRef]:
    """The refs the target daemon does not have (deploy refuses and says ``inv build``)."""
    with open_builder(s) as builder:
        return [ref for ref in refs if builder.inspect(ref.ref) is None]


# -- the stage ---------------------------------------------------------------------------------
def selected(only: str | None) -> tuple[str, ...]:
    if only is None or only == "":
        return COMPONENTS
    if only not in COMPONENTS:
        raise ConfigError(f"--only must be one of {', '.join(COMPONENTS)}, not {only!r}",
                          "inv build --only backend")
    return (only,)


def run_build(s: Session, *, force: bool = False, no_cache: bool = False,
              only: str | None = None, build_args: Sequence[str] = ()) -> list[BuiltImage]:
    """Build (or skip) the selected images in the target daemon; print the table."""
    components = selected(only)
    extra = parse_build_args(build_args)
    contexts = [prepare(s.settings.images[c], effective_args(s.settings.images[c], extra[c]))
                for c in components]
    network = s.settings.build_network or None
    results: list[BuiltImage] = []
    with open_builder(s) as builder:
        s.console.heading(f"Build images in {builder.where}")
        with s.console.tracker([ctx.component for ctx in contexts]) as tracker:
            for ctx in contexts:
                results.append(_build_one(s, builder, ctx, force=force, no_cache=no_cache,
                                          network=network, tracker=tracker))
                save_state(s.settings, [ctx])  # recorded as soon as the image exists
    s.console.table("images", ("image", "tag", "size", "time", "result"),
                    [(r.repository, r.tag, human_size(r.size) if r.size else "-",
                      f"{r.seconds:.1f}s", r.result) for r in results])
    return results


def _build_one(s: Session, builder: Builder, ctx: BuildContext, *, force: bool,
               no_cache: bool, network: str | None, tracker: StepTracker) -> BuiltImage:
    started = time.monotonic()
    ref = ctx.ref.ref
    if not force:
        found = builder.inspect(ref)
        if found is not None:
            latest = builder.inspect(f"{ctx.repository}:{LATEST}")
            if not found.image_id or latest is None or latest.image_id != found.image_id:
                builder.tag_latest(ctx)
            tracker.finish(ctx.component, f"skipped: {ref} already exists")
            return BuiltImage(ctx.component, ctx.repository, ctx.tag, ctx.digest, found.size,
                              time.monotonic() - started, built=False)
    log = BuildLog()
    log_file = s.settings.state_dir / f"build-{ctx.component}.log"
    try:
        builder.build(ctx, no_cache=no_cache, network=network, tracker=tracker, log=log)
    except StageFailed as exc:
        tracker.finish(ctx.component, "FAILED")
        if _write_log(log_file, log):
            exc.hint = f"{exc.hint}\nfull log: {log_file}"
        raise
    except KeyboardInterrupt:
        tracker.finish(ctx.component, "interrupted")
        builder.close()  # dropping the connection makes the daemon cancel the build
        raise
    _write_log(log_file, log)
    builder.tag_latest(ctx)
    tracker.finish(ctx.component, f"built {ref}")
    info = builder.inspect(ref)
    return BuiltImage(ctx.component, ctx.repository, ctx.tag, ctx.digest,
                      info.size if info else 0, time.monotonic() - started, built=True)


def _write_log(path: Path, log: BuildLog) -> bool:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(log.lines) + "\n", encoding="utf-8")
    except OSError:
        return False
    return True
