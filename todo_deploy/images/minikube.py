"""Builds inside the minikube node when it runs containerd or cri-o (no Docker daemon to
lend): ``minikube image build``, ``image ls``, ``image tag``.
"""

from __future__ import annotations

import tarfile
import tempfile
from collections.abc import Iterable

from .. import proc
from ..console import StepTracker
from ..session import Session
from .builder import BUILD_TIMEOUT, BuildLog, ImageInfo, TagInfo, build_failed
from .context import DOCKERFILE_IN_CONTEXT, LATEST, BuildContext, context_tar

NON_DOCKER_RUNTIMES = ("containerd", "cri-o", "crio")


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
            self._listed = self.s.minikube.images()
        return self._listed

    def inspect(self, ref: str) -> ImageInfo | None:
        return ImageInfo("", 0) if ref in self._images() else None

    def build(self, ctx: BuildContext, *, no_cache: bool, network: str | None,
              tracker: StepTracker, log: BuildLog) -> None:
        with tempfile.TemporaryDirectory(prefix="todo-build-") as tmp:
            with context_tar(ctx) as fileobj, tarfile.open(fileobj=fileobj) as tar:
                # extraction filters arrived in 3.11.4; our own tar is trusted before that
                if hasattr(tarfile, "tar_filter"):
                    tar.extractall(tmp, filter="tar")
                else:  # pragma: no cover - Python 3.11.0-3.11.3
                    tar.extractall(tmp)
            argv = self.s.minikube.argv("image", "build", "-t", ctx.ref.ref,
                                              "-f", DOCKERFILE_IN_CONTEXT)
            argv += minikube_build_opts(self.runtime, ctx.build_args, no_cache=no_cache)
            argv.append(tmp)
            tracker.update(ctx.component, step="minikube image build")
            result = proc.run(self.s.c, argv, check=False, timeout=BUILD_TIMEOUT)
        for line in (result.stdout + result.stderr).splitlines():
            log.lines.append(line)
            tracker.update(ctx.component, line=line)
        if not result.ok:
            raise build_failed(ctx, log, f"`minikube image build` exited {result.code}")
        self._listed = None
        if self.inspect(ctx.ref.ref) is None:  # minikube exits 0 on a failed build
            raise build_failed(ctx, log, f"`minikube image build` exited 0 but {ctx.ref.ref} "
                                         "is not in `minikube image ls`")

    def tag_latest(self, ctx: BuildContext) -> None:
        self.s.minikube.run("image", "tag", ctx.ref.ref, f"{ctx.repository}:{LATEST}")

    def tags(self, repository: str) -> list[TagInfo]:
        """``minikube image ls`` tells no image's age: nothing is pruned here."""
        return []

    def remove(self, ref: str) -> str | None:
        self.s.minikube.run("image", "rm", ref)
        return None

    def close(self) -> None:
        return None
