"""`inv build`: for each selected image, prepare its context, look up what the target holds,
decide (:func:`~todo_deploy.images.decide.decide`), then act: skip, tag ``:latest``, or build;
record the state for ``inv deploy``, print the table.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from .. import keptfile
from ..console import StepTracker, human_size
from ..errors import ConfigError, StageFailed
from ..session import Session
from . import prune, target
from .builder import Builder, BuildLog
from .context import (
    COMPONENTS,
    LATEST,
    BuildContext,
    effective_args,
    parse_build_args,
    prepare,
)
from .decide import Build, Found, Skip, Tag, decide
from .registry import Registry, registry_of
from .state import save_state


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
    shipped: str = ""  # registry / kind: "pushed", "in registry", "loaded into kind"
    remote_digest: str = ""  # registry: the manifest digest the registry reports

    @property
    def ref(self) -> str:
        return f"{self.repository}:{self.tag}"

    @property
    def result(self) -> str:
        done = "built" if self.built else "skipped"
        return f"{done}, {self.shipped}" if self.shipped else done


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
    # kind: the nodes' runtime first (asked once per run); one kind cannot load into stops
    # the build before anything is built
    ships = (f", then kind load docker-image into cluster {s.settings.kind_cluster} "
             f"({target.kind_runtime(s)})" if s.settings.target == "kind" else "")
    with target.open_builder(s) as builder:
        # a build asks no cluster (kind's runtime, prune's release lookup resolve it when
        # needed): the context is named when the run already knows it, never asked just for it
        context = s.known_context()
        s.console.heading(f"Build images in {builder.where}{ships}"
                          + (f"; context {context}" if context else ""))
        with s.console.tracker([ctx.component for ctx in contexts]) as tracker:
            for ctx in contexts:
                built = build_one(s, builder, ctx, force=force, no_cache=no_cache,
                                  network=network, tracker=tracker)
                save_state(s.settings, [ctx])  # recorded as soon as the image exists
                if s.settings.target == "registry":
                    built = publish(builder, ctx, built, tracker)
                results.append(built)
        if s.settings.target == "kind":
            results = load_into_kind(s, results)
        pruned = prune.prune_old_tags(s, builder, contexts)
    s.console.table("images", ("image", "tag", "size", "time", "result"),
                    [(r.repository, r.tag, human_size(r.size) if r.size else "-",
                      f"{r.seconds:.1f}s", r.result) for r in results])
    prune.report(s, pruned)
    return results


def publish(builder: Builder, ctx: BuildContext, built: BuiltImage,
            tracker: StepTracker) -> BuiltImage:
    """The registry target: push the digest tag unless the registry already has it (asked,
    not assumed)."""
    remote = Registry(getattr(builder, "client", None))
    ref = ctx.ref
    tracker.update(ctx.component, step=f"asking {registry_of(ref.repository)} for {ref.ref}")
    found = remote.digest(ref.ref)
    if found:
        tracker.finish(ctx.component, f"in registry already: {ref.ref}")
        return replace(built, shipped="in registry", remote_digest=found)
    tracker.update(ctx.component, step=f"pushing {ref.ref}")
    digest = remote.push(ref, tracker)
    tracker.finish(ctx.component, f"pushed {ref.ref} ({digest[:19]})")
    return replace(built, shipped="pushed", remote_digest=digest)


def load_into_kind(s: Session, results: list[BuiltImage]) -> list[BuiltImage]:
    """The kind target: ``kind load docker-image`` the digest tags into the cluster's nodes
    (containerd, checked by :func:`target.kind_runtime` before the build); kind itself skips
    an image its nodes already have."""
    kind = s.kind
    refs = [r.ref for r in results]
    with s.console.status(f"kind load docker-image {' '.join(refs)} --name {kind.cluster}"):
        kind.load(refs)
    return [replace(r, shipped=f"loaded into kind {kind.cluster}") for r in results]


def lookup(builder: Builder, ctx: BuildContext, *, force: bool) -> Found:
    """What the target holds for ``ctx`` (nothing is asked when the build is forced, and
    ``:latest`` only when the digest tag exists)."""
    if force:
        return Found(None, None)
    tagged = builder.inspect(ctx.ref.ref)
    if tagged is None:
        return Found(None, None)
    return Found(tagged, builder.inspect(f"{ctx.repository}:{LATEST}"))


def build_one(s: Session, builder: Builder, ctx: BuildContext, *, force: bool,
              no_cache: bool, network: str | None, tracker: StepTracker) -> BuiltImage:
    """Look up, decide, act for one image."""
    started = time.monotonic()
    ref = ctx.ref.ref
    decision = decide(lookup(builder, ctx, force=force), force=force)
    if isinstance(decision, Skip | Tag):
        if isinstance(decision, Tag):
            builder.tag_latest(ctx)
        tracker.finish(ctx.component, f"skipped: {ref} already exists")
        return BuiltImage(ctx.component, ctx.repository, ctx.tag, ctx.digest, decision.size,
                          time.monotonic() - started, built=False)
    assert isinstance(decision, Build)
    log = BuildLog()
    log_file = s.settings.state_dir / f"build-{ctx.component}.log"
    try:
        builder.build(ctx, no_cache=no_cache, network=network, tracker=tracker, log=log)
    except StageFailed as exc:
        tracker.finish(ctx.component, "FAILED")
        if write_log(log_file, log):
            exc.hint = f"{exc.hint}\nfull log: {log_file}"
        raise
    except KeyboardInterrupt:
        tracker.finish(ctx.component, "interrupted")
        builder.close()  # dropping the connection makes the daemon cancel the build
        raise
    write_log(log_file, log)
    builder.tag_latest(ctx)
    tracker.finish(ctx.component, f"built {ref}")
    info = builder.inspect(ref)
    return BuiltImage(ctx.component, ctx.repository, ctx.tag, ctx.digest,
                      info.size if info else 0, time.monotonic() - started, built=True)


def write_log(path: Path, log: BuildLog) -> bool:
    return keptfile.write_atomic(path, "\n".join(log.lines) + "\n")
