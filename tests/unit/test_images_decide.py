"""`inv build`'s decision for one image (pure), and the look-up that feeds it.

decide() sees only what the target holds (the digest tag, ``:latest``) and ``--force``; the
look-up is exercised with a recording builder that knows a set of images, so the test can
say which questions it asked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import tiny_build_context
from todo_deploy import images
from todo_deploy.images.decide import Build, Found, Skip, Tag, decide

IMAGE = images.ImageInfo("sha256:" + "a" * 64, 52_000_000)
OTHER = images.ImageInfo("sha256:" + "b" * 64, 51_000_000)


def test_a_missing_digest_tag_is_built() -> None:
    assert decide(Found(None, None), force=False) == Build("missing")


def test_force_builds_even_when_the_digest_tag_exists() -> None:
    assert decide(Found(IMAGE, IMAGE), force=True) == Build("forced")


def test_an_existing_tag_that_latest_names_is_skipped_with_its_size() -> None:
    assert decide(Found(IMAGE, IMAGE), force=False) == Skip(IMAGE.size)


def test_latest_pointing_elsewhere_is_retagged_not_rebuilt() -> None:
    assert decide(Found(IMAGE, OTHER), force=False) == Tag(IMAGE.size)


def test_a_missing_latest_is_retagged() -> None:
    assert decide(Found(IMAGE, None), force=False) == Tag(IMAGE.size)


def test_a_target_that_cannot_tell_image_ids_always_retags_latest() -> None:
    """`minikube image ls` gives names only: ``:latest`` may name another build."""
    unknown = images.ImageInfo("", 0)
    assert decide(Found(unknown, unknown), force=False) == Tag(0)


class Recording:
    """A builder that holds ``present`` refs and records each inspect."""

    where = "recording"

    def __init__(self, present: dict[str, images.ImageInfo]):
        self.present = present
        self.asked: list[str] = []

    def inspect(self, ref: str) -> images.ImageInfo | None:
        self.asked.append(ref)
        return self.present.get(ref)

    def build(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("lookup never builds")

    def tag_latest(self, ctx: Any) -> None:
        raise AssertionError("lookup never tags")

    def close(self) -> None:
        return None


def context(tmp_path: Path) -> images.BuildContext:
    built: images.BuildContext = tiny_build_context(tmp_path)
    return built


def test_lookup_asks_for_latest_only_when_the_digest_tag_exists(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    absent = Recording({})
    assert images.lookup(absent, ctx, force=False) == Found(None, None)
    assert absent.asked == [ctx.ref.ref]
    present = Recording({ctx.ref.ref: IMAGE, "todo-backend:latest": OTHER})
    assert images.lookup(present, ctx, force=False) == Found(IMAGE, OTHER)
    assert present.asked == [ctx.ref.ref, "todo-backend:latest"]


def test_a_forced_build_asks_the_target_nothing(tmp_path: Path) -> None:
    builder = Recording({})
    assert images.lookup(builder, context(tmp_path), force=True) == Found(None, None)
    assert builder.asked == []
