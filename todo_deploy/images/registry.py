"""The ``registry`` target: push ``REGISTRY/todo-<component>:<digest12>`` with the docker SDK,
ask the registry what it holds, and pin the deploy to the manifest digest.

- What the registry holds is asked of the registry (the daemon's distribution endpoint,
  ``GET /distribution/{ref}/json``, which queries the registry with the credentials of the
  docker config), never assumed from a local tag: a tag that is already there is not pushed
  again.
- The push streams docker's progress (per layer) to the console's step view.
- Credentials come from the docker config (``docker login``) through docker-py; they are never
  read, printed or put in argv by the suite.
- Deploys use ``repository@sha256:...`` (the manifest digest the registry reports), so a tag
  moved later cannot change what runs; ``pullPolicy: IfNotPresent``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..console import StepTracker
from ..errors import PrereqError, StageFailed
from .context import ImageRef

MISSING_WORDS = ("not found", "manifest unknown", "no such", "name unknown")


@dataclass(frozen=True)
class PushEvent:
    """One decoded event of ``docker push``'s JSON stream."""

    line: str = ""  # "5f70bf18a086: Pushed", "Pushing 12.3MB/45.6MB", ...
    digest: str = ""  # the manifest digest (aux.Digest), on the last event
    error: str = ""


def parse_push_event(event: Mapping[str, Any]) -> PushEvent:
    """Decode one event (pure): errors, the final ``aux`` digest, or a progress line."""
    if event.get("error") or event.get("errorDetail"):
        detail = event.get("errorDetail") or {}
        return PushEvent(error=str(event.get("error") or detail.get("message") or "push failed"))
    aux = event.get("aux")
    if isinstance(aux, dict) and aux.get("Digest"):
        return PushEvent(line=f"pushed {aux.get('Tag', '')}: {aux['Digest']}",
                         digest=str(aux["Digest"]))
    status = str(event.get("status") or "")
    layer = str(event.get("id") or "")
    progress = str(event.get("progress") or "")
    text = " ".join(part for part in (f"{layer}:" if layer else "", status, progress) if part)
    return PushEvent(line=text)


def registry_of(repository: str) -> str:
    """``127.0.0.1:5000/todo-backend`` → ``127.0.0.1:5000``."""
    return repository.split("/", 1)[0]


class Registry:
    """Asks and pushes through one Docker daemon's client (docker-py)."""

    def __init__(self, client: Any):
        self.client = client

    def digest(self, ref: str) -> str | None:
        """The manifest digest of ``ref`` (``repo:tag``) in its registry; None when the registry
        does not have it. Asked of the registry every time (no local cache)."""
        import docker.errors

        try:
            data = self.client.api.inspect_distribution(ref)
        except docker.errors.APIError as exc:
            text = str(exc.explanation or exc).lower()
            if exc.status_code == 404 or any(word in text for word in MISSING_WORDS):
                return None
            raise PrereqError(
                f"cannot ask registry {registry_of(ref)} about {ref}: "
                f"{str(exc.explanation or exc).splitlines()[0]}",
                f"docker login {registry_of(ref)}   # or check todo.registry.url") from None
        digest = str((data.get("Descriptor") or {}).get("digest") or "")
        return digest or None

    def push(self, ref: ImageRef, tracker: StepTracker) -> str:
        """Push ``ref``; return the manifest digest. Progress goes to ``tracker``."""
        import docker.errors

        digest = ""
        try:
            stream = self.client.api.push(ref.repository, tag=ref.tag, stream=True,
                                          decode=True)
            for raw in stream:
                event = parse_push_event(raw)
                if event.error:
                    raise StageFailed(
                        f"pushing {ref.ref} failed: {event.error}",
                        f"docker login {registry_of(ref.repository)}   # then: inv build")
                if event.line:
                    tracker.update(ref.component, line=event.line[:100])
                digest = event.digest or digest
        except docker.errors.APIError as exc:
            raise StageFailed(f"pushing {ref.ref} failed: {exc.explanation or exc}",
                              f"docker login {registry_of(ref.repository)}") from None
        return digest or self.digest(ref.ref) or ""
