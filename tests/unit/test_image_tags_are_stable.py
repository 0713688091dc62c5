"""An image's tag is its content digest (todo_deploy.images.context): the same sources must
give the same tag in every version of the suite, or every upgrade rebuilds and redeploys
everything. Also the build state file ``inv deploy`` reads, and the ``minikube image build``
builder's commands (MockContext answers minikube 1.35's ``image ls`` / ``image build``)."""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

import pytest
from invoke import MockContext, Result

from todo_deploy import images
from todo_deploy.config import ImageConfig, Settings
from todo_deploy.console import Console
from todo_deploy.errors import ConfigError, StageFailed
from todo_deploy.images.builder import BuildLog
from todo_deploy.images.minikube import MinikubeImageBuilder
from todo_deploy.session import Session

DOCKERFILE = "ARG BASE_IMAGE=python:3.11-slim\nFROM ${BASE_IMAGE}\nCOPY . /app\n"


def fixed_context(root: Path) -> ImageConfig:
    src = root / "src"
    (src / "pkg").mkdir(parents=True)
    (src / "pkg" / "main.py").write_text("print('hi')\n")
    (src / "run.sh").write_text("#!/bin/sh\n")
    os.chmod(src / "pkg", 0o755)
    os.chmod(src / "pkg" / "main.py", 0o644)
    os.chmod(src / "run.sh", 0o755)
    os.symlink("pkg/main.py", src / "link.py")
    dockerfile = root / "Dockerfile"
    dockerfile.write_text(DOCKERFILE)
    return ImageConfig("backend", "todo-backend", src, dockerfile)


def test_the_digest_of_a_fixed_context_never_changes(tmp_path: Path) -> None:
    """Pinned at the scheme ``todo-deploy/image-digest/v1`` (length-prefixed parts: the
    Dockerfile, sorted args, base images, then each entry's kind, path, mode and content
    hash or link target); the value was re-computed from that description with hashlib
    alone. A change here is a new scheme: rename it, and expect one rebuild."""
    ctx = images.prepare(fixed_context(tmp_path), {"BASE_IMAGE": "standin/python:3.11"})
    assert ctx.files == ("link.py", "pkg", "pkg/main.py", "run.sh")
    assert ctx.base_images == ("standin/python:3.11",)
    assert ctx.digest == "1f032c5dd4a1a36a7bc8dd51c7829d3cd7f72ebfd600b3816f9d9675bb9e843c"
    assert ctx.tag == ctx.digest[:12]


def test_each_kind_of_entry_counts_in_the_digest(tmp_path: Path) -> None:
    config = fixed_context(tmp_path)
    first = images.prepare(config, {}).digest
    os.remove(config.context / "link.py")
    os.symlink("run.sh", config.context / "link.py")
    relinked = images.prepare(config, {}).digest
    os.chmod(config.context / "pkg", 0o700)
    dir_mode = images.prepare(config, {}).digest
    assert len({first, relinked, dir_mode}) == 3


# -- build state --------------------------------------------------------------------------


def settings_with_state(tmp_path: Path, text: str) -> Settings:
    settings = Settings(state_dir=tmp_path / "state",
                        images={"backend": fixed_context(tmp_path / "b"),
                                "frontend": fixed_context(tmp_path / "f")})
    images.state_path(settings).parent.mkdir(parents=True)
    images.state_path(settings).write_text(text)
    return settings


@pytest.mark.parametrize("text", ["[]", '{"version": 1}', '{"images": null}', "null"])
def test_a_state_file_of_another_shape_holds_nothing(tmp_path: Path, text: str) -> None:
    assert images.load_state(settings_with_state(tmp_path, text)) == {}


def test_entries_that_are_not_objects_are_dropped(tmp_path: Path) -> None:
    settings = settings_with_state(tmp_path, json.dumps(
        {"images": {"backend": "x", "frontend": {"tag": "t"}}}))
    assert images.load_state(settings) == {"frontend": {"tag": "t"}}


def test_saving_one_image_keeps_the_others_and_the_format(tmp_path: Path) -> None:
    settings = settings_with_state(tmp_path, json.dumps({"images": {"frontend": {"tag": "t"}}}))
    ctx = images.prepare(settings.images["backend"], {"BASE_IMAGE": "b:1"})
    images.save_state(settings, [ctx])
    text = images.state_path(settings).read_text()
    data = json.loads(text)
    assert data["version"] == 1 and data["images"]["frontend"] == {"tag": "t"}
    backend = data["images"]["backend"]
    assert (backend["repository"], backend["tag"], backend["digest"]) == (
        "todo-backend", ctx.tag, ctx.digest)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}", backend["recorded_at"])
    assert text.endswith("}\n") and text.startswith('{\n "images"')  # indented, sorted
    assert not images.state_path(settings).with_suffix(".tmp").exists()


