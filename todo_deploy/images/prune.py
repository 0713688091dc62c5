"""Old digest tags: keep the newest ``build.keep`` per image (default 3), remove the rest.

Every edit leaves a ``todo-<component>:<digest12>`` behind; after a successful ``inv build``
the stage prunes them, decide-then-act like the build itself:

- :func:`prune_plan` (pure): of an image's digest tags, newest first by the image's creation
  time, everything past the newest ``keep`` that is not protected.
- Protected: the tag this build produced (or skipped to) and the tags the installed release
  uses (``helm get values``), so neither the running revision nor a just-built image goes,
  whatever its age. ``:latest`` and tags of other shapes are never touched.
- When the release cannot be read (no cluster, no helm), nothing is pruned: the user is told
  why, and the next build tries again.
- Removal untags (``docker rmi repo:tag`` without force): an image a container still uses is
  kept and reported, the layers of an untagged image are freed.

Only a Docker daemon tells each image's age (minikube's docker runtime, or ``--target
host``); with ``minikube image build`` (containerd, cri-o) nothing is pruned and
``inv down --purge`` is the way to clear them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from .. import proc
from ..errors import SuiteError
from ..session import Session
from ..tools import is_not_found
from .builder import Builder, TagInfo
from .context import TAG_LENGTH, BuildContext

DIGEST_TAG = re.compile(rf"^[0-9a-f]{{{TAG_LENGTH}}}$")


@dataclass(frozen=True)
class Pruned:
    removed: tuple[str, ...]
    refused: tuple[tuple[str, str], ...]  # (ref, why the daemon kept it), e.g. in use
    kept: int  # digest tags left


def prune_plan(tags: Sequence[TagInfo], keep: int, protected: Collection[str]) -> list[str]:
    """The refs to remove (pure): digest tags past the newest ``keep``, never ``protected``
    ones, never ``:latest`` or other tags. Equal times keep the input order."""
    newest_first = sorted(digest_tags(tags), key=lambda t: t.created, reverse=True)
    return [t.ref for t in newest_first[max(keep, 0):] if t.ref not in protected]


def release_tags_argv(release: str, namespace: str) -> list[str]:
    return ["helm", "get", "values", release, "--namespace", namespace, "--output", "json"]


def parse_release_refs(stdout: str, components: Sequence[str]) -> set[str]:
    """``helm get values -o json`` (the user-supplied values: the suite's ``--set``) →
    ``repository:tag`` of each component's image."""
    try:
        data = json.loads(stdout or "{}")
    except json.JSONDecodeError:
        return set()
    refs = set()
    for component in components:
        image = ((data or {}).get(component) or {}).get("image") or {}
        if image.get("repository") and image.get("tag"):
            refs.add(f"{image['repository']}:{image['tag']}")
    return refs


def release_refs(s: Session) -> set[str] | None:
    """The images the installed release uses; empty when there is no release, None when
    that cannot be told (then nothing may be pruned)."""
    settings = s.settings
    try:
        result = s.tools.helm.run(*release_tags_argv(settings.release, settings.namespace)[1:],
                                  check=False)
    except SuiteError as exc:
        s.console.info(f"old image tags kept: cannot read release {settings.release} "
                       f"({exc.message})")
        return None
    if result.ok:
        return parse_release_refs(result.stdout, tuple(settings.images))
    if is_not_found("helm", result.stderr):
        return set()
    why = proc.tail(result.stderr, 1) or f"helm exited {result.code}"
    s.console.info(f"old image tags kept: cannot tell which images release "
                   f"{settings.release} uses ({why})")
    return None


def prune_old_tags(s: Session, builder: Builder, contexts: Sequence[BuildContext]) -> Pruned:
    """After a successful build: remove each built image's digest tags past the newest
    ``build.keep``, never this build's nor the release's. The release is asked only when
    there is something to remove."""
    keep = s.settings.keep_tags
    listed = {ctx.repository: builder.tags(ctx.repository) for ctx in contexts}
    candidates = {repo: prune_plan(tags, keep, {ctx.ref.ref for ctx in contexts})
                  for repo, tags in listed.items()}
    if not any(candidates.values()):
        return Pruned((), (), sum(len(digest_tags(t)) for t in listed.values()))
    in_release = release_refs(s)
    if in_release is None:
        return Pruned((), (), sum(len(digest_tags(t)) for t in listed.values()))
    protected = {ctx.ref.ref for ctx in contexts} | in_release
    removed: list[str] = []
    refused: list[tuple[str, str]] = []
    for tags in listed.values():
        for ref in prune_plan(tags, keep, protected):
            problem = builder.remove(ref)
            if problem:
                refused.append((ref, problem))
            else:
                removed.append(ref)
    left = sum(len(digest_tags(t)) for t in listed.values()) - len(removed)
    return Pruned(tuple(removed), tuple(refused), left)


def report(s: Session, pruned: Pruned) -> None:
    """One line after the build table when old tags went (or had to stay)."""
    keep = s.settings.keep_tags
    if pruned.removed:
        s.console.info(f"removed {len(pruned.removed)} old image tag(s), keeping the newest "
                       f"{keep} per image (build.keep): {', '.join(pruned.removed)}")
    for ref, why in pruned.refused:  # e.g. a stopped container still uses it
        s.console.info(f"kept {ref}: {proc.tail(why, 1)} (a later build tries again)")


def digest_tags(tags: Sequence[TagInfo]) -> list[TagInfo]:
    """The ``<digest12>`` tags among ``tags`` (not ``:latest``, not hand-made ones)."""
    return [t for t in tags if DIGEST_TAG.match(t.tag)]
