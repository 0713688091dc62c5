"""Tasks for the todo-app suite: fresh clone → verified deployment on minikube.

This file only declares tasks and their help; the work lives in ``todo_deploy``.
Chain them: ``inv build secrets deploy verify`` (or ``inv up``). Configuration:
``invoke.yaml`` < ``INVOKE_TODO_*`` environment < flags; see ``inv config``.
Exit codes: 0 ok, 1 deployment/check failed, 2 config or input error, 3 prerequisite
missing (also: another run holds the release's lock), 130 interrupted.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from invoke import Collection, task
from invoke.context import Context

# invoke turns bytecode writing off before it loads tasks.py (so no tasks.pyc appears beside
# it), and that would hold for every module imported after: each `inv` would compile
# todo_deploy afresh (~70 ms of a no-op `inv build`). The package's __pycache__ is git-ignored;
# let Python cache it as it would anywhere else, unless the user said not to (-B or
# PYTHONDONTWRITEBYTECODE, which sys.flags still holds).
sys.dont_write_bytecode = bool(sys.flags.dont_write_bytecode)

from todo_deploy.cli import session  # noqa: E402
from todo_deploy.config import defaults_tree  # noqa: E402

if TYPE_CHECKING:
    from todo_deploy import chart as chart_stage
    from todo_deploy import day2 as day2_stage
    from todo_deploy import deploy as deploy_stage
    from todo_deploy import doctor as doctor_stage
    from todo_deploy import images as images_stage
    from todo_deploy import pipeline as pipeline_stage
    from todo_deploy import secrets as secrets_stage
    from todo_deploy import verify as verify_stage
else:  # loaded when a task runs: `inv --list` and `--help` import no stage
    from todo_deploy.lazy import Stage

    chart_stage, day2_stage, deploy_stage, doctor_stage, images_stage, pipeline_stage, \
        secrets_stage, verify_stage = (Stage(f"todo_deploy.{name}") for name in (
            "chart", "day2", "deploy", "doctor", "images", "pipeline", "secrets", "verify"))

NO_COLOR = "plain output without colour (also: NO_COLOR=1)"
NAMESPACE = "Kubernetes namespace (default from invoke.yaml: todo)"
PROFILE = "minikube profile (default: minikube)"
ENV_FILE = "path of the .env file to read (default: .env)"
CONTEXT = ("kube-context for every kubectl/helm call of the run (default: todo.context, else "
           "kubectl's current one); a non-local cluster must be named here or in config")
TARGET = "minikube (default), kind, registry or docker: where images go (README: Beyond minikube)"
REGISTRY = "registry target: where to push, e.g. 127.0.0.1:5000 (default: todo.registry.url)"
WAIT_LOCK = ("when another run holds the release's lock (a Lease), wait for it: --wait-lock "
             "waits up to 900s, --wait-lock=SECONDS that long (default: lock.wait = 0, refuse "
             "at once, exit 3)")


@task(help={"json": "print the resolved configuration as JSON", "no-color": NO_COLOR})
def config(c: Context, json: bool = False, no_color: bool = False) -> None:
    """Print the resolved configuration (invoke.yaml < INVOKE_TODO_* env < flags)."""
    with session(c, no_color=no_color) as s:
        doctor_stage.show_config(s, as_json=json)


@task(help={"profile": PROFILE, "env-file": ENV_FILE, "context": CONTEXT, "target": TARGET,
            "no-color": NO_COLOR})
def doctor(c: Context, profile: str | None = None, env_file: str | None = None,
           context: str | None = None, target: str | None = None,
           no_color: bool = False) -> None:
    """Check docker SDK, minikube, kubectl, helm, cluster size and .env; print fixes."""
    with session(c, no_color=no_color, profile=profile, env_file=env_file, context=context,
                 target=target) as s:
        doctor_stage.run_doctor(s)


@task(optional=["wait_lock"], help={
    "dry-run": "validate .env and show the masked Secret; touch no cluster and no file",
    "env-file": ENV_FILE,
    "namespace": NAMESPACE,
    "context": CONTEXT,
    "wait-lock": WAIT_LOCK,
    "no-color": NO_COLOR,
})
def secrets(c: Context, dry_run: bool = False, env_file: str | None = None,
            namespace: str | None = None, context: str | None = None,
            no_color: bool = False, wait_lock: str | None = None) -> None:
    """Create/update Secret todo-secrets from .env (server-side apply on stdin; never shown)."""
    with session(c, no_color=no_color, env_file=env_file, namespace=namespace,
                 context=context, lock_wait=wait_lock) as s:
        secrets_stage.run_secrets(s, dry_run=dry_run)


@task(iterable=["build_arg"], auto_shortflags=False, help={
    "target": "minikube (its Docker daemon; default), host (the host's daemon, for minikube), "
              "kind, registry (build, then push) or docker",
    "registry": REGISTRY,
    "context": CONTEXT,
    "force": "rebuild even when the content-digest tag already exists",
    "no-cache": "build without the daemon's layer cache",
    "only": "build one image only: backend or frontend",
    "build-arg": "KEY=VALUE (both images) or backend:KEY=VALUE; repeatable; part of the "
                 "digest; never secrets (visible in image history)",
    "network": "network mode for RUN steps, e.g. host (default: build.network)",
    "keep": "digest tags kept per image; older ones are removed after the build, never the "
            "release's (default: build.keep = 3)",
    "profile": PROFILE,
    "no-color": NO_COLOR,
})
def build(c: Context, target: str | None = None, force: bool = False, no_cache: bool = False,
          only: str | None = None, build_arg: list[str] | None = None,
          network: str | None = None, keep: int | None = None, profile: str | None = None,
          registry: str | None = None, context: str | None = None,
          no_color: bool = False) -> None:
    """Build todo-backend/todo-frontend:<digest12> (+ :latest); skip tags that already exist."""
    with session(c, no_color=no_color, target=target, build_network=network,
                 keep_tags=keep, profile=profile, registry=registry, context=context) as s:
        images_stage.run_build(s, force=force, no_cache=no_cache, only=only,
                               build_args=build_arg or [])


@task(optional=["wait_lock"], help={
    "dry-run": "render the chart with the deploy's values and diff it against the release; "
               "change nothing",
    "force": "replace resources that cannot be patched (Helm 3 --force, Helm 4 --force-replace)",
    "redeploy": "run helm upgrade even when the release's latest revision already installed "
                "this chart, these values, images and Secret digest (it is skipped otherwise)",
    "timeout": "seconds helm waits for ready pods (default: timeouts.deploy = 300)",
    "release": "Helm release name (default: todo-app)",
    "namespace": NAMESPACE,
    "context": CONTEXT,
    "target": TARGET,
    "registry": REGISTRY,
    "profile": PROFILE,
    "wait-lock": WAIT_LOCK,
    "no-color": NO_COLOR,
})
def deploy(c: Context, dry_run: bool = False, force: bool = False, redeploy: bool = False,
           timeout: float | None = None,
           release: str | None = None, namespace: str | None = None,
           profile: str | None = None, context: str | None = None,
           target: str | None = None, registry: str | None = None, no_color: bool = False,
           wait_lock: str | None = None) -> None:
    """helm upgrade --install (digest tags, Secret digest); on failure diagnose, roll back."""
    with session(c, no_color=no_color, deploy_timeout=timeout, release=release,
                 namespace=namespace, profile=profile, context=context,
                 target=target, registry=registry, lock_wait=wait_lock) as s:
        deploy_stage.run_deploy(s, dry_run=dry_run, force=force, redeploy=redeploy)


@task(help={
    "check": "only compare: exit 1 when k8s/ differs from the chart's default render",
    "no-color": NO_COLOR,
})
def manifests(c: Context, check: bool = False, no_color: bool = False) -> None:
    """Regenerate the plain manifests in k8s/ from the chart's default render (helm template)."""
    with session(c, no_color=no_color) as s:
        chart_stage.run_manifests(s, check=check)


