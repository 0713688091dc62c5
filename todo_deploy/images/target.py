"""Where images are built: the builder for the configured target.

minikube's Docker daemon (``minikube docker-env``), the host's (``--target host``), or, when
minikube runs containerd or cri-o, ``minikube image build`` inside the node (the user is
told so). For kind, the runtime of the cluster's nodes is asked (:func:`kind_runtime`), as
minikube's is from its profile: ``kind load docker-image`` imports into containerd only.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from .. import cluster, doctor
from ..errors import PrereqError
from ..session import Session
from ..tools import NodeRuntime
from .builder import Builder
from .context import ImageRef
from .daemon import DockerBuilder, docker_client
from .minikube import NON_DOCKER_RUNTIMES, MinikubeImageBuilder
from .registry import Registry

KIND_LOADABLE_RUNTIMES = ("containerd",)  # `kind load docker-image` runs `ctr images import`


@contextmanager
def open_builder(s: Session) -> Iterator[Builder]:
    """The builder for the configured target; says so when it falls back to minikube's own."""
    settings = s.settings
    if settings.builds_on_host:
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
    """The refs the target does not have (deploy refuses and says ``inv build``): the
    registry's for the registry target (asked), else the build daemon's."""
    with open_builder(s) as builder:
        if s.settings.target == "registry":
            remote = Registry(getattr(builder, "client", None))
            return [ref for ref in refs if remote.digest(ref.ref) is None]
        return [ref for ref in refs if builder.inspect(ref.ref) is None]


def registry_digests(s: Session, refs: Sequence[ImageRef]) -> dict[str, str]:
    """{component: manifest digest} the registry reports for ``refs`` (the deploy pins them)."""
    with open_builder(s) as builder:
        remote = Registry(getattr(builder, "client", None))
        found = {ref.component: remote.digest(ref.ref) for ref in refs}
    missing = [ref.ref for ref in refs if not found[ref.component]]
    if missing:
        raise PrereqError("not in the registry: " + ", ".join(missing),
                          "inv build --target registry   # builds and pushes them")
    return {component: digest for component, digest in found.items() if digest}


def node_runtimes(s: Session) -> list[NodeRuntime]:
    """The runtimes of the run's cluster's nodes, asked once per invoke run."""
    return s.remember(("node-runtimes", s.tools.context), s.tools.kubectl.node_runtimes)


def kind_runtime(s: Session) -> str:
    """The runtime of the kind cluster's nodes (e.g. ``containerd 1.7.18``), for the build's
    header; a runtime ``kind load docker-image`` cannot load into stops the build before
    anything is built, with the way out."""
    context, cluster_name = s.tools.context, s.settings.kind_cluster
    runtimes = node_runtimes(s)
    if not runtimes:
        raise PrereqError(f"context {context} has no nodes to load images into",
                          f"kind get clusters   # is {cluster_name!r} there? "
                          f"(kind create cluster --name {cluster_name})")
    other = [r for r in runtimes if r.name not in KIND_LOADABLE_RUNTIMES]
    if other:
        raise PrereqError(
            f"node {other[0].node} of context {context} runs {other[0].describe()}: "
            "`kind load docker-image` can only load images into containerd (the runtime of "
            "kind's own kindest/node images); nothing was built",
            f"kind delete cluster --name {cluster_name} && kind create cluster --name "
            f"{cluster_name}   (a kindest/node image: containerd), or push to a registry the "
            "nodes pull from: inv up --target registry --registry HOST:PORT")
    return ", ".join(sorted({r.describe() for r in runtimes}))
