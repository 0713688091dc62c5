"""Builds in a Docker daemon (todo_deploy.images.daemon.DockerBuilder) without a daemon: what
reaches docker-py (``--no-cache``, the network, the labels, the build args), how the classic
builder's JSON stream becomes the build log and the step view, each way a build fails, the
suite's tags, untagging, and an unreachable daemon.

``FakeApi`` stands in for docker-py's low-level ``APIClient`` (``client.api``) and replays
Docker Engine API 1.41's shapes: ``/build``'s stream (``{"stream": "Step 1/2 : FROM ..."}``,
``{"aux": {"ID": ...}}``, ``{"error", "errorDetail"}``), ``/images/json`` entries
(``Id``, ``RepoTags``, ``Created`` in whole Unix seconds), ``/images/{name}/json`` (``Id``,
``Size``, ``Created`` with nanoseconds) and docker-py's exceptions (``ImageNotFound``,
``NotFound``, ``APIError``).
"""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Any

import docker.errors
import pytest

import docker
from tests.conftest import tiny_build_context
from todo_deploy import images
from todo_deploy.cluster import DockerEndpoint
from todo_deploy.errors import PrereqError, StageFailed
from todo_deploy.images.builder import BuildLog, ImageInfo, TagInfo, build_failed
from todo_deploy.images.daemon import DockerBuilder, docker_client

DOCKERFILE = "ARG BASE_IMAGE=python:3.11-slim\nFROM ${BASE_IMAGE}\nCOPY main.txt /\n"


class FakeApi:
    def __init__(self, *, stream: list[dict[str, Any]] | None = None,
                 build_error: Exception | None = None,
                 inspect: dict[str, Any] | None = None,
                 listed: list[dict[str, Any]] | None = None,
                 remove_error: Exception | None = None):
        self.stream = stream or []
        self.build_error = build_error
        self.inspected = inspect or {}
        self.listed = listed or []
        self.remove_error = remove_error
        self.builds: list[dict[str, Any]] = []
        self.context_names: list[str] = []
        self.tagged: list[tuple[Any, ...]] = []
        self.listing_asked: list[tuple[str, dict[str, str]]] = []
        self.removed: list[str] = []
        self.inspected_asked: list[str] = []
        self.closed = False

    def inspect_image(self, ref: str) -> dict[str, Any]:
        self.inspected_asked.append(ref)
        if ref not in self.inspected:
            raise docker.errors.ImageNotFound(f"No such image: {ref}")
        return self.inspected[ref]

    def build(self, **kwargs: Any) -> Any:
        with tarfile.open(fileobj=kwargs.pop("fileobj")) as tar:
            self.context_names = sorted(tar.getnames())
        self.builds.append(kwargs)
        if self.build_error:
            raise self.build_error
        return iter(self.stream)

    def tag(self, *args: Any, **kwargs: Any) -> bool:
        self.tagged.append((*args, kwargs))
        return True

    def images(self, *, filters: dict[str, str]) -> list[dict[str, Any]]:
        self.listing_asked.append(filters)
        return self.listed

    def remove_image(self, ref: str) -> None:
        self.removed.append(ref)
        if self.remove_error:
            raise self.remove_error


class FakeClient:
    def __init__(self, api: FakeApi):
        self.api = api
        self.closed = False

    def close(self) -> None:
        self.closed = True


class Tracker:
    def __init__(self) -> None:
        self.updates: list[tuple[str, str | None, str | None]] = []

    def update(self, name: str, *, step: str | None = None, line: str | None = None) -> None:
        self.updates.append((name, step, line))


@pytest.fixture
def ctx(tmp_path: Path) -> images.BuildContext:
    built: images.BuildContext = tiny_build_context(
        tmp_path, files={"main.txt": "v1\n"}, dockerfile=DOCKERFILE,
        args={"BASE_IMAGE": "standin/python:3.11"})
    return built