def test_recorded_args_that_are_not_a_mapping_fall_back_to_the_configured_ones(
        tmp_path: Path) -> None:
    settings = settings_with_state(tmp_path, json.dumps(
        {"images": {"backend": {"build_args": ["x"]}, "frontend": {"build_args": {"A": 1}}}}))
    backend, frontend = images.current_images(settings)
    assert backend == images.prepare(settings.images["backend"], {}).ref
    assert frontend == images.prepare(settings.images["frontend"], {"A": "1"}).ref


# -- the context's errors -------------------------------------------------------------------


def test_a_missing_dockerfile_or_context_says_which_setting_to_fix(tmp_path: Path) -> None:
    config = fixed_context(tmp_path)
    with pytest.raises(ConfigError) as err:
        images.prepare(ImageConfig("frontend", "x", config.context, tmp_path / "nope"), {})
    assert err.value.message == f"Dockerfile for frontend not found: {tmp_path / 'nope'}"
    assert err.value.hint == "set todo.images.frontend.dockerfile in invoke.yaml"
    with pytest.raises(ConfigError) as err:
        images.prepare(ImageConfig("frontend", "x", tmp_path / "gone", config.dockerfile), {})
    assert err.value.message == f"build context for frontend not found: {tmp_path / 'gone'}"
    assert err.value.hint == ("set todo.images.frontend.context in invoke.yaml "
                              "(or INVOKE_TODO_IMAGES_FRONTEND_CONTEXT=path)")


# -- minikube image build -------------------------------------------------------------------


def minikube_session(c: MockContext) -> Session:
    out = io.StringIO()
    return Session(c, Settings(), Console(no_color=True, file=out, err_file=out))


class Tracker:
    def __init__(self) -> None:
        self.seen: list[tuple[str | None, str | None]] = []

    def update(self, name: str, *, step: str | None = None, line: str | None = None) -> None:
        self.seen.append((step, line))


def test_minikube_image_ls_is_asked_once_until_a_build(tmp_path: Path) -> None:
    c = MockContext(run={"minikube -p minikube image ls": Result("docker.io/library/a:1\n")},
                    repeat=True)
    builder = MinikubeImageBuilder(minikube_session(c), "containerd")
    assert builder.where == "minikube (containerd) via `minikube image build`"
    assert builder.inspect("a:1") == images.ImageInfo("", 0)
    assert builder.inspect("b:1") is None
    assert c.run.call_count == 1  # type: ignore[attr-defined]
    assert builder.tags("a") == [] and builder.close() is None


def test_a_failed_minikube_build_names_its_exit_code_and_keeps_its_output(
        tmp_path: Path) -> None:
    ctx = images.prepare(fixed_context(tmp_path), {})
    c = MockContext(run={re.compile(r"^minikube -p minikube image build "): Result(
        "Step 1/2 : FROM x\n", stderr="error: boom\n", exited=1)})
    log, tracker = BuildLog(), Tracker()
    with pytest.raises(StageFailed) as err:
        MinikubeImageBuilder(minikube_session(c), "containerd").build(
            ctx, no_cache=False, network=None, tracker=tracker, log=log)  # type: ignore[arg-type]
    assert err.value.message == "building todo-backend failed: `minikube image build` exited 1"
    assert log.lines == ["Step 1/2 : FROM x", "error: boom"]
    assert tracker.seen == [("minikube image build", None), (None, "Step 1/2 : FROM x"),
                            (None, "error: boom")]


def test_latest_and_removal_go_through_minikube_image(tmp_path: Path) -> None:
    ctx = images.prepare(fixed_context(tmp_path), {})
    c = MockContext(run={f"minikube -p minikube image tag {ctx.ref.ref} todo-backend:latest":
                         Result(""), "minikube -p minikube image rm todo-backend:old": Result("")})
    builder = MinikubeImageBuilder(minikube_session(c), "cri-o")
    builder.tag_latest(ctx)
    assert builder.remove("todo-backend:old") is None
    assert c.run.call_count == 2  # type: ignore[attr-defined]


# -- build args and secret names ------------------------------------------------------------


@pytest.mark.parametrize("raw", ["=1", "1A=x", "A-B=x", "backend:=x", "db:A=1", "A"])
def test_a_build_arg_needs_a_valid_key_and_an_equals_sign(raw: str) -> None:
    with pytest.raises(ConfigError) as err:
        images.parse_build_args([raw])
    assert err.value.message == f"--build-arg {raw!r} is not KEY=VALUE or COMPONENT:KEY=VALUE"
    assert err.value.hint == "inv build --build-arg backend:BASE_IMAGE=python:3.11-slim"


