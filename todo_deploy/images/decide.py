"""Decide, then act (as Skaffold's cache lookup does): what one image needs, from what the
target holds. Pure: no daemon, no files; :mod:`todo_deploy.images.stage` looks up and acts.

- :class:`Skip`: the digest tag exists and ``:latest`` already names the same image.
- :class:`Tag`: the digest tag exists, ``:latest`` does not name it (or the target cannot
  tell image IDs apart): point ``:latest`` at it, build nothing.
- :class:`Build`: the digest tag is missing, or ``--force``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .builder import ImageInfo


@dataclass(frozen=True)
class Found:
    """What the target holds for one build context (None = absent, or not looked up)."""

    tagged: ImageInfo | None  # repository:<digest12>
    latest: ImageInfo | None  # repository:latest


@dataclass(frozen=True)
class Skip:
    size: int  # bytes of the existing image (0 when unknown)


@dataclass(frozen=True)
class Tag:
    size: int


@dataclass(frozen=True)
class Build:
    reason: str  # "forced" | "missing"


Decision = Skip | Tag | Build


def decide(found: Found, *, force: bool) -> Decision:
    """The one thing to do for an image, given what the target holds."""
    if force:
        return Build("forced")
    tagged = found.tagged
    if tagged is None:
        return Build("missing")
    latest = found.latest
    if not tagged.image_id or latest is None or latest.image_id != tagged.image_id:
        return Tag(tagged.size)
    return Skip(tagged.size)