def build(api: FakeApi, ctx: images.BuildContext, *, no_cache: bool = False,
          network: str | None = None) -> tuple[BuildLog, Tracker]:
    log, tracker = BuildLog(), Tracker()
    DockerBuilder(FakeClient(api), "here").build(ctx, no_cache=no_cache, network=network,
                                                 tracker=tracker, log=log)  # type: ignore[arg-type]
    return log, tracker


OK_STREAM = [
    {"stream": "Step 1/2 : FROM standin/python:3.11\n"},
    {"stream": " ---> 0123456789ab\n"},
    {"stream": "Step 2/2 : COPY main.txt /\n"},
    {"stream": " ---> Running in 9f\n\n  \n"},
    {"aux": {"ID": "sha256:feedbeef"}},
    {"stream": "Successfully built feedbeef\n"},
]


def test_a_build_sends_the_filtered_context_tag_args_and_labels(
        ctx: images.BuildContext) -> None:
    api = FakeApi(stream=OK_STREAM)
    build(api, ctx)
    (sent,) = api.builds
    assert sent == {
        "custom_context": True, "dockerfile": images.DOCKERFILE_IN_CONTEXT,
        "tag": ctx.ref.ref, "buildargs": {"BASE_IMAGE": "standin/python:3.11"},
        "nocache": False, "rm": True, "forcerm": True, "network_mode": None, "decode": True,
        "timeout": 1800.0,
        "labels": {"todo-app.dev/component": "backend",
                   "todo-app.dev/content-digest": ctx.digest}}
    assert images.DOCKERFILE_IN_CONTEXT in api.context_names and "main.txt" in api.context_names


def test_no_cache_and_the_network_reach_the_builder(ctx: images.BuildContext) -> None:
    api = FakeApi(stream=OK_STREAM)
    build(api, ctx, no_cache=True, network="host")
    assert (api.builds[0]["nocache"], api.builds[0]["network_mode"]) == (True, "host")
    build(api, ctx, network="")
    assert api.builds[1]["network_mode"] is None


def test_the_stream_becomes_the_log_and_the_step_view(ctx: images.BuildContext) -> None:
    log, tracker = build(FakeApi(stream=OK_STREAM), ctx)
    assert log.lines == ["Step 1/2 : FROM standin/python:3.11", " ---> 0123456789ab",
                         "Step 2/2 : COPY main.txt /", " ---> Running in 9f",
                         "Successfully built feedbeef"]
    assert log.step == "step 2/2: COPY main.txt /"
    assert tracker.updates == [
        ("backend", "step 1/2: FROM standin/python:3.11", None),
        ("backend", None, " ---> 0123456789ab"),
        ("backend", "step 2/2: COPY main.txt /", None),
        ("backend", None, " ---> Running in 9f"),
        ("backend", None, "Successfully built feedbeef"),
    ]


def test_a_long_step_is_cut_to_a_hundred_characters_in_the_view(
        ctx: images.BuildContext) -> None:
    run = "RUN " + "x" * 200
    _, tracker = build(FakeApi(stream=[{"stream": f"Step 1/1 : {run}\n"},
                                       {"aux": {"ID": "sha256:1"}}]), ctx)
    assert tracker.updates[0][1] == f"step 1/1: {run}"[:100]


def test_an_error_event_fails_the_build_at_its_step_with_the_log_tail(
        ctx: images.BuildContext) -> None:
    api = FakeApi(stream=[
        {"stream": "Step 1/2 : FROM standin/python:3.11\n"},
        {"stream": "Step 2/2 : RUN false\n"},
        {"error": "The command '/bin/sh -c false' returned a non-zero code: 1",
         "errorDetail": {"code": 1}},
        {"stream": "never read\n"},
    ])
    with pytest.raises(StageFailed) as err:
        build(api, ctx)
    assert err.value.message == ("building todo-backend at step 2/2: RUN false failed: "
                                 "The command '/bin/sh -c false' returned a non-zero code: 1")
    assert err.value.hint == "fix the failing step, then: inv build --only backend"
    assert err.value.details == ("Step 1/2 : FROM standin/python:3.11\nStep 2/2 : RUN false\n"
                                 "The command '/bin/sh -c false' returned a non-zero code: 1")