@task(help={
    "json": "print one JSON document (checks and findings) instead of the table",
    "timeout": "overall seconds to wait for the rollout (default: timeouts.verify = 300)",
    "skip-helm-test": "do not run `helm test` (it runs by default)",
    "namespace": NAMESPACE,
    "context": CONTEXT,
    "profile": PROFILE,
    "no-color": NO_COLOR,
})
def verify(c: Context, json: bool = False, timeout: float | None = None,
           skip_helm_test: bool = False, namespace: str | None = None,
           profile: str | None = None, context: str | None = None,
           no_color: bool = False) -> None:
    """Watch the rollout (fail fast with the cause), check HTTP through the API server, the
    NodePort URL from this host (where the driver routes to the node), then `helm test`."""
    with session(c, no_color=no_color, verify_timeout=timeout, namespace=namespace,
                 profile=profile, context=context) as s:
        verify_stage.run_verify(s, as_json=json, helm_test=not skip_helm_test)


@task(auto_shortflags=False, optional=["wait_lock"], help={  # five --skip-*: one `-` each
    "skip-build": "do not build images (use the tags already in minikube)",
    "skip-secrets": "do not apply the Secret from .env",
    "skip-deploy": "do not run helm upgrade --install",
    "skip-verify": "do not watch the rollout nor run the HTTP checks",
    "skip-helm-test": "verify without `helm test` (it runs by default)",
    "cpus": "CPUs for minikube when up has to start it (default: minikube.cpus = 2)",
    "memory": "MiB for minikube when up has to start it (default: minikube.memory = 4096)",
    "timeout": "seconds verify waits for the rollout (default: timeouts.verify = 300)",
    "env-file": ENV_FILE,
    "namespace": NAMESPACE,
    "context": CONTEXT,
    "target": TARGET,
    "registry": REGISTRY,
    "profile": PROFILE,
    "wait-lock": WAIT_LOCK,
    "no-color": NO_COLOR,
})
def up(c: Context, skip_build: bool = False, skip_secrets: bool = False,
       skip_deploy: bool = False, skip_verify: bool = False, skip_helm_test: bool = False,
       cpus: int | None = None,
       memory: int | None = None, timeout: float | None = None, env_file: str | None = None,
       namespace: str | None = None, profile: str | None = None, context: str | None = None,
       target: str | None = None, registry: str | None = None, no_color: bool = False,
       wait_lock: str | None = None) -> None:
    """Fresh clone to verified app: doctor, minikube, build, secrets, deploy, verify, URL."""
    with session(c, no_color=no_color, cpus=cpus, memory=memory, verify_timeout=timeout,
                 env_file=env_file, namespace=namespace, profile=profile, context=context,
                 target=target, registry=registry, lock_wait=wait_lock) as s:
        pipeline_stage.run_up(s, pipeline_stage.UpOptions(
            skip_build=skip_build, skip_secrets=skip_secrets, skip_deploy=skip_deploy,
            skip_verify=skip_verify, skip_helm_test=skip_helm_test))


