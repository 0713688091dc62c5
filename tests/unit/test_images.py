"""Pure parts of `inv build`: ignore rules, build context, content digest, flags, stream events.

Everything here runs on real files in a temporary directory; no daemon is involved.
"""

from __future__ import annotations

import os
import shutil
import tarfile
from pathlib import Path

import pytest

from todo_deploy import images
from todo_deploy.cluster import DockerEndpoint
from todo_deploy.config import ROOT, ImageConfig, Settings
from todo_deploy.console import human_size
from todo_deploy.errors import ConfigError, StageFailed

DOCKERFILE = "ARG BASE_IMAGE=python:3.11-slim\nFROM ${BASE_IMAGE} AS builder\nFROM builder\n"


def tree(root: Path, files: dict[str, str]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return root


def image_config(tmp_path: Path, files: dict[str, str], ignore: str = "",
                 dockerfile: str = DOCKERFILE) -> ImageConfig:
    src = tree(tmp_path / "src", files)
    df = tmp_path / "docker" / "Dockerfile"
    df.parent.mkdir(parents=True, exist_ok=True)
    df.write_text(dockerfile)
    if ignore:
        images.ignore_file_for(df).write_text(ignore)
    return ImageConfig(component="backend", name="todo-backend", context=src, dockerfile=df)


def digest_of(cfg: ImageConfig, args: dict[str, str] | None = None) -> str:
    return images.prepare(cfg, args or {}).digest


# -- ignore rules and the context ------------------------------------------------------------
def test_ignore_file_sits_next_to_the_dockerfile_with_buildkit_naming() -> None:
    assert images.ignore_file_for(Path("docker/backend/Dockerfile")) == Path(
        "docker/backend/Dockerfile.dockerignore")


def test_parse_ignore_drops_comments_and_blank_lines() -> None:
    assert images.parse_ignore("# note\n\nnode_modules\n  !keep.txt  \n") == [
        "node_modules", "!keep.txt"]


def test_context_leaves_out_ignored_directories(tmp_path: Path) -> None:
    root = tree(tmp_path, {"a.py": "", "node_modules/x/index.js": "", ".next/b": "",
                           "lib/c.ts": ""})
    files = images.context_files(root, ["node_modules", ".next"])
    assert files == ["a.py", "lib", "lib/c.ts"]


def test_env_files_never_enter_the_context_even_with_an_exception_rule(tmp_path: Path) -> None:
    root = tree(tmp_path, {"a.py": "", ".env": "X=1", ".env.local": "X=2",
                           "sub/.env": "X=3", "sub/.env.production": "X=4"})
    files = images.context_files(root, ["!.env", "!sub/.env", "!**/.env.*"])
    assert files == ["a.py", "sub"]


def test_backend_ignore_rules_keep_only_requirements_and_the_package(tmp_path: Path) -> None:
    src = tmp_path / "backend"
    shutil.copytree(ROOT / "app" / "backend", src,
                    ignore=shutil.ignore_patterns("__pycache__", ".venv", ".env*"))
    tree(src, {".venv/lib/site.py": "", ".env": "SECRET=1", "todo_api/__pycache__/m.pyc": ""})
    patterns = images.parse_ignore(
        (ROOT / "docker" / "backend" / "Dockerfile.dockerignore").read_text())
    files = images.context_files(src, patterns)
    assert {f.split("/")[0] for f in files} == {"requirements.txt", "todo_api"}
    assert not any("__pycache__" in f for f in files)


def test_frontend_ignore_rules_leave_out_node_modules_next_and_tests(tmp_path: Path) -> None:
    src = tree(tmp_path / "frontend", {
        "package.json": "{}", "package-lock.json": "{}", "app/page.tsx": "",
        "node_modules/next/dist/server.js": "", ".next/cache/x": "", "tests/a.test.ts": "",
        "public/robots.txt": "", ".env.local": "X=1"})
    patterns = images.parse_ignore(
        (ROOT / "docker" / "frontend" / "Dockerfile.dockerignore").read_text())
    assert images.context_files(src, patterns) == [
        "app", "app/page.tsx", "package-lock.json", "package.json", "public",
        "public/robots.txt"]


# What a working checkout grows next to the sources: virtualenvs, caches, test and coverage
# output, the browser tier's artefacts, build output. None of it may reach a context.
PLANTED = {
    "frontend": [
        ".venv/lib/python3.11/site-packages/junk.py", ".venv/pyvenv.cfg", "venv/bin/python",
        "__pycache__/x.cpython-311.pyc", "lib/__pycache__/y.cpython-311.pyc",
        ".pytest_cache/v/cache/nodeids", ".mypy_cache/3.11/x.json", ".ruff_cache/0.6/x",
        ".cache/x", ".npm/_cacache/index", ".eslintcache", ".turbo/cache/x", ".vite/x",
        "coverage/lcov.info", ".nyc_output/x.json", "test-results/shot.png",
        "playwright-report/index.html", "blob-report/report.zip",
        "artifacts/browser/screenshots/list.png", "artifacts/browser/apps/backend.log",
        ".next/cache/webpack/client.pack", ".next/server/app.js", "node_modules/x/index.js",
        "npm-debug.log", "next-build.log", "tsconfig.tsbuildinfo", ".todo-deploy/images.json",
    ],
    "backend": [
        ".venv/lib/python3.11/site-packages/junk.py", "todo_api/.venv/pyvenv.cfg",
        "todo_api/__pycache__/x.cpython-311.pyc", "todo_api/stale.pyc",
        ".pytest_cache/v/cache/nodeids", "todo_api/.pytest_cache/v/cache/lastfailed",
        ".mypy_cache/3.11/x.json", "todo_api/.mypy_cache/3.11/x.json",
        "todo_api/.ruff_cache/0.6/x", "todo_api/.cache/x", "todo_api/.hypothesis/examples/x",
        ".coverage", "todo_api/.coverage", "todo_api/.coverage.host.123",
        "todo_api/htmlcov/index.html", "todo_api/todo_api.egg-info/PKG-INFO",
        "todo_api/debug.log",
    ],
}
UNTRACKED = shutil.ignore_patterns("node_modules", ".next", ".venv", "venv", "__pycache__",
                                   "*.pyc", ".pytest_cache", ".mypy_cache", ".ruff_cache",
                                   ".cache", "coverage", "test-results", "artifacts", ".env*",
                                   "*.tsbuildinfo", "*.log")


@pytest.mark.parametrize("component", ["backend", "frontend"])
def test_planted_venvs_caches_and_test_output_stay_out_of_context_and_digest(
        tmp_path: Path, component: str) -> None:
    src = tmp_path / component
    shutil.copytree(ROOT / "app" / component, src, ignore=UNTRACKED)
    cfg = ImageConfig(component, f"todo-{component}", src,
                      ROOT / "docker" / component / "Dockerfile")
    before = images.prepare(cfg, {})
    tree(src, {rel: f"planted {rel}\n" for rel in PLANTED[component]})
    after = images.prepare(cfg, {})
    leaked = sorted(set(after.files) - set(before.files))
    assert leaked == []
    assert after.files == before.files
    assert after.digest == before.digest


def test_context_tar_holds_exactly_the_files_and_the_dockerfile(tmp_path: Path) -> None:
    cfg = image_config(tmp_path, {"a.py": "print()", ".env": "SECRET=1", "skip/x": ""},
                       ignore="skip\n")
    ctx = images.prepare(cfg, {})
    with images.context_tar(ctx) as fileobj, tarfile.open(fileobj=fileobj) as tar:
        names = sorted(tar.getnames())
        dockerfile = tar.extractfile(images.DOCKERFILE_IN_CONTEXT)
        assert dockerfile is not None
        assert dockerfile.read().decode() == DOCKERFILE
    assert names == sorted([".dockerignore", images.DOCKERFILE_IN_CONTEXT, "a.py"])


EDITOR_TEMPS = (".main.py.swp", "pkg/.util.py.swo", "pkg/.util.py.swx", ".main.py.swn",
                "4913", "pkg/4913", "main.py~", "#main.py#", "pkg/main.py___jb_tmp___",
                "main.py___jb_old___", ".main.py.kate-swp")


def test_editor_temp_files_never_enter_the_context_nor_the_digest(tmp_path: Path) -> None:
    cfg = image_config(tmp_path, {"main.py": "1", "pkg/util.py": "2"})
    before = images.prepare(cfg, {})
    tree(cfg.context, {rel: "swap\n" for rel in EDITOR_TEMPS})
    (cfg.context / ".#main.py").symlink_to("dev@laptop.4242:1733600000")  # emacs's lock
    # even a rule that asks for them back
    images.ignore_file_for(cfg.dockerfile).write_text("!*.swp\n!*~\n")
    after = images.prepare(cfg, {})
    assert after.files == before.files
    assert after.digest == before.digest
    with images.context_tar(after) as fileobj, tarfile.open(fileobj=fileobj) as tar:
        assert not set(tar.getnames()) & {*EDITOR_TEMPS, ".#main.py"}


def test_names_close_to_editor_temps_stay_in_the_context(tmp_path: Path) -> None:
    kept = ("swap.py", "notes.md", "49130", "a#b.py", "tilde~x.py")
    cfg = image_config(tmp_path, dict.fromkeys(kept, "x"))
    assert set(kept) <= set(images.prepare(cfg, {}).files)


def test_a_file_saved_between_the_digest_and_the_archive_stops_the_build(
        tmp_path: Path) -> None:
    cfg = image_config(tmp_path, {"a.py": "1", "b.py": "2"})
    ctx = images.prepare(cfg, {})
    (cfg.context / "a.py").write_text("saved meanwhile")
    with pytest.raises(StageFailed) as changed:
        images.context_tar(ctx)
    assert "changed while it was archived" in changed.value.message
    assert ctx.tag in changed.value.message


def test_a_file_deleted_between_the_digest_and_the_archive_stops_the_build(
        tmp_path: Path) -> None:
    cfg = image_config(tmp_path, {"a.py": "1", "b.py": "2"})
    ctx = images.prepare(cfg, {})
    (cfg.context / "b.py").unlink()
    with pytest.raises(StageFailed) as changed:
        images.context_tar(ctx)
    assert "changed while it was archived" in changed.value.message


def test_context_size_counts_the_tar_bytes(tmp_path: Path) -> None:
    cfg = image_config(tmp_path, {"big.bin": "x" * 50_000})
    size = images.context_size(images.prepare(cfg, {}))
    assert 50_000 < size <= 50_000 + 20_480  # headers + tar end-of-archive padding


# -- base images -----------------------------------------------------------------------------
def test_base_image_comes_from_the_arg_default() -> None:
    assert images.base_images(DOCKERFILE, {}) == ("python:3.11-slim",)


def test_base_image_build_arg_overrides_the_default() -> None:
    assert images.base_images(DOCKERFILE, {"BASE_IMAGE": "standin/python:3.11"}) == (
        "standin/python:3.11",)


def test_stage_names_are_not_base_images() -> None:
    text = "FROM node:20-alpine AS deps\nFROM deps AS builder\nFROM --platform=x node:20-alpine\n"
    assert images.base_images(text, {}) == ("node:20-alpine",)


def test_real_dockerfiles_default_to_supported_base_images() -> None:
    """The spec's python:3.11-slim; Node 24 LTS instead of the spec's node:20-alpine, which
    left security support on 2026-04-30 (README: "Base images")."""
    for component, base in (("backend", "python:3.11-slim"), ("frontend", "node:24-alpine")):
        text = (ROOT / "docker" / component / "Dockerfile").read_text()
        assert images.base_images(text, {}) == (base,)


# -- the content digest ----------------------------------------------------------------------
def test_digest_is_the_same_for_the_same_content(tmp_path: Path) -> None:
    cfg = image_config(tmp_path, {"a.py": "1"})
    assert digest_of(cfg) == digest_of(cfg)


def test_digest_ignores_modification_times(tmp_path: Path) -> None:
    cfg = image_config(tmp_path, {"a.py": "1"})
    before = digest_of(cfg)
    os.utime(cfg.context / "a.py", (1_000_000, 1_000_000))
    assert digest_of(cfg) == before


def test_digest_changes_when_a_context_file_changes(tmp_path: Path) -> None:
    cfg = image_config(tmp_path, {"a.py": "1"})
    before = digest_of(cfg)
    (cfg.context / "a.py").write_text("2")
    assert digest_of(cfg) != before


def test_digest_changes_when_a_file_mode_changes(tmp_path: Path) -> None:
    cfg = image_config(tmp_path, {"run.sh": "echo"})
    before = digest_of(cfg)
    (cfg.context / "run.sh").chmod(0o755)
    assert digest_of(cfg) != before


def test_digest_changes_when_the_dockerfile_changes(tmp_path: Path) -> None:
    cfg = image_config(tmp_path, {"a.py": "1"})
    before = digest_of(cfg)
    cfg.dockerfile.write_text(DOCKERFILE + "USER 1001\n")
    assert digest_of(cfg) != before


def test_digest_changes_with_a_build_arg(tmp_path: Path) -> None:
    cfg = image_config(tmp_path, {"a.py": "1"})
    assert digest_of(cfg, {"PIP_INDEX_URL": "http://mirror"}) != digest_of(cfg)


def test_digest_changes_with_the_base_image(tmp_path: Path) -> None:
    cfg = image_config(tmp_path, {"a.py": "1"})
    assert digest_of(cfg, {"BASE_IMAGE": "other:1"}) != digest_of(cfg)


def test_digest_ignores_files_the_rules_leave_out(tmp_path: Path) -> None:
    cfg = image_config(tmp_path, {"a.py": "1"}, ignore="node_modules\n")
    before = digest_of(cfg)
    tree(cfg.context, {"node_modules/x.js": "new", ".env": "SECRET=changed"})
    assert digest_of(cfg) == before


def test_tag_is_the_first_twelve_hex_of_the_digest(tmp_path: Path) -> None:
    ctx = images.prepare(image_config(tmp_path, {"a.py": "1"}), {})
    assert ctx.ref.ref == f"todo-backend:{ctx.digest[:12]}"
    assert len(ctx.digest) == 64


# -- flags -----------------------------------------------------------------------------------
def test_unscoped_build_arg_applies_to_both_images() -> None:
    assert images.parse_build_args(["A=1"]) == {"backend": {"A": "1"}, "frontend": {"A": "1"}}


def test_scoped_build_arg_applies_to_one_image() -> None:
    parsed = images.parse_build_args(["frontend:BASE_IMAGE=node:20", "backend:X=a=b"])
    assert parsed == {"backend": {"X": "a=b"}, "frontend": {"BASE_IMAGE": "node:20"}}


def test_malformed_build_arg_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as exc:
        images.parse_build_args(["NOVALUE"])
    assert exc.value.hint and "--build-arg" in exc.value.hint


def test_only_rejects_an_unknown_component() -> None:
    with pytest.raises(ConfigError):
        images.selected("database")


def test_config_build_args_lose_to_flags() -> None:
    cfg = ImageConfig("backend", "todo-backend", Path("."), Path("Dockerfile"),
                      build_args={"BASE_IMAGE": "a", "KEEP": "k"})
    assert images.effective_args(cfg, {"BASE_IMAGE": "b"}) == {"BASE_IMAGE": "b", "KEEP": "k"}


def test_build_args_come_from_invoke_yaml_per_component() -> None:
    settings = Settings.from_config({"build": {"args": {"frontend": {"BASE_IMAGE": "n:20"}}}})
    assert settings.images["frontend"].build_args == {"BASE_IMAGE": "n:20"}
    assert settings.images["backend"].build_args == {}


# -- the classic builder's stream ------------------------------------------------------------
def test_step_lines_become_step_events() -> None:
    event = images.parse_stream_event({"stream": "Step 3/12 : RUN npm ci\n"})
    assert (event.step, event.steps, event.instruction) == (3, 12, "RUN npm ci")


def test_error_events_carry_the_daemon_message() -> None:
    event = images.parse_stream_event({
        "errorDetail": {"code": 1, "message": "The command '/bin/sh -c npm ci' returned a "
                                              "non-zero code: 1"},
        "error": "The command '/bin/sh -c npm ci' returned a non-zero code: 1"})
    assert event.error == "The command '/bin/sh -c npm ci' returned a non-zero code: 1"


def test_aux_event_gives_the_image_id() -> None:
    assert images.parse_stream_event({"aux": {"ID": "sha256:abc"}}).image_id == "sha256:abc"


def test_successfully_built_line_gives_the_image_id() -> None:
    assert images.parse_stream_event({"stream": "Successfully built 0123abcd\n"}).image_id == (
        "0123abcd")


def test_output_lines_are_kept_without_blank_lines() -> None:
    event = images.parse_stream_event({"stream": " ---> Running in 9f\nadded 3 packages\n\n"})
    assert event.lines == (" ---> Running in 9f", "added 3 packages")


def test_minikube_image_list_drops_the_default_registry_prefix() -> None:
    listing = ("registry.k8s.io/pause:3.10\ndocker.io/library/todo-backend:0123456789ab\n"
               "docker.io/kubernetesui/dashboard:v2.7.0\n")
    assert images.parse_image_list(listing) == {
        "registry.k8s.io/pause:3.10", "todo-backend:0123456789ab", "kubernetesui/dashboard:v2.7.0"}


def test_cri_o_s_localhost_prefix_is_understood_as_the_suite_s_own_name() -> None:
    """cri-o (podman) stores `minikube image build -t todo-backend:T` as localhost/…: the
    build's check that the tag exists and `inv down --purge` must see it as ours."""
    listing = ("localhost/todo-backend:0123456789ab\nlocalhost/todo-frontend:latest\n"
               "registry.k8s.io/pause:3.10\n")
    assert images.parse_image_list(listing) == {
        "todo-backend:0123456789ab", "todo-frontend:latest", "registry.k8s.io/pause:3.10"}


def test_a_registry_named_localhost_with_a_port_keeps_its_name() -> None:
    assert images.parse_image_list("localhost:5000/todo-backend:0123456789ab\n") == {
        "localhost:5000/todo-backend:0123456789ab"}


def test_sizes_are_shown_in_decimal_units() -> None:
    assert [human_size(n) for n in (512, 52_300_000, 1_200_000_000)] == [
        "512 bytes", "52.3 MB", "1.2 GB"]


# -- the docker endpoint ---------------------------------------------------------------------
def test_host_target_reads_the_process_environment_not_an_empty_dict(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///run/user/1000/docker.sock")
    env = images.docker_environment(DockerEndpoint(target="host"))
    assert env["DOCKER_HOST"] == "unix:///run/user/1000/docker.sock"


def test_minikube_target_uses_only_the_parsed_docker_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///var/run/docker.sock")
    endpoint = DockerEndpoint("minikube", {"DOCKER_HOST": "tcp://192.168.49.2:2376",
                                           "DOCKER_CERT_PATH": "/home/u/.minikube/certs",
                                           "DOCKER_TLS_VERIFY": "1"})
    env = images.docker_environment(endpoint)
    assert env == endpoint.environment
    assert os.environ["DOCKER_HOST"] == "unix:///var/run/docker.sock"


# -- state for `inv deploy` ------------------------------------------------------------------
def settings_with(tmp_path: Path, **args: dict[str, str]) -> Settings:
    config: dict[str, object] = {"images": {}, "build": {"args": args},
                                 "state_dir": str(tmp_path / "state")}
    for component in images.COMPONENTS:
        src = tree(tmp_path / "src" / component, {"main.txt": component})
        df = tmp_path / "docker" / component / "Dockerfile"
        df.parent.mkdir(parents=True, exist_ok=True)
        df.write_text(DOCKERFILE)
        config["images"][component] = {  # type: ignore[index]
            "context": str(src), "dockerfile": str(df)}
    return Settings.from_config(config)


def test_current_images_match_what_build_recorded(tmp_path: Path) -> None:
    settings = settings_with(tmp_path)
    args = {"BASE_IMAGE": "standin/python:3.11"}
    built = [images.prepare(settings.images[c], args) for c in images.COMPONENTS]
    images.save_state(settings, built)
    assert images.current_images(settings) == [ctx.ref for ctx in built]


def test_current_images_without_state_use_the_configured_args(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, backend={"BASE_IMAGE": "b:1"})
    expected = images.prepare(settings.images["backend"], {"BASE_IMAGE": "b:1"}).ref
    assert images.current_images(settings)[0] == expected


def test_current_images_change_when_the_source_changed_after_the_build(tmp_path: Path) -> None:
    settings = settings_with(tmp_path)
    images.save_state(settings, [images.prepare(settings.images["backend"], {})])
    before = images.current_images(settings)[0]
    (settings.images["backend"].context / "main.txt").write_text("changed")
    assert images.current_images(settings)[0].tag != before.tag


def test_state_file_records_tags_and_args_but_no_file_content(tmp_path: Path) -> None:
    settings = settings_with(tmp_path)
    ctx = images.prepare(settings.images["frontend"], {"BASE_IMAGE": "n:20"})
    images.save_state(settings, [ctx])
    state = images.load_state(settings)
    assert state["frontend"]["tag"] == ctx.tag
    assert state["frontend"]["build_args"] == {"BASE_IMAGE": "n:20"}
    assert set(state["frontend"]) == {"repository", "tag", "digest", "build_args",
                                      "recorded_at"}


def test_unreadable_state_counts_as_no_state(tmp_path: Path) -> None:
    settings = settings_with(tmp_path)
    images.state_path(settings).parent.mkdir(parents=True)
    images.state_path(settings).write_text("{not json")
    assert images.load_state(settings) == {}


def test_real_contexts_stay_under_one_megabyte() -> None:
    settings = Settings.from_config(None)
    for component in images.COMPONENTS:
        cfg = settings.images[component]
        assert cfg.context.is_dir(), f"{cfg.context} is part of the repository"
        size = images.context_size(images.prepare(cfg, {}))
        assert size <= 1_000_000, f"{component} context is {size} bytes"


def test_tar_of_a_context_never_contains_env_content(tmp_path: Path) -> None:
    cfg = image_config(tmp_path, {"a.py": "x", ".env": "COHERE_API_KEY=marker-7f3a",
                                  "nested/.env.production": "marker-7f3a"})
    with images.context_tar(images.prepare(cfg, {})) as fileobj:
        raw = fileobj.read()
    assert b"marker-7f3a" not in raw
    assert b"a.py" in raw  # the tar was really read (not an empty stream)