def test_a_daemon_error_fails_the_build_with_its_explanation(ctx: images.BuildContext) -> None:
    api = FakeApi(build_error=docker.errors.APIError("500", explanation="no space left"))
    with pytest.raises(StageFailed) as err:
        build(api, ctx)
    assert err.value.message == "building todo-backend failed: no space left"
    assert err.value.details == "no space left"


def test_a_stream_without_an_image_id_is_a_failed_build(ctx: images.BuildContext) -> None:
    with pytest.raises(StageFailed) as err:
        build(FakeApi(stream=[{"stream": "Step 1/1 : FROM scratch\n"}]), ctx)
    assert err.value.message == ("building todo-backend at step 1/1: FROM scratch failed: "
                                 "the daemon reported no image ID")


def test_the_build_log_tail_is_its_last_forty_lines() -> None:
    log = BuildLog([f"l{n}" for n in range(41)])
    assert log.tail() == "\n".join(f"l{n}" for n in range(1, 41))
    assert BuildLog([f"l{n}" for n in range(40)]).tail() == \
        "\n".join(f"l{n}" for n in range(40))
    assert log.tail(2) == "l39\nl40"


def test_a_build_failure_without_a_step_or_reason_lines_names_the_last_line(
        ctx: images.BuildContext) -> None:
    err = build_failed(ctx, BuildLog(["a"]), "first\nlast\n")
    assert err.message == "building todo-backend failed: last"
    assert err.details == "a"


def test_inspect_reports_id_and_size_or_none() -> None:
    api = FakeApi(inspect={"todo-backend:1": {"Id": "sha256:1", "Size": 1234},
                           "todo-backend:2": {}})
    builder = DockerBuilder(FakeClient(api), "here")
    assert builder.inspect("todo-backend:1") == ImageInfo("sha256:1", 1234)
    assert builder.inspect("todo-backend:2") == ImageInfo("", 0)
    assert builder.inspect("todo-backend:3") is None


def test_latest_is_moved_onto_the_new_image() -> None:
    api = FakeApi()
    ctx = images.ImageRef("backend", "todo-backend", "0123456789ab")

    class Ctx:
        repository = "todo-backend"
        ref = ctx

    DockerBuilder(FakeClient(api), "here").tag_latest(Ctx())  # type: ignore[arg-type]
    assert api.tagged == [("todo-backend:0123456789ab", "todo-backend", "latest",
                           {"force": True})]


def test_tags_are_the_suites_images_of_that_repository_with_their_age() -> None:
    api = FakeApi(
        listed=[
            {"Id": "sha256:a", "Created": 1795955105,
             "RepoTags": ["todo-backend:aaa", "todo-backend:latest", "other/todo-backend:x",
                          "todo-backend-2:y"]},
            {"Id": "sha256:b", "Created": 1795955105, "RepoTags": ["elsewhere:1"]},
            {"Id": "sha256:c", "RepoTags": None},
        ])
    tags = DockerBuilder(FakeClient(api), "here").tags("todo-backend")
    assert api.listing_asked == [{"label": "todo-app.dev/component"}]
    created = "2026-11-29T12:25:05.000000000"  # the listing's whole second: nothing inspected
    assert api.inspected_asked == []
    assert tags == [TagInfo("todo-backend", "aaa", "sha256:a", created),
                    TagInfo("todo-backend", "latest", "sha256:a", created)]
    assert tags[0].ref == "todo-backend:aaa"


def test_an_image_without_a_creation_time_sorts_first() -> None:
    api = FakeApi(listed=[{"Id": "sha256:a", "RepoTags": ["todo-backend:aaa"]}],
                  inspect={"sha256:a": {}})
    assert DockerBuilder(FakeClient(api), "here").tags("todo-backend")[0].created == ""