@task(help={"namespace": NAMESPACE, "profile": PROFILE, "context": CONTEXT, "target": TARGET,
            "no-color": NO_COLOR})
def status(c: Context, namespace: str | None = None, profile: str | None = None,
           context: str | None = None, target: str | None = None,
           no_color: bool = False) -> None:
    """Release and revision, images and tags, pods and readiness, and the URL."""
    with session(c, no_color=no_color, namespace=namespace, profile=profile, context=context,
                 target=target) as s:
        day2_stage.run_status(s)


@task(positional=["component"], help={
    "component": "backend, frontend or all",
    "follow": "keep streaming new lines (Ctrl-C to stop)",
    "tail": "lines per container to start with (default 100)",
    "namespace": NAMESPACE,
    "no-color": NO_COLOR,
    "context": CONTEXT,
})
def logs(c: Context, component: str, follow: bool = False, tail: int = 100,
         namespace: str | None = None, no_color: bool = False,
         context: str | None = None) -> None:
    """Logs of the backend or frontend pods (inv logs backend -f; inv logs all)."""
    # `context` comes last: invoke hands out short flags in signature order, so every older
    # flag keeps its letter (-c is --component here) and --context gets the next free one
    with session(c, no_color=no_color, namespace=namespace, context=context) as s:
        day2_stage.run_logs(s, None if component == "all" else component, follow=follow,
                            tail=tail)


@task(help={"namespace": NAMESPACE, "profile": PROFILE, "context": CONTEXT, "target": TARGET,
            "no-color": NO_COLOR})
def url(c: Context, namespace: str | None = None, profile: str | None = None,
        context: str | None = None, target: str | None = None,
        no_color: bool = False) -> None:
    """Print the app's URL http://$(minikube ip):30080, and the working `minikube service
    todo-frontend -n todo --url` (macOS/Windows docker driver: see the note)."""
    with session(c, no_color=no_color, namespace=namespace, profile=profile, context=context,
                 target=target) as s:
        day2_stage.run_url(s)


@task(optional=["wait_lock"], help={
    "purge": "also delete the Secret, the PostgreSQL volume (its data) and the built images",
    "yes": "do not ask before deleting data (required with --purge when not on a terminal)",
    "namespace": NAMESPACE,
    "context": CONTEXT,
    "target": TARGET,
    "profile": PROFILE,
    "wait-lock": WAIT_LOCK,
    "no-color": NO_COLOR,
})
def down(c: Context, purge: bool = False, yes: bool = False, namespace: str | None = None,
         profile: str | None = None, context: str | None = None, target: str | None = None,
         no_color: bool = False, wait_lock: str | None = None) -> None:
    """helm uninstall the release; --purge also removes the Secret, data volume and images."""
    with session(c, no_color=no_color, namespace=namespace, profile=profile, context=context,
                 target=target, lock_wait=wait_lock) as s:
        day2_stage.run_down(s, purge=purge, yes=yes)


# Every setting's default (todo_deploy/config.py) as this collection's configuration: the lowest
# layer under invoke.yaml, INVOKE_TODO_* and the flags, and what makes each INVOKE_TODO_* key
# known to invoke even when invoke.yaml does not name it.
ns = Collection.from_module(sys.modules[__name__])
ns.configure({"todo": defaults_tree()})
