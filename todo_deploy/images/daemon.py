"""Builds in a Docker daemon through docker-py: minikube's (its docker-env parsed into an
environment dict, never ``os.environ``) or the host's (``--target host``).

docker-py has no BuildKit (docker/docker-py#2230): the classic builder runs, and its JSON
stream (``Step 3/12 : RUN npm ci``, output lines, ``aux`` image IDs, errors) feeds the live
step view.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..cluster import DockerEndpoint
from ..console import StepTracker
from ..errors import PrereqError
from .builder import (
    BUILD_TIMEOUT,
    COMPONENT_LABEL,
    BuildLog,
    ImageInfo,
    TagInfo,
    build_failed,
)
from .context import DOCKERFILE_IN_CONTEXT, LATEST, BuildContext, context_tar

STEP_RE = re.compile(r"^Step (\d+)/(\d+) : (.*)$")


@dataclass(frozen=True)
class StepEvent:
    """One decoded event of the classic builder's JSON stream."""

    lines: tuple[str, ...] = ()
    step: int | None = None
    steps: int | None = None
    instruction: str = ""
    error: str | None = None
    image_id: str | None = None


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


class DockerBuilder:
    """Builds through docker-py's low-level API against one daemon."""

    def __init__(self, client: Any, where: str):
        self.client = client
        self.where = where
        self.listed: list[dict[str, Any]] | None = None  # see listing()

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
        self.listed = None
        with context_tar(ctx) as fileobj:
            try:
                stream = self.client.api.build(
                    fileobj=fileobj, custom_context=True, dockerfile=DOCKERFILE_IN_CONTEXT,
                    tag=ctx.ref.ref, buildargs=ctx.args, nocache=no_cache, rm=True,
                    forcerm=True, network_mode=network or None, decode=True,
                    timeout=BUILD_TIMEOUT,
                    labels={COMPONENT_LABEL: ctx.component,
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
                        raise build_failed(ctx, log, event.error)
            except docker.errors.APIError as exc:
                log.lines.append(str(exc.explanation or exc))
                raise build_failed(ctx, log, str(exc.explanation or exc)) from None
        if image_id is None:
            raise build_failed(ctx, log, "the daemon reported no image ID")

    def tag_latest(self, ctx: BuildContext) -> None:
        self.listed = None
        self.client.api.tag(ctx.ref.ref, ctx.repository, LATEST, force=True)

    def tags(self, repository: str) -> list[TagInfo]:
        """The tags of ``repository`` on the suite's images, with their age.

        One listing of the suite's images serves every repository of a run (read again
        after this builder builds, tags or removes). The listing's ``Created`` has whole
        seconds; an image is inspected for its nanoseconds only when that second is shared
        with another image of the repository (or missing), the one case where the order
        needs them.
        """
        images = []
        for image in self.listing():
            refs = [ref for ref in image.get("RepoTags") or []
                    if ref.rpartition(":")[0] == repository]
            if refs:
                images.append((image, refs))
        seconds = Counter(int(image.get("Created") or 0) for image, _ in images)
        found = []
        for image, refs in images:
            whole = int(image.get("Created") or 0)
            if whole and seconds[whole] == 1:
                created = listed_created(whole)
            else:
                inspected = self.client.api.inspect_image(image["Id"]).get("Created") or ""
                created = sortable_created(str(inspected))
            found += [TagInfo(repository, ref.rpartition(":")[2], str(image["Id"]), created)
                      for ref in refs]
        return found

    def listing(self) -> list[dict[str, Any]]:
        """The daemon's images this suite built (``/images/json`` with the suite's label),
        asked once until this builder changes them."""
        if self.listed is None:
            self.listed = list(self.client.api.images(filters={"label": COMPONENT_LABEL}))
        return self.listed

    def remove(self, ref: str) -> str | None:
        import docker.errors

        self.listed = None
        try:
            self.client.api.remove_image(ref)
        except docker.errors.NotFound:
            return None
        except docker.errors.APIError as exc:
            return str(exc.explanation or exc)
        return None

    def close(self) -> None:
        self.client.close()


def listed_created(seconds: int) -> str:
    """``/images/json``'s ``Created`` (Unix seconds) → the form of :func:`sortable_created`:
    ``1795955105`` → ``2026-11-29T12:25:05.000000000``."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + ".000000000"


def sortable_created(value: str) -> str:
    """Docker's RFC 3339 ``Created`` (trailing zeros of the fraction trimmed) → a string that
    sorts by time: ``2026-11-29T12:25:05.5Z`` → ``2026-11-29T12:25:05.500000000``."""
    stamp = value.rstrip("Z")
    whole, _, fraction = stamp.partition(".")
    return f"{whole}.{fraction[:9].ljust(9, '0')}" if whole else ""


def docker_environment(endpoint: DockerEndpoint) -> dict[str, str]:
    """The environment docker-py reads: minikube's parsed docker-env, or the host's own.

    Never ``{}``: docker-py silently falls back to ``os.environ`` for an empty dict.
    """
    if endpoint.target == "host":
        return dict(os.environ)
    return dict(endpoint.environment)


@dataclass(frozen=True)
class HostEngine:
    """The host's Docker engine as the Docker CLI finds it: ``DOCKER_HOST``, else the CLI's
    context (``DOCKER_CONTEXT``, else ``currentContext`` in ``~/.docker/config.json``): Docker
    Desktop on Linux (``desktop-linux``), colima, OrbStack, rootless docker (``rootless``)
    each make one and make it current. ``base_url`` "" = the SDK's default socket."""

    base_url: str = ""
    context: str = ""  # the CLI context it came from ("" = DOCKER_HOST or the default)
    tls: Any = None  # the context's TLS material (docker.tls.TLSConfig), if any

    def describe(self) -> str:
        where = self.base_url or "local default socket"
        return f"{where} (docker context {self.context})" if self.context else where


def host_engine(environ: Mapping[str, str]) -> HostEngine:
    """Where the host's engine answers (reads the Docker CLI's config, never changes it).
    docker-py before 7.2 ignores the CLI's context, so the suite resolves it itself."""
    if environ.get("DOCKER_HOST"):
        return HostEngine(environ["DOCKER_HOST"])
    from docker.context import ContextAPI
    from docker.context.config import get_current_context_name

    name = environ.get("DOCKER_CONTEXT") or get_current_context_name() or "default"
    if name == "default":
        return HostEngine()
    try:
        ctx = ContextAPI.get_context(name)
    except Exception as exc:  # docker-py raises a bare Exception for a malformed meta.json
        raise PrereqError(f"cannot read docker context {name!r}: {exc}",
                          "docker context ls   # then: docker context use NAME") from None
    if ctx is None:
        source = ("DOCKER_CONTEXT" if environ.get("DOCKER_CONTEXT") else
                  "currentContext in ~/.docker/config.json")
        raise PrereqError(f"docker context {name!r} ({source}) does not exist",
                          "docker context ls   # then: docker context use NAME "
                          "(or: docker context use default)")
    return HostEngine(str(ctx.Host or ""), name, ctx.TLSConfig)


def ssh_transport(base_url: str) -> bool:
    """``use_ssh_client`` for an ``ssh://`` engine: docker-py's own transport needs paramiko
    (the SDK's ``ssh`` extra); without it the ``ssh`` client is used, as the Docker CLI does
    (``ssh HOST docker system dial-stdio``). Neither: refused with the fix."""
    if not base_url.startswith("ssh://"):
        return False
    if importlib.util.find_spec("paramiko") is not None:
        return False
    if shutil.which("ssh"):
        return True
    raise PrereqError(
        f"the Docker engine {base_url} is reached over ssh, and neither the ssh client nor "
        "paramiko is installed",
        "install the OpenSSH client (apt-get install openssh-client), or: "
        ".venv/bin/pip install 'docker[ssh]'")


def docker_client(endpoint: DockerEndpoint, timeout: float) -> Any:
    import docker.errors

    import docker

    try:
        if endpoint.target != "host":
            return docker.from_env(environment=docker_environment(endpoint),
                                   timeout=int(timeout))
        engine = host_engine(os.environ)
        shell_out = ssh_transport(engine.base_url)
        if not engine.context:  # DOCKER_HOST, or the default socket
            return docker.from_env(environment=docker_environment(endpoint),
                                   timeout=int(timeout), use_ssh_client=shell_out)
        return docker.DockerClient(base_url=engine.base_url or None, tls=engine.tls or False,
                                   timeout=int(timeout), use_ssh_client=shell_out)
    except docker.errors.DockerException as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if endpoint.target == "host":
            hint = "start Docker on this machine (or build in minikube: inv build)"
        else:
            hint = "minikube start   # then: inv build   (or: inv build --target host)"
        raise PrereqError(f"cannot reach the Docker daemon at {endpoint.host}: {reason}",
                          hint) from None