def test_one_listing_serves_every_repository_until_the_builder_changes_images() -> None:
    api = FakeApi(listed=[
        {"Id": "sha256:a", "Created": 1795955105, "RepoTags": ["todo-backend:aaa"]},
        {"Id": "sha256:f", "Created": 1795955106, "RepoTags": ["todo-frontend:fff"]}])
    builder = DockerBuilder(FakeClient(api), "here")
    assert [t.tag for t in builder.tags("todo-backend")] == ["aaa"]
    assert [t.tag for t in builder.tags("todo-frontend")] == ["fff"]
    assert len(api.listing_asked) == 1
    builder.remove("todo-backend:aaa")
    builder.tags("todo-backend")
    assert len(api.listing_asked) == 2  # read again after a removal

    class Ctx:
        repository = "todo-backend"
        ref = images.ImageRef("backend", "todo-backend", "0123456789ab")

    builder.tag_latest(Ctx())  # type: ignore[arg-type]
    builder.tags("todo-backend")
    assert len(api.listing_asked) == 3  # and after a new tag


def test_only_images_sharing_a_listed_second_are_inspected_for_their_order() -> None:
    a, b, c = (f"todo-backend:{x * 12}" for x in "abc")
    api = FakeApi(
        listed=[{"Id": "sha256:a", "Created": 1795955105, "RepoTags": [a]},
                {"Id": "sha256:b", "Created": 1795955105, "RepoTags": [b]},
                {"Id": "sha256:c", "Created": 1795955107, "RepoTags": [c]},
                {"Id": "sha256:x", "Created": 1795955107, "RepoTags": ["elsewhere:1"]}],
        inspect={"sha256:a": {"Created": "2026-11-29T12:25:05.7Z"},
                 "sha256:b": {"Created": "2026-11-29T12:25:05.25Z"}})
    tags = DockerBuilder(FakeClient(api), "here").tags("todo-backend")
    assert [(t.tag[:1], t.created) for t in tags] == [
        ("a", "2026-11-29T12:25:05.700000000"), ("b", "2026-11-29T12:25:05.250000000"),
        ("c", "2026-11-29T12:25:07.000000000")]  # c's second is its own (x is elsewhere)
    assert images.prune_plan(tags, 1, ()) == [a, b]  # newest first: c, then a (.7), then b
    assert images.prune_plan(tags, 2, ()) == [b]
    assert api.inspected_asked == ["sha256:a", "sha256:b"]


def test_remove_untags_and_says_why_not() -> None:
    api = FakeApi()
    builder = DockerBuilder(FakeClient(api), "here")
    assert builder.remove("todo-backend:aaa") is None
    assert api.removed == ["todo-backend:aaa"]
    gone = FakeApi(remove_error=docker.errors.NotFound("No such image"))
    assert DockerBuilder(FakeClient(gone), "here").remove("x:1") is None
    used = FakeApi(remove_error=docker.errors.APIError(
        "409", explanation="conflict: image is being used by running container 9f"))
    assert DockerBuilder(FakeClient(used), "here").remove("x:1") == \
        "conflict: image is being used by running container 9f"


def test_close_closes_the_client() -> None:
    client = FakeClient(FakeApi())
    DockerBuilder(client, "here").close()
    assert client.closed


def test_an_unusable_minikube_endpoint_says_to_start_minikube() -> None:
    endpoint = DockerEndpoint("minikube", {"DOCKER_HOST": "tcp://192.168.49.2:2376",
                                           "DOCKER_TLS_VERIFY": "1",
                                           "DOCKER_CERT_PATH": "/nonexistent/certs"})
    with pytest.raises(PrereqError) as err:
        docker_client(endpoint, 5)
    assert err.value.message.startswith(
        "cannot reach the Docker daemon at tcp://192.168.49.2:2376: ")
    assert err.value.hint == "minikube start   # then: inv build   (or: inv build --target host)"