def test_a_build_arg_may_be_empty_and_the_last_one_wins() -> None:
    assert images.parse_build_args(["_A1=", "backend:_A1=x", "B=1", "B=2"]) == {
        "backend": {"_A1": "x", "B": "2"}, "frontend": {"_A1": "", "B": "2"}}
    assert images.parse_build_args([]) == {"backend": {}, "frontend": {}}
    assert images.parse_build_args(["base_image=x"])["backend"] == {"base_image": "x"}


@pytest.mark.parametrize(("path", "secret"), [
    (".env", True), ("a/.env", True), (".env.local", True), ("a/b/.env.prod/", True),
    ("x.env", False), (".envrc", False), ("env", False), ("a/.environment", False),
    (".envX", False)])
def test_secret_files_are_dot_env_and_its_variants_at_any_depth(path: str, secret: bool) -> None:
    assert images.is_secret_file(path) is secret


def test_a_secret_directory_keeps_everything_under_it_out(tmp_path: Path) -> None:
    (tmp_path / ".env.d").mkdir()
    (tmp_path / ".env.d" / "key.txt").write_text("x")
    (tmp_path / "keep.txt").write_text("y")
    assert images.context_files(tmp_path, []) == ["keep.txt"]


def test_minikube_builds_the_filtered_context_unpacked_with_the_build_timeout(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from todo_deploy import proc
    from todo_deploy.images import minikube as minikube_builder

    ctx = images.prepare(fixed_context(tmp_path), {})
    seen: dict[str, object] = {}

    def run(c: object, argv: list[str], **kwargs: object) -> proc.ToolResult:
        if "build" in argv:
            root = Path(argv[-1])
            seen["files"] = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
            seen["timeout"] = kwargs.get("timeout")
            return proc.ToolResult(tuple(argv), 0, "built\n", "")
        return proc.ToolResult(tuple(argv), 0, f"docker.io/library/{ctx.ref.ref}\n", "")

    monkeypatch.setattr(minikube_builder.proc, "run", run)
    monkeypatch.chdir(tmp_path)
    before = sorted(os.listdir(tmp_path))
    MinikubeImageBuilder(minikube_session(MockContext()), "containerd").build(
        ctx, no_cache=False, network=None, tracker=Tracker(), log=BuildLog())  # type: ignore[arg-type]
    assert seen["files"] == sorted([".dockerignore", images.DOCKERFILE_IN_CONTEXT, "link.py",
                                    "pkg", "pkg/main.py", "run.sh"])
    assert seen["timeout"] == 1800.0
    assert sorted(os.listdir(tmp_path)) == before  # nothing unpacked in the working directory


def test_a_minikube_build_exiting_0_without_its_tag_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = images.prepare(fixed_context(tmp_path), {})
    c = MockContext(run={re.compile(r"^minikube -p minikube image build "): Result("ok\n"),
                         "minikube -p minikube image ls": Result("other:1\n")})
    with pytest.raises(StageFailed) as err:
        MinikubeImageBuilder(minikube_session(c), "containerd").build(
            ctx, no_cache=False, network=None, tracker=Tracker(),  # type: ignore[arg-type]
            log=BuildLog())
    assert err.value.message == (f"building todo-backend failed: `minikube image build` exited 0 "
                                 f"but {ctx.ref.ref} is not in `minikube image ls`")


def test_the_context_size_is_the_tar_length_exactly(tmp_path: Path) -> None:
    ctx = images.prepare(fixed_context(tmp_path), {})
    with images.context_tar(ctx) as fileobj:
        fileobj.seek(0)
        length = len(fileobj.read())
    assert images.context_size(ctx) == length


def test_the_state_file_is_written_into_a_state_folder_not_yet_there(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path / "a" / "b" / "state",
                        images={"backend": fixed_context(tmp_path / "b")})
    ctx = images.prepare(settings.images["backend"], {})
    images.save_state(settings, [ctx])
    assert images.load_state(settings)["backend"]["tag"] == ctx.tag


def test_a_dockerfile_with_bytes_that_are_not_utf8_still_names_its_base(tmp_path: Path) -> None:
    config = fixed_context(tmp_path)
    config.dockerfile.write_bytes(b"# caf\xe9 (latin-1)\nFROM standin/python:3.11\n")
    assert images.prepare(config, {}).base_images == ("standin/python:3.11",)


def test_the_sources_own_dockerfile_names_follow_the_ignore_rules(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM x\n")
    (tmp_path / images.DOCKERFILE_IN_CONTEXT).write_text("FROM y\n")
    (tmp_path / "app.py").write_text("")
    assert images.context_files(tmp_path, ["Dockerfile"]) == ["app.py"]
