"""The registry target's talk with the Docker daemon: decoding ``docker push``'s JSON events,
asking the registry for a manifest digest (absent vs unreachable), and a push's progress and
failures.

``FakeApi`` stands in for docker-py's low-level ``APIClient`` (``client.api``): it answers
``inspect_distribution`` and ``push`` with the shapes Docker Engine API 1.41 returns
(``{"Descriptor": {"digest": ...}}``; push events ``{"status", "id", "progress"}``, the final
``{"aux": {"Tag", "Digest", "Size"}}``, errors ``{"error", "errorDetail": {"message"}}``)
and raises ``docker.errors.APIError`` as docker-py does for an HTTP error.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import docker.errors
import pytest
import requests

from todo_deploy.console import Console
from todo_deploy.errors import PrereqError, StageFailed
from todo_deploy.images.context import ImageRef
from todo_deploy.images.registry import PushEvent, Registry, parse_push_event, registry_of

DIGEST = "sha256:" + "ab" * 32
REF = ImageRef("backend", "127.0.0.1:5000/todo-backend", "0123456789ab")


def api_error(status: int | None, explanation: str) -> docker.errors.APIError:
    response = None
    if status is not None:
        response = requests.Response()
        response.status_code = status
    return docker.errors.APIError("error", response=response, explanation=explanation)


class FakeApi:
    def __init__(self, *, inspect: Any = None, events: list[dict[str, Any]] | None = None,
                 push_error: Exception | None = None):
        self.inspect = inspect
        self.events = events or []
        self.push_error = push_error
        self.asked: list[str] = []
        self.pushed: list[tuple[str, str]] = []

    def inspect_distribution(self, ref: str) -> dict[str, Any]:
        self.asked.append(ref)
        if isinstance(self.inspect, Exception):
            raise self.inspect
        return dict(self.inspect or {})

    def push(self, repository: str, *, tag: str, stream: bool,
             decode: bool) -> Iterator[dict[str, Any]]:
        assert stream and decode
        self.pushed.append((repository, tag))
        if self.push_error:
            raise self.push_error
        yield from self.events


class FakeClient:
    def __init__(self, api: FakeApi):
        self.api = api


class Tracker:
    """Records what the stage's step view is told."""

    def __init__(self) -> None:
        self.updates: list[tuple[str, str | None, str | None]] = []

    def update(self, name: str, *, step: str | None = None, line: str | None = None) -> None:
        self.updates.append((name, step, line))


# -- push events ---------------------------------------------------------------------------


def test_a_progress_event_is_its_layer_status_and_progress() -> None:
    assert parse_push_event({"status": "Pushing", "id": "5f70bf18a086",
                             "progress": "[=>  ] 12.3MB/45.6MB"}) == \
        PushEvent(line="5f70bf18a086: Pushing [=>  ] 12.3MB/45.6MB")
    assert parse_push_event({"status": "Pushed", "id": "5f70bf18a086"}) == \
        PushEvent(line="5f70bf18a086: Pushed")
    assert parse_push_event({"status": "The push refers to repository [x/y]"}) == \
        PushEvent(line="The push refers to repository [x/y]")
    assert parse_push_event({}) == PushEvent()


def test_the_last_event_carries_the_manifest_digest() -> None:
    assert parse_push_event({"aux": {"Tag": "0123456789ab", "Digest": DIGEST, "Size": 1}}) == \
        PushEvent(line=f"pushed 0123456789ab: {DIGEST}", digest=DIGEST)
    assert parse_push_event({"aux": {"Digest": DIGEST}}).line == f"pushed : {DIGEST}"
    # an aux without a digest (e.g. a progress detail) is a progress line
    assert parse_push_event({"aux": {"Tag": "x"}, "status": "s"}) == PushEvent(line="s")


def test_an_error_event_says_why_from_error_or_its_detail() -> None:
    assert parse_push_event({"error": "denied", "errorDetail": {"message": "other"}}) == \
        PushEvent(error="denied")
    assert parse_push_event({"errorDetail": {"message": "unauthorized"}}) == \
        PushEvent(error="unauthorized")
    assert parse_push_event({"errorDetail": {"code": 1}, "status": "x"}) == \
        PushEvent(error="push failed")
    assert parse_push_event({"errorDetail": {}, "status": "x"}) == PushEvent(line="x")


def test_the_registry_of_a_repository_is_its_first_path_part() -> None:
    assert registry_of("127.0.0.1:5000/todo-backend") == "127.0.0.1:5000"
    assert registry_of("reg.example/team/todo-backend") == "reg.example"


# -- asking the registry -------------------------------------------------------------------