def test_an_unusable_host_endpoint_says_to_start_docker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "bogus://nowhere")
    with pytest.raises(PrereqError) as err:
        docker_client(DockerEndpoint("host"), 5)
    assert err.value.message.startswith(
        "cannot reach the Docker daemon at bogus://nowhere: ")  # where DOCKER_HOST points
    assert err.value.hint == "start Docker on this machine (or build in minikube: inv build)"


def test_an_error_event_without_a_message_is_a_failed_build() -> None:
    event = images.parse_stream_event({"errorDetail": {"code": 1}})
    assert (event.error, event.lines) == ("build failed", ("build failed",))
    event = images.parse_stream_event({"errorDetail": {"message": "no space\nleft\n"}})
    assert (event.error, event.lines) == ("no space\nleft", ("no space", "left"))


def test_status_events_are_lines_and_an_aux_without_id_is_not_an_image() -> None:
    assert images.parse_stream_event({"status": "Pulling from x\n"}).lines == ("Pulling from x",)
    event = images.parse_stream_event({"aux": {"Other": 1}, "stream": "text\n"})
    assert (event.image_id, event.lines) == (None, ("text",))
    assert images.parse_stream_event({}).lines == ()


def test_a_step_line_after_other_lines_still_names_the_step() -> None:
    event = images.parse_stream_event({"stream": " ---> abc\nStep 2/3 : RUN x\n"})
    assert (event.step, event.steps, event.instruction) == (2, 3, "RUN x")
    assert event.lines == (" ---> abc", "Step 2/3 : RUN x")
    assert images.parse_stream_event({"stream": "Successfully built 0a1b\n"}).image_id == "0a1b"
    assert images.parse_stream_event({"stream": "Successfully built XYZ\n"}).image_id is None


def test_an_error_key_alone_fails_the_build_and_keeps_its_indentation() -> None:
    event = images.parse_stream_event({"error": "  boom  \n"})
    assert (event.error, event.lines) == ("boom", ("  boom",))


def test_tags_of_a_repository_on_a_registry_port_and_of_every_listed_image() -> None:
    repo = "127.0.0.1:5000/todo-backend"
    api = FakeApi(
        listed=[{"Id": "sha256:x", "RepoTags": ["127.0.0.1:5000/other:1"]},
                {"Id": "sha256:a", "Created": 1795955105, "RepoTags": [f"{repo}:aaa"]},
                {"Id": "sha256:b", "RepoTags": [f"{repo}:bbb"]}],
        inspect={"sha256:b": {"Created": "2026-11-29T12:25:06.1234567891Z"}})
    tags = DockerBuilder(FakeClient(api), "here").tags(repo)
    assert tags == [TagInfo(repo, "aaa", "sha256:a", "2026-11-29T12:25:05.000000000"),
                    TagInfo(repo, "bbb", "sha256:b", "2026-11-29T12:25:06.123456789")]


def test_a_client_is_opened_with_the_endpoints_environment_and_whole_seconds(
        monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[dict[str, Any]] = []
    monkeypatch.setattr(docker, "from_env", lambda **kwargs: opened.append(kwargs) or "client")
    endpoint = DockerEndpoint("minikube", {"DOCKER_HOST": "tcp://192.168.49.2:2376"})
    assert docker_client(endpoint, 7.9) == "client"
    assert opened == [{"environment": {"DOCKER_HOST": "tcp://192.168.49.2:2376"},
                       "timeout": 7}]


@pytest.mark.parametrize(("message", "reason"), [
    ("Error while fetching server API version\nmore", "Error while fetching server API version"),
    ("", "DockerException")])
def test_an_unreachable_daemon_gives_the_first_line_or_the_error_type(
        monkeypatch: pytest.MonkeyPatch, message: str, reason: str) -> None:
    def from_env(**kwargs: Any) -> None:
        raise docker.errors.DockerException(message)

    monkeypatch.setattr(docker, "from_env", from_env)
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    with pytest.raises(PrereqError) as err:
        docker_client(DockerEndpoint("host"), 5)
    assert err.value.message == f"cannot reach the Docker daemon at local default socket: {reason}"
