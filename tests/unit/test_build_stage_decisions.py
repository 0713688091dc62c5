"""`inv build`'s stage with a recording builder in place of a daemon: what is asked and done
per image (skip, move ``:latest``, build), what reaches the builder (``--no-cache``, the
network), a failed or interrupted build, the table, the registry target's publish step.

``RecordingBuilder`` implements the builder interface (todo_deploy.images.builder.Builder)
over a dict of tags → image IDs, the way a Docker daemon answers ``inspect``; the real
builders have their own tests (test_docker_daemon_builder.py, test_images_task.py).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from invoke import Context

from todo_deploy import images
from todo_deploy.config import Settings
from todo_deploy.console import Console, human_size
from todo_deploy.errors import ConfigError, StageFailed
from todo_deploy.images.builder import BuildLog, ImageInfo, build_failed
from todo_deploy.images.stage import BuiltImage, publish, selected
from todo_deploy.session import Session

OLD_ID = "sha256:" + "0" * 64
NEW_ID = "sha256:" + "1" * 64


class RecordingBuilder:
    where = "recording daemon"

    def __init__(self, present: dict[str, str] | None = None, *,
                 fail: str | None = None, interrupt: bool = False, size: int = 52_300_000):
        self.present = dict(present or {})
        self.fail = fail
        self.interrupt = interrupt
        self.size = size
        self.calls: list[tuple[Any, ...]] = []
        self.built: list[str] = []
        self.lose_after_tagging = False  # a daemon that no longer finds what it just built

    def inspect(self, ref: str) -> ImageInfo | None:
        self.calls.append(("inspect", ref))
        image_id = self.present.get(ref)
        return None if image_id is None else ImageInfo(image_id, self.size)

    def build(self, ctx: Any, *, no_cache: bool, network: str | None, tracker: Any,
              log: BuildLog) -> None:
        self.calls.append(("build", ctx.component, no_cache, network))
        log.lines += ["Step 1/1 : FROM scratch", "boom"]
        if self.interrupt:
            raise KeyboardInterrupt
        if self.fail:
            raise build_failed(ctx, log, self.fail)
        self.present[ctx.ref.ref] = NEW_ID
        self.built.append(ctx.ref.ref)

    def tag_latest(self, ctx: Any) -> None:
        self.calls.append(("tag_latest", ctx.component))
        self.present[f"{ctx.repository}:latest"] = self.present[ctx.ref.ref]
        if self.lose_after_tagging:
            del self.present[ctx.ref.ref]

    def tags(self, repository: str) -> list[images.TagInfo]:
        return []

    def remove(self, ref: str) -> str | None:
        return None

    def close(self) -> None:
        self.calls.append(("close",))


def settings_in(tmp_path: Path, registry: str = "", **overrides: Any) -> Settings:
    config: dict[str, Any] = {"images": {}, "registry": {"url": registry}}
    for component in images.COMPONENTS:
        src = tmp_path / "src" / component
        src.mkdir(parents=True)
        (src / "app.txt").write_text(component)
        dockerfile = tmp_path / "docker" / component / "Dockerfile"
        dockerfile.parent.mkdir(parents=True)
        dockerfile.write_text("FROM scratch\nCOPY app.txt /\n")
        config["images"][component] = {"context": str(src), "dockerfile": str(dockerfile)}
    overrides.setdefault("state_dir", str(tmp_path / "state"))
    overrides.setdefault("target", "registry" if registry else "docker")
    return Settings.from_config(config, **overrides)


def run(monkeypatch: pytest.MonkeyPatch, settings: Settings, builder: RecordingBuilder,
        out: io.StringIO | None = None, **kwargs: Any) -> tuple[list[BuiltImage], str]:
    @contextmanager
    def open_builder(s: Session) -> Iterator[RecordingBuilder]:
        yield builder

    monkeypatch.setattr(images.target, "open_builder", open_builder)
    monkeypatch.setenv("COLUMNS", "200")
    out = out or io.StringIO()
    s = Session(Context(), settings, Console(no_color=True, file=out, err_file=out))
    return images.run_build(s, **kwargs), out.getvalue()


def refs(settings: Settings, component: str) -> tuple[str, str]:
    ctx = images.prepare(settings.images[component],
                         images.effective_args(settings.images[component]))
    return ctx.ref.ref, f"{ctx.repository}:latest"


def test_an_image_whose_tag_and_latest_agree_is_skipped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_in(tmp_path)
    tag, latest = refs(settings, "backend")
    builder = RecordingBuilder({tag: OLD_ID, latest: OLD_ID})
    (result,), out = run(monkeypatch, settings, builder, only="backend")
    assert builder.calls == [("inspect", tag), ("inspect", latest)]
    assert (result.built, result.size, result.result) == (False, 52_300_000, "skipped")
    ctx = images.prepare(settings.images["backend"], {})
    assert (result.component, result.repository, result.tag, result.digest) == (
        "backend", "todo-backend", ctx.tag, ctx.digest)
    assert 0 <= result.seconds < 60
    assert f"[backend] skipped: {tag} already exists" in out
    assert "52.3 MB" in out and "skipped" in out


def test_a_tag_whose_latest_points_elsewhere_moves_latest_and_builds_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_in(tmp_path)
    tag, latest = refs(settings, "backend")
    builder = RecordingBuilder({tag: NEW_ID, latest: OLD_ID})
    (result,), _ = run(monkeypatch, settings, builder, only="backend")
    assert builder.calls == [("inspect", tag), ("inspect", latest), ("tag_latest", "backend")]
    assert builder.present[latest] == NEW_ID and not result.built


def test_a_missing_tag_is_built_with_no_cache_and_the_network_reaching_the_builder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_in(tmp_path, build_network="host")
    tag, _ = refs(settings, "frontend")
    builder = RecordingBuilder()
    (result,), out = run(monkeypatch, settings, builder, only="frontend", no_cache=True)
    assert builder.calls == [("inspect", tag), ("build", "frontend", True, "host"),
                             ("tag_latest", "frontend"), ("inspect", tag)]
    assert (result.built, result.size, result.result) == (True, 52_300_000, "built")
    ctx = images.prepare(settings.images["frontend"], {})
    assert (result.component, result.tag, result.digest) == ("frontend", ctx.tag, ctx.digest)
    assert 0 <= result.seconds < 60
    assert f"[frontend] built {tag}" in out
    log = settings.state_dir / "build-frontend.log"
    assert log.read_text() == "Step 1/1 : FROM scratch\nboom\n"
    assert images.load_state(settings)["frontend"]["tag"] == tag.rpartition(":")[2]


def test_a_forced_build_asks_nothing_first_and_uses_the_cache_unless_told(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_in(tmp_path)
    tag, latest = refs(settings, "backend")
    builder = RecordingBuilder({tag: OLD_ID, latest: OLD_ID}, size=0)
    (result,), out = run(monkeypatch, settings, builder, only="backend", force=True)
    assert builder.calls[0] == ("build", "backend", False, None)
    assert result.built and result.size == 0
    tag_only = tag.rpartition(":")[2]
    assert re.search(rf"todo-backend\W+{tag_only}\W+-\W+\d+\.\ds\W+built", out)  # size: -


def test_a_failed_build_says_where_its_full_log_is(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_in(tmp_path)
    builder = RecordingBuilder(fail="exit 1")
    out = io.StringIO()
    with pytest.raises(StageFailed) as err:
        run(monkeypatch, settings, builder, only="backend", out=out)
    assert "[backend] FAILED" in out.getvalue().splitlines()
    log = settings.state_dir / "build-backend.log"
    assert err.value.hint == ("fix the failing step, then: inv build --only backend\n"
                              f"full log: {log}")
    assert log.read_text() == "Step 1/1 : FROM scratch\nboom\n"
    assert ("tag_latest", "backend") not in builder.calls


def test_a_failed_build_whose_log_cannot_be_written_keeps_its_hint(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    settings = settings_in(tmp_path, state_dir=str(blocker / "state"))
    with pytest.raises(StageFailed) as err:
        run(monkeypatch, settings, RecordingBuilder(fail="exit 1"), only="backend")
    assert err.value.hint == "fix the failing step, then: inv build --only backend"


def test_an_interrupted_build_drops_the_connection_and_stops(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_in(tmp_path)
    builder = RecordingBuilder(interrupt=True)
    out = io.StringIO()
    with pytest.raises(KeyboardInterrupt):
        run(monkeypatch, settings, builder, out=out)
    assert "[backend] interrupted" in out.getvalue().splitlines()
    assert builder.calls[-1] == ("close",)
    assert [c for c in builder.calls if c[0] == "build"] == [("build", "backend", False, None)]


def test_the_table_shows_size_and_seconds_of_each_image(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_in(tmp_path)
    results, out = run(monkeypatch, settings, RecordingBuilder(size=512))
    assert [r.component for r in results] == ["backend", "frontend"]
    assert out.count("512 bytes") == 2
    assert "images" in [line.strip() for line in out.splitlines()]
    assert re.search(r"┃ image +┃ tag +┃ size +┃ time +┃ result +┃", out)
    assert "Build images in recording daemon" in out
    for r in results:
        assert f"{r.seconds:.1f}s" in out


# -- pure parts ------------------------------------------------------------------------------


@pytest.mark.parametrize(("size", "shown"), [
    (0, "0 bytes"), (999, "999 bytes"), (1000, "1.0 kB"), (999_499, "999.5 kB"),
    (1_000_000, "1.0 MB"), (999_949_999, "999.9 MB"), (1_000_000_000, "1.0 GB"),
    (1_000_000_000_000, "1.0 TB")])  # rich's filesize.decimal, as docker shows sizes
def test_sizes_switch_unit_at_each_thousand(size: int, shown: str) -> None:
    assert human_size(size) == shown


def test_only_selects_one_component_and_empty_means_all() -> None:
    assert selected(None) == selected("") == ("backend", "frontend")
    assert selected("frontend") == ("frontend",)
    with pytest.raises(ConfigError) as err:
        selected("db")
    assert err.value.message == "--only must be one of backend, frontend, not 'db'"
    assert err.value.hint == "inv build --only backend"


def test_a_result_says_what_was_done_and_where_it_was_shipped() -> None:
    image = BuiltImage("backend", "r/todo-backend", "abc", "d", 0, 1.0, built=True)
    assert (image.ref, image.result) == ("r/todo-backend:abc", "built")
    assert BuiltImage("backend", "r", "t", "d", 0, 0, built=False,
                      shipped="pushed").result == "skipped, pushed"


# -- the registry target's publish step ------------------------------------------------------


class Api:
    def __init__(self, digest: str | None) -> None:
        self.digest = digest
        self.pushed: list[str] = []
        self.asked: list[str] = []

    def inspect_distribution(self, ref: str) -> dict[str, Any]:
        self.asked.append(ref)
        if self.digest is None:
            import docker.errors
            raise docker.errors.NotFound("manifest unknown")
        return {"Descriptor": {"digest": self.digest}}

    def push(self, repository: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        self.pushed.append(repository)
        yield {"aux": {"Tag": kwargs["tag"], "Digest": "sha256:" + "c" * 64}}


class Client:
    def __init__(self, api: Api) -> None:
        self.api = api


class Tracker:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def update(self, name: str, *, step: str | None = None, line: str | None = None) -> None:
        assert name == "backend"
        if step:
            self.seen.append(("step", step))

    def finish(self, name: str, state: str) -> None:
        assert name == "backend"
        self.seen.append(("finish", state))


def publish_with(tmp_path: Path, api: Api) -> tuple[BuiltImage, Tracker, str]:
    settings = settings_in(tmp_path, registry="127.0.0.1:5000")
    ctx = images.prepare(settings.images["backend"], {})
    builder = type("B", (), {"client": Client(api)})()
    built = BuiltImage("backend", ctx.repository, ctx.tag, ctx.digest, 1, 1.0, built=True)
    tracker = Tracker()
    return publish(builder, ctx, built, tracker), tracker, ctx.ref.ref  # type: ignore[arg-type]


def test_an_image_the_registry_has_is_not_pushed_again(tmp_path: Path) -> None:
    found = "sha256:" + "b" * 64
    api = Api(found)
    result, tracker, ref = publish_with(tmp_path, api)
    assert (result.shipped, result.remote_digest, api.pushed) == ("in registry", found, [])
    assert api.asked == [ref]
    assert tracker.seen == [("step", f"asking 127.0.0.1:5000 for {ref}"),
                            ("finish", f"in registry already: {ref}")]


def test_an_image_the_registry_lacks_is_pushed_and_pinned_to_its_digest(tmp_path: Path) -> None:
    api = Api(None)
    result, tracker, ref = publish_with(tmp_path, api)
    digest = "sha256:" + "c" * 64
    assert (result.shipped, result.remote_digest) == ("pushed", digest)
    assert api.pushed == [ref.rpartition(":")[0]]
    assert tracker.seen == [("step", f"asking 127.0.0.1:5000 for {ref}"),
                            ("step", f"pushing {ref}"),
                            ("finish", f"pushed {ref} ({digest[:19]})")]


def test_the_kind_target_loads_every_built_tag_into_its_nodes(tmp_path: Path) -> None:
    from invoke import MockContext, Result

    from todo_deploy.images.stage import load_into_kind

    settings = settings_in(tmp_path, target="kind", kind_cluster="dev")
    c = MockContext(run={"kind load docker-image r:a r:b --name dev": Result("")})
    out = io.StringIO()
    s = Session(c, settings, Console(no_color=True, file=out, err_file=out))
    results = [BuiltImage("backend", "r", "a", "d", 1, 1.0, built=True),
               BuiltImage("frontend", "r", "b", "d", 1, 1.0, built=False)]
    loaded = load_into_kind(s, results)
    assert [r.result for r in loaded] == ["built, loaded into kind dev",
                                          "skipped, loaded into kind dev"]
    assert "kind load docker-image r:a r:b --name dev" in out.getvalue()


def test_every_build_log_is_written_even_into_a_state_folder_not_yet_there(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_in(tmp_path, state_dir=str(tmp_path / "a" / "b" / "state"))
    run(monkeypatch, settings, RecordingBuilder())
    for component in images.COMPONENTS:
        log = settings.state_dir / f"build-{component}.log"
        assert log.read_text() == "Step 1/1 : FROM scratch\nboom\n"


def test_a_built_image_the_daemon_cannot_size_shows_zero(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    builder = RecordingBuilder()
    builder.lose_after_tagging = True
    (result,), _ = run(monkeypatch, settings_in(tmp_path), builder, only="backend")
    assert result.built and result.size == 0


def test_the_registry_target_publishes_each_built_image(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_in(tmp_path, registry="127.0.0.1:5000")
    builder = RecordingBuilder()
    api = Api(None)
    builder.client = Client(api)  # type: ignore[attr-defined]
    results, out = run(monkeypatch, settings, builder)
    digest = "sha256:" + "c" * 64
    assert [(r.component, r.shipped, r.remote_digest) for r in results] == [
        ("backend", "pushed", digest), ("frontend", "pushed", digest)]
    assert api.pushed == [ref.rpartition(":")[0] for ref in builder.built]
    assert "built, pushed" in out
