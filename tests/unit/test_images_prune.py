"""Old digest tags (issue 11, item 13): which tags a build removes, decided without a daemon.

The daemon side (creation times, untagging, a container holding an image, ``inv down
--purge``) runs against the real dockerd in tests/integration/test_images_prune_docker.py.
"""

from __future__ import annotations

import json

import pytest

from todo_deploy import images
from todo_deploy.config import Settings
from todo_deploy.errors import ConfigError
from todo_deploy.images.daemon import sortable_created

REPO = "todo-backend"


def tag(name: str, created: str) -> images.TagInfo:
    return images.TagInfo(REPO, name, f"sha256:{name}", sortable_created(created))


AGES = [tag(f"{n:012x}", f"2026-11-29T12:0{n}:00.5Z") for n in range(6)]  # oldest first


def test_past_the_newest_three_digest_tags_go_oldest_included() -> None:
    assert images.prune_plan(AGES, 3, set()) == [t.ref for t in reversed(AGES[:3])]


def test_protected_tags_stay_however_old() -> None:
    assert images.prune_plan(AGES, 3, {AGES[0].ref}) == [AGES[2].ref, AGES[1].ref]


def test_latest_and_hand_made_tags_are_never_pruned() -> None:
    others = [tag("latest", "2020-01-01T00:00:00Z"), tag("v1", "2020-01-01T00:00:00Z"),
              tag("ABCDEF012345", "2020-01-01T00:00:00Z")]
    assert images.prune_plan(others + AGES[:3], 1, set()) == [AGES[1].ref, AGES[0].ref]


def test_nothing_goes_while_there_are_no_more_than_keep() -> None:
    assert images.prune_plan(AGES[:3], 3, set()) == []


def test_creation_times_sort_by_time_although_docker_trims_trailing_zeros() -> None:
    """Docker prints RFC 3339 with the fraction's trailing zeros trimmed: as plain strings
    ``...05.5Z`` sorts after ``...05.51Z``."""
    earlier, later = "2026-11-29T12:25:05.5Z", "2026-11-29T12:25:05.51Z"
    assert sorted([later, earlier]) == [later, earlier]  # the trap
    assert sortable_created(earlier) < sortable_created(later)
    assert sortable_created("2026-11-29T12:25:05Z") < sortable_created(earlier)


def test_release_values_name_the_images_it_uses() -> None:
    values = json.dumps({"backend": {"image": {"repository": "todo-backend",
                                               "tag": "3f9a1c2b7d4e"}},
                         "frontend": {"image": {"repository": "todo-frontend",
                                                "tag": "77aa00bb11cc"}},
                         "postgresql": {"enabled": True}})
    assert images.parse_release_refs(values, ("backend", "frontend")) == {
        "todo-backend:3f9a1c2b7d4e", "todo-frontend:77aa00bb11cc"}
    assert images.parse_release_refs("null", ("backend",)) == set()


def test_build_keep_defaults_to_3_and_comes_from_yaml_env_or_flag() -> None:
    assert Settings.from_config({}).keep_tags == 3
    assert Settings.from_config({"build": {"keep": 5}}).keep_tags == 5
    assert Settings.from_config({"build": {"keep": 5}}, keep_tags="2").keep_tags == 2


@pytest.mark.parametrize("keep", [0, -1])
def test_build_keep_below_one_is_refused(keep: int) -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.from_config({"build": {"keep": keep}})
    assert "build.keep must be at least 1" in refused.value.message
