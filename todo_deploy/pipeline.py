"""`inv up`: doctor → minikube → build → secrets → deploy → verify → the URL to open.

Each stage is the public entry point of its module (the same one its own task calls), so
``inv up`` and ``inv build secrets deploy verify`` do the same work. Re-running with nothing
changed rebuilds nothing and restarts no pod: image tags are content digests (present tags
are skipped), the Secret's digest only changes with its data, and ``helm upgrade`` with
identical values leaves the pod template — and so the pods — alone.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from . import cluster, day2, deploy, doctor, lock, secrets, tools, verify
from .console import CheckResult
from .errors import library_failure
from .session import Session

STAGES = ("doctor", "minikube", "build", "secrets", "deploy", "verify", "url")
MUTATING = ("build", "secrets", "deploy")  # the run lock is held from the first that runs


@dataclass(frozen=True)
class UpOptions:
    skip_build: bool = False
    skip_secrets: bool = False
    skip_deploy: bool = False
    skip_verify: bool = False
    skip_helm_test: bool = False  # verify without helm test

    def skips(self, stage: str) -> bool:
        return bool(getattr(self, f"skip_{stage}", False))


@dataclass(frozen=True)
class StageRun:
    name: str
    ran: bool
    seconds: float
    detail: str
    failed: bool = False


def plan(options: UpOptions) -> list[tuple[str, bool]]:
    """(stage, runs?) in order (pure)."""
    return [(stage, not options.skips(stage)) for stage in STAGES]


def _doctor(s: Session) -> str:
    results = doctor.run_doctor(s)
    return f"{sum(r.ok for r in results)}/{len(results)} checks passed"


def _minikube(s: Session) -> str:
    if s.settings.target != "minikube":
        doctor.require(s, "cluster")
        return f"context {s.tools.context} reachable (target {s.settings.target})"
    if ("cluster", s.settings.profile) in doctor.passed_checks(s) or \
            cluster.status(s.c, s.settings).running:  # doctor's answer, when it had one
        return f"profile {s.settings.profile} already running"
    with s.console.status(f"starting minikube -p {s.settings.profile} with "
                          f"{s.settings.cpus} CPUs / {s.settings.memory} MiB"):
        cluster.start(s.c, s.settings)
    cluster.started(s)
    doctor.require(s, "cluster")
    return f"started profile {s.settings.profile} ({s.settings.cpus} CPUs, " \
           f"{s.settings.memory} MiB)"


def _build(s: Session) -> str:
    from . import images

    built = images.run_build(s)
    fresh = [b for b in built if b.built]
    return (f"built {', '.join(b.repository + ':' + b.tag for b in fresh)}" if fresh
            else "nothing to build: " + ", ".join(f"{b.repository}:{b.tag}" for b in built))


def _secrets(s: Session) -> str:
    result = secrets.run_secrets(s, dry_run=False)
    return f"Secret {s.settings.secret_name} digest {result.digest.short}"


def _deploy(s: Session) -> str:
    release = deploy.run_deploy(s)
    return f"release {release.name} revision {release.revision} in {release.namespace}"


def _verify(s: Session, options: UpOptions | None = None) -> str:
    helm_test = not (options or UpOptions()).skip_helm_test
    results: list[CheckResult] = verify.run_verify(s, helm_test=helm_test)
    warned = [r.name for r in results if not r.ok]  # a failure raised: these are warnings
    return f"{sum(r.ok for r in results)} of {len(results)} checks passed" + (
        f" ({len(warned)} not checked: {', '.join(warned)})" if warned else "")


def _url(s: Session) -> str:
    return day2.run_url(s).url


RUNNERS: dict[str, Callable[[Session], str]] = {
    "doctor": _doctor, "minikube": _minikube, "build": _build, "secrets": _secrets,
    "deploy": _deploy, "verify": _verify, "url": _url,
}
TITLES = {
    "doctor": "Doctor: tools, cluster, .env",
    "minikube": "minikube: start it if it is not running",
    "build": "Build images (skipped when their digest tags exist)",
    "secrets": "Secret todo-secrets from .env",
    "deploy": "Deploy the Helm release",
    "verify": "Verify: rollout and HTTP checks",
    "url": "The URL to open",
}


def title(s: Session, stage: str) -> str:
    if stage == "minikube" and s.settings.target != "minikube":
        return "Cluster: is the context's API server ready"
    if stage == "build" and s.settings.target == "registry":
        return "Build images and push them to " + s.settings.registry
    return TITLES[stage]


def run_up(s: Session, options: UpOptions | None = None) -> list[StageRun]:
    """Run the chain; a failing stage stops it: the table of what ran (krane's summary), then
    that stage's own message and hint (raised on to the task)."""
    options = options or UpOptions()
    # the one context of the whole run, resolved (and judged) before anything happens
    tools.require_safe(s.tools, "deploy")
    where = f"context {s.tools.context}, target {s.settings.target}"
    steps = plan(options)
    runs: list[StageRun] = []
    with contextlib.ExitStack() as locked:
        _run_stages(s, options, steps, runs, locked, where)
    _table(s, runs)
    url = next((r.detail for r in runs if r.name == "url"), "")
    if options.skip_verify:
        s.console.success(f"Todo app deployed (not verified: --skip-verify): {url}")
    else:
        s.console.success(f"Todo app is up and verified: open {url}")
    return runs


def _run_stages(s: Session, options: UpOptions, steps: list[tuple[str, bool]],
                runs: list[StageRun], locked: contextlib.ExitStack, where: str) -> None:
    """Run the stages, taking the run lock before the first one that changes something (build,
    secrets, deploy) and holding it to the end of verify, in ``locked``."""
    for n, (stage, runs_it) in enumerate(steps, start=1):
        if not runs_it:
            s.console.step(n, len(steps), f"{title(s, stage)} — skipped (--skip-{stage})")
            runs.append(StageRun(stage, False, 0.0, f"skipped (--skip-{stage})"))
            continue
        s.console.step(n, len(steps), f"{title(s, stage)} [{where}]")
        started = time.monotonic()
        try:
            if stage in MUTATING and s.recall(lock.LOCK_KEY) is None:
                locked.enter_context(lock.held(s, "up"))
            detail = _verify(s, options) if stage == "verify" else RUNNERS[stage](s)
        except (Exception, KeyboardInterrupt) as exc:
            error = None if isinstance(exc, KeyboardInterrupt) else library_failure(exc)
            if error is None and not isinstance(exc, KeyboardInterrupt):
                raise  # a bug: its traceback is the report
            why = error.message if error is not None else "interrupted"
            runs.append(StageRun(stage, True, time.monotonic() - started, f"FAILED: {why}",
                                 failed=True))
            runs += [StageRun(later, False, 0.0, "not run") for later, _ in steps[n:]]
            _table(s, runs)
            if error is not None and error is not exc:
                raise error from None
            raise
        runs.append(StageRun(stage, True, time.monotonic() - started, detail))


def _table(s: Session, runs: list[StageRun]) -> None:
    s.console.table("inv up", ("stage", "result", "time"),
                    [(r.name, r.detail, f"{r.seconds:.1f}s" if r.ran else "-") for r in runs])