def test_the_digest_is_the_descriptors() -> None:
    api = FakeApi(inspect={"Descriptor": {"digest": DIGEST, "size": 1}})
    assert Registry(FakeClient(api)).digest(REF.ref) == DIGEST
    assert api.asked == [REF.ref]
    assert Registry(FakeClient(FakeApi(inspect={"Descriptor": {}}))).digest(REF.ref) is None
    assert Registry(FakeClient(FakeApi(inspect={}))).digest(REF.ref) is None


@pytest.mark.parametrize(("status", "explanation"), [
    (404, "anything"),
    (500, "manifest unknown: manifest unknown"),
    (None, "Not Found"),
    (500, "no such image"),
    (401, "name unknown: repository name not known to registry"),
])
def test_an_image_the_registry_does_not_have_has_no_digest(status: int | None,
                                                           explanation: str) -> None:
    api = FakeApi(inspect=api_error(status, explanation))
    assert Registry(FakeClient(api)).digest(REF.ref) is None


def test_a_registry_that_cannot_be_asked_says_so_and_how_to_log_in() -> None:
    api = FakeApi(inspect=api_error(500, "Get https://127.0.0.1:5000/v2/: connection refused\n"
                                         "second line"))
    with pytest.raises(PrereqError) as err:
        Registry(FakeClient(api)).digest(REF.ref)
    assert err.value.message == (
        f"cannot ask registry 127.0.0.1:5000 about {REF.ref}: "
        "Get https://127.0.0.1:5000/v2/: connection refused")
    assert err.value.hint == "docker login 127.0.0.1:5000   # or check todo.registry.url"


# -- pushing -------------------------------------------------------------------------------


def test_a_push_shows_its_progress_and_returns_the_final_digest() -> None:
    long_status = "x" * 150
    api = FakeApi(events=[
        {"status": "The push refers to repository [127.0.0.1:5000/todo-backend]"},
        {"status": "Pushing", "id": "5f70", "progress": "1MB/2MB"},
        {"status": long_status},
        {"progressDetail": {}},  # nothing to show
        {"aux": {"Tag": "0123456789ab", "Digest": DIGEST, "Size": 529}},
        {"status": "done"},  # a later event without a digest keeps it
    ])
    tracker = Tracker()
    assert Registry(FakeClient(api)).push(REF, tracker) == DIGEST  # type: ignore[arg-type]
    assert api.pushed == [("127.0.0.1:5000/todo-backend", "0123456789ab")]
    assert api.asked == []  # the stream told the digest: the registry is not asked again
    assert tracker.updates == [
        ("backend", None, "The push refers to repository [127.0.0.1:5000/todo-backend]"),
        ("backend", None, "5f70: Pushing 1MB/2MB"),
        ("backend", None, "x" * 100),
        ("backend", None, f"pushed 0123456789ab: {DIGEST}"),
        ("backend", None, "done"),
    ]


def test_a_push_whose_stream_has_no_digest_asks_the_registry() -> None:
    api = FakeApi(events=[{"status": "Pushed", "id": "5f70"}],
                  inspect={"Descriptor": {"digest": DIGEST}})
    assert Registry(FakeClient(api)).push(REF, Tracker()) == DIGEST  # type: ignore[arg-type]
    assert api.asked == [REF.ref]
    nothing = FakeApi(events=[], inspect={})
    assert Registry(FakeClient(nothing)).push(REF, Tracker()) == ""  # type: ignore[arg-type]


def test_an_error_event_fails_the_push_and_says_to_log_in() -> None:
    api = FakeApi(events=[{"status": "Preparing", "id": "5f70"},
                          {"error": "unauthorized: authentication required"},
                          {"status": "never read"}])
    tracker = Tracker()
    with pytest.raises(StageFailed) as err:
        Registry(FakeClient(api)).push(REF, tracker)  # type: ignore[arg-type]
    assert err.value.message == (f"pushing {REF.ref} failed: "
                                 "unauthorized: authentication required")
    assert err.value.hint == "docker login 127.0.0.1:5000   # then: inv build"
    assert tracker.updates == [("backend", None, "5f70: Preparing")]


def test_a_daemon_error_fails_the_push_with_its_explanation() -> None:
    api = FakeApi(push_error=api_error(500, "repository does not exist"))
    with pytest.raises(StageFailed) as err:
        Registry(FakeClient(api)).push(REF, Tracker())  # type: ignore[arg-type]
    assert err.value.message == f"pushing {REF.ref} failed: repository does not exist"
    assert err.value.hint == "docker login 127.0.0.1:5000"


def test_the_console_step_view_takes_push_lines() -> None:
    """The real StepTracker accepts what a push sends it (name and line only)."""
    console = Console(no_color=True, file=io.StringIO(), err_file=io.StringIO())
    with console.tracker(["backend"]) as tracker:
        api = FakeApi(events=[{"aux": {"Tag": "t", "Digest": DIGEST}}])
        assert Registry(FakeClient(api)).push(REF, tracker) == DIGEST
