"""What every builder offers the stage (the interface), its build log, and its failure.

Two builders implement it: :class:`~todo_deploy.images.daemon.DockerBuilder` (a Docker daemon
through docker-py) and :class:`~todo_deploy.images.minikube.MinikubeImageBuilder`
(``minikube image build`` for the containerd / cri-o runtimes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ..console import StepTracker
from ..errors import StageFailed
from .context import BuildContext

BUILD_TIMEOUT = 1800.0  # seconds one build step may stay silent
LOG_TAIL_LINES = 40


@dataclass(frozen=True)
class ImageInfo:
    image_id: str  # "" when the target cannot tell (minikube image ls)
    size: int  # bytes; 0 when unknown


@dataclass
class BuildLog:
    """Every line one build printed, for the failure tail and the log file."""

    lines: list[str] = field(default_factory=list)
    step: str = ""

    def tail(self, n: int = LOG_TAIL_LINES) -> str:
        return "\n".join(self.lines[-n:])


class Builder(Protocol):
    where: str

    def inspect(self, ref: str) -> ImageInfo | None:
        """``ref`` in the target, None when it does not exist."""

    def build(self, ctx: BuildContext, *, no_cache: bool, network: str | None,
              tracker: StepTracker, log: BuildLog) -> None: ...

    def tag_latest(self, ctx: BuildContext) -> None: ...

    def close(self) -> None: ...


def build_failed(ctx: BuildContext, log: BuildLog, reason: str) -> StageFailed:
    """The failure of one build: where it stopped, the reason's last line, the log tail."""
    where = f" at {log.step}" if log.step else ""
    return StageFailed(
        f"building {ctx.repository}{where} failed: {reason.strip().splitlines()[-1]}",
        f"fix the failing step, then: inv build --only {ctx.component}",
        details=log.tail())
