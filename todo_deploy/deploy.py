"""`inv deploy`: ``helm upgrade --install`` of the chart with the built images and the Secret.

Flow: prerequisites (kubectl, helm, cluster) → Helm major → image tags (recomputed digests)
present in the target daemon → the Secret's digest and embedded-db flag → ``helm upgrade
--install --namespace NS --create-namespace --wait --timeout`` → the new revision. Before it,
objects the chart renders that ``kubectl apply -k k8s/`` made (managed-by kubectl) are adopted
into the release, or, when they cannot be, named with the ``kubectl delete`` to run
(:func:`adopt_objects_in_the_way`, :func:`todo_deploy.chart.in_the_way`).

Helm 3 vs 4 lives here, behind :func:`helm_major` and the flag table :data:`HELM_FLAGS`:
Helm 4 renamed ``--force`` to ``--force-replace`` and ``--atomic`` to
``--rollback-on-failure``; bare ``--wait`` and ``--timeout`` are valid on both. Neither
``--atomic`` nor ``--rollback-on-failure`` is used: Helm would roll back *before* the suite
can see why the pods failed. Instead, while helm waits, the suite watches the pods this deploy
creates (krane-style): a pod with a fatal cause (a crash loop, a missing image, ...) stops the
wait at once (SIGTERM: Helm 3 and 4 then record the revision as failed), instead of after the
whole ``--timeout``. On failure the suite

1. diagnoses the release's pods (:mod:`todo_deploy.diagnose`, shared with ``inv verify``),
2. rolls back to the last good revision, or, when the very first install failed, says so and
   how to clean up (``helm uninstall``),
3. exits non-zero.

``--dry-run`` renders the chart with the same values and prints a per-object unified diff
against the release's current manifest (the chart renders no Secret data by default).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from . import access, chart, diagnose, doctor, images, lock, proc, secrets, tools, verify
from .chart import ChartValues
from .config import Settings
from .errors import PrereqError, StageFailed, SuiteError
from .session import Session
from .tools import Helm, Release, Revision, parse_history, parse_release

__all__ = ["Release", "Revision", "parse_history", "parse_release"]  # the Helm client's

# The flags whose names differ between the majors (only these are ever looked up by major).
HELM_FLAGS: dict[int, dict[str, str]] = {
    3: {"force": "--force"},
    4: {"force": "--force-replace"},
}
# Helm 4 applies server-side: after adopting objects that ``kubectl apply`` made, the fields
# kubectl owns (e.g. the pod template's managed-by label, the image) conflict with Helm's own
# values, so that one install takes them over. Helm 3 merges client-side: nothing to force.
TAKE_OVER_FLAGS: dict[int, tuple[str, ...]] = {3: (), 4: ("--force-conflicts",)}
GOOD_STATUSES = ("deployed", "superseded")
DESCRIPTION_PREFIX = "inv deploy: "
TIMEOUT_MARGIN = 60.0  # seconds the subprocess may outlive helm's own --timeout
WATCH_SECONDS = 2.0  # how often the pods are looked at while helm waits
WATCH_RETRY_SECONDS = 60.0  # how long failed reads of the pods are retried while helm waits
# The embedded PostgreSQL's StatefulSet and the headless Service its serviceName names
# (chart 1.0.0 before issue 11 named the ClusterIP Service todo-postgres there).
POSTGRES_STATEFULSET = "todo-postgres"
GOVERNING_SERVICE = "todo-postgres-headless"


@dataclass(frozen=True)
class DeployPlan:
    release: str
    namespace: str
    chart: Path
    values: ChartValues
    timeout: float  # seconds, helm's --timeout
    force: bool = False
    take_over: bool = False  # objects applied outside Helm were adopted (first install)
    description: str = ""  # helm's --description: what this upgrade installs (fingerprint)


class Recovery(StrEnum):
    ROLLBACK = "rollback"  # a new revision failed: go back to the last good one
    UNCHANGED = "unchanged"  # helm failed before creating a revision: nothing to undo
    FIRST_INSTALL = "first-install"  # no good revision exists: clean up by hand
    NOT_OURS = "not-ours"  # another run made a revision since: roll back nothing of theirs


@dataclass(frozen=True)
class RecoveryPlan:
    action: Recovery
    failed: int | None = None  # the revision that failed
    target: int | None = None  # the revision to roll back to


# -- pure functions ------------------------------------------------------------------------------


def helm_major(version: doctor.HelmVersion) -> int:
    """3 or 4; anything else is a prerequisite error."""
    if version.major not in HELM_FLAGS:
        raise PrereqError(f"helm {version.version or '(unknown)'} is not Helm 3 or 4",
                          doctor.tool_fix("helm"))
    return version.major


def timeout_flag(seconds: float) -> str:
    return f"{max(1, round(seconds))}s"


def upgrade_args(plan: DeployPlan, major: int) -> list[str]:
    """``helm upgrade --install`` for ``major`` (3 or 4): only flags that major knows (the
    Helm client adds ``--kube-context``)."""
    flags = HELM_FLAGS[major]
    argv = ["upgrade", "--install", plan.release, str(plan.chart),
            "--namespace", plan.namespace, "--create-namespace",
            "--wait", "--timeout", timeout_flag(plan.timeout),
            "--output", "json"]
    if plan.force:
        argv.append(flags["force"])
    if plan.take_over:
        argv += TAKE_OVER_FLAGS[major]
    if plan.description:
        argv += ["--description", plan.description]
    return argv + plan.values.set_flags()


def release_fingerprint(chart_dir: Path, values: ChartValues) -> str:
    """sha256 over everything an upgrade installs (pure but for reading files): every file of
    the chart, the ``--set`` flags (image tags and digests, the Secret digest, ...) and the
    content of the user's values file. Equal fingerprints ⇒ the same release."""
    return chart.content_digest(chart_dir, *values.set_flags(),
                                Path(values.values_file).read_bytes() if values.values_file
                                else b"")


def release_description(fingerprint: str) -> str:
    """The revision's description (``helm history`` shows it): how the next deploy knows
    that the release already runs exactly this."""
    return f"{DESCRIPTION_PREFIX}{fingerprint[:32]}"


def already_deployed(history: Sequence[Revision], description: str) -> Revision | None:
    """The latest revision when it is deployed and installed exactly ``description`` (pure);
    None when an upgrade is needed (other content, failed, rolled back, pending, none)."""
    if not history or not description:
        return None
    last = history[-1]
    return last if last.status == "deployed" and last.description == description else None


def rollback_args(release: str, namespace: str, revision: int, timeout: float) -> list[str]:
    """``helm rollback`` (same on both majors)."""
    return ["rollback", release, str(revision), "--namespace", namespace,
            "--wait", "--timeout", timeout_flag(timeout)]


def governing_service_argv(namespace: str) -> list[str]:
    """The embedded PostgreSQL StatefulSet's ``serviceName`` (empty output: no StatefulSet)."""
    return ["kubectl", "get", "statefulset", POSTGRES_STATEFULSET, "-n", namespace,
            "--ignore-not-found", "-o", "jsonpath={.spec.serviceName}"]


def statefulset_delete_argv(namespace: str) -> list[str]:
    """Delete the StatefulSet and its pod, waiting until both are gone; the claim (and so the
    data) stays: the chart sets no persistentVolumeClaimRetentionPolicy, so Kubernetes
    retains it, and the StatefulSet the upgrade creates binds the same claim again. Not
    ``--cascade=orphan``: an adopted pod would keep the old ``subdomain`` (it is set when the
    pod is created), so its name under the headless Service would not resolve."""
    return ["kubectl", "delete", "statefulset", POSTGRES_STATEFULSET, "-n", namespace,
            "--cascade=foreground", "--wait=true"]


def uninstall_hint(helm: Helm, release: str, namespace: str) -> str:
    return (f"{helm.command('uninstall', release, '--namespace', namespace)}   # removes the "
            "failed release; fix the cause above, then: inv deploy")


def recovery_plan(history: Sequence[Revision], before: int | None) -> RecoveryPlan:
    """What to do after a failed upgrade, from the history now and the revision before it.

    ``before`` is the latest revision number before this deploy (None: no release yet). This
    run's own revision is the next number: a run rolls back only a revision it made itself, so
    any other revision newer than ``before`` (another run's, a ``helm`` by hand) means
    :attr:`Recovery.NOT_OURS`: nothing is rolled back.
    """
    newer = [r for r in history if before is None or r.number > before]
    if not newer:
        return RecoveryPlan(Recovery.UNCHANGED)
    mine = (before or 0) + 1
    if [r.number for r in newer] != [mine]:
        return RecoveryPlan(Recovery.NOT_OURS, failed=mine if any(
            r.number == mine for r in newer) else None, target=newer[-1].number)
    failed = newer[-1].number
    good = [r for r in history if r.number < failed and r.status in GOOD_STATUSES]
    if not good:
        return RecoveryPlan(Recovery.FIRST_INSTALL, failed=failed)
    return RecoveryPlan(Recovery.ROLLBACK, failed=failed, target=good[-1].number)


def stuck_hint(history: Sequence[Revision], helm: Helm, release: str,
               namespace: str) -> str | None:
    """An interrupted deploy leaves the newest revision ``pending-*``, and Helm then refuses
    every upgrade ("another operation ... is in progress"): the way out is a rollback."""
    if not history or not history[-1].status.startswith("pending"):
        return None
    good = [r.number for r in history if r.status in GOOD_STATUSES]
    if not good:
        return (f"revision {history[-1].number} is {history[-1].status} (an interrupted "
                f"install): {uninstall_hint(helm, release, namespace)}")
    return (f"revision {history[-1].number} is {history[-1].status} (an interrupted deploy): "
            f"{helm.command('rollback', release, str(good[-1]), '--namespace', namespace)}"
            "   then: inv deploy")


def chart_values(refs: Sequence[images.ImageRef], secret: secrets.ClusterSecret | None,
                 settings: Settings, digests: dict[str, str] | None = None) -> ChartValues:
    """What the deploy sets; ``digests`` (registry target) pin each image by digest."""
    digests = digests or {}
    by_component = {ref.component: ref for ref in refs}
    backend, frontend = by_component["backend"], by_component["frontend"]
    return ChartValues(
        backend_repository=backend.repository, backend_tag=backend.tag,
        frontend_repository=frontend.repository, frontend_tag=frontend.tag,
        secret_digest=secret.digest if secret else "",
        embedded_db=secret.embedded_db if secret else False,
        existing_secret=settings.secret_name,
        values_file=str(settings.values_file) if settings.values_file else "",
        pull_policy=settings.pull_policy,
        backend_digest=digests.get("backend", ""), frontend_digest=digests.get("frontend", ""),
        image_pull_secrets=settings.image_pull_secrets if settings.target == "registry" else (),
    )


@dataclass(frozen=True)
class Change:
    key: str  # Kind/name
    kind: str  # "add" | "change" | "remove"
    diff: tuple[str, ...]


SECRET_FIELDS = ("data", "stringData")
MASK = "***"


def masked_pair(old: chart.Document | None,
                new: chart.Document | None) -> tuple[str | None, str | None]:
    """The texts to diff for one object. A Secret shows its keys only: every value (base64
    ``data`` and plain ``stringData`` alike) becomes ``***``, and ``*** (changed)`` on the
    new side where the value differs, so a diff tells what changes without showing it."""
    if not any(d is not None and d.obj.get("kind") == "Secret" for d in (old, new)):
        return (old.text if old else None), (new.text if new else None)

    def values(doc: chart.Document | None, name: str) -> dict[str, object]:
        found = doc.obj.get(name) if doc else None
        return found if isinstance(found, dict) else {}

    def masked(doc: chart.Document | None, *, mark_changes: bool) -> str | None:
        if doc is None:
            return None
        obj = dict(doc.obj)
        for name in SECRET_FIELDS:
            if name not in obj:
                continue
            theirs = values(old, name)
            obj[name] = {k: MASK + (" (changed)" if mark_changes and old is not None
                                    and theirs.get(k) != v else "")
                         for k, v in values(doc, name).items()}
        return yaml.safe_dump(obj, sort_keys=False)

    return masked(old, mark_changes=False), masked(new, mark_changes=True)


def manifest_changes(current: str, rendered: str) -> list[Change]:
    """Per-object unified diffs from the release's manifest to the new render (pure); a
    Secret's values are masked (``masked_pair``)."""
    before = {d.key: d for d in chart.split_documents(current)}
    after = {d.key: d for d in chart.split_documents(rendered)}
    changes: list[Change] = []
    for key in [*after, *(k for k in before if k not in after)]:
        old, new = masked_pair(before.get(key), after.get(key))
        if old == new:
            continue
        kind = "add" if old is None else "remove" if new is None else "change"
        lines = difflib.unified_diff(
            (old or "").splitlines(), (new or "").splitlines(),
            fromfile=f"current  {key}" if old is not None else "/dev/null",
            tofile=f"would be {key}" if new is not None else "/dev/null", lineterm="")
        changes.append(Change(key, kind, tuple(lines)))
    return changes


# -- the stage ---------------------------------------------------------------------------------


def run_deploy(s: Session, *, dry_run: bool = False, force: bool = False,
               redeploy: bool = False) -> Release:
    """Deploy (or, with ``dry_run``, show what would change) and return the release. A release
    whose latest revision installed exactly this (chart, values, images, Secret digest) is
    left as it is, unless ``redeploy`` or ``force``."""
    if dry_run:
        return _dry_run(s)
    tools.require_safe(s.tools, "deploy")
    doctor.require(s, "kubectl", "helm", "cluster")
    with lock.held(s, "deploy"):  # one mutating run at a time (another's Secret, upgrade)
        return _deploy(s, force=force, redeploy=redeploy)


def _deploy(s: Session, *, force: bool, redeploy: bool) -> Release:
    settings = s.settings
    major = helm_major(doctor.helm_version(s))
    refs = images.current_images(settings)
    digests: dict[str, str] = {}
    if settings.target == "registry":
        digests = images.target.registry_digests(s, refs)
    else:
        missing = images.missing_images(s, refs)
        if missing:
            raise PrereqError(
                "image(s) not in the target daemon: " + ", ".join(ref.ref for ref in missing),
                "inv build   # builds exactly these digest tags")
    secret = secrets.cluster_secret(s)
    if secret is None:
        raise PrereqError(
            f"Secret {settings.secret_name} not found in namespace {settings.namespace} "
            "(or it has no digest annotation)",
            "inv secrets   # creates it from .env")
    values = chart_values(refs, secret, settings, digests)
    plan = DeployPlan(settings.release, settings.namespace, settings.chart, values,
                      settings.deploy_timeout, force,
                      description=release_description(release_fingerprint(settings.chart,
                                                                           values)))
    return _upgrade(s, plan, major, redeploy=redeploy or force)


def _upgrade(s: Session, plan: DeployPlan, major: int, *, redeploy: bool = False) -> Release:
    history = s.tools.helm.history(plan.release)
    before = history[-1].number if history else None
    same = None if redeploy else already_deployed(history, plan.description)
    if same is not None:
        s.console.success(f"release {plan.release} revision {same.number} in namespace "
                          f"{plan.namespace}, context {s.tools.context}, already runs this "
                          f"chart with images {plan.values.backend_tag}/"
                          f"{plan.values.frontend_tag} and secret "
                          f"digest {plan.values.secret_digest[:12]}: nothing to upgrade "
                          "(inv deploy --redeploy upgrades anyway)")
        s.store(verify.RELEASE_UNCHANGED, same.number)
        return Release(plan.release, plan.namespace, same.number, same.status)
    s.forget(verify.RELEASE_UNCHANGED)
    if before is not None and plan.values.embedded_db:
        _recreate_statefulset_if_governed_by_old_service(s, plan)
    if adopt_objects_in_the_way(s, plan):  # e.g. kubectl apply -k k8s/ before (or since)
        plan = replace(plan, take_over=True)
    s.console.info(f"Helm {major}: release {plan.release} in namespace {plan.namespace}, "
                   f"context {s.tools.context}; "
                   f"images {plan.values.backend_repository}:{plan.values.backend_tag}, "
                   f"{plan.values.frontend_repository}:{plan.values.frontend_tag}; "
                   f"secret digest {plan.values.secret_digest[:12]}; embedded PostgreSQL "
                   f"{'on' if plan.values.embedded_db else 'off'}")
    with s.console.status(f"helm upgrade --install {plan.release} "
                          f"(waiting up to {timeout_flag(plan.timeout)} for ready pods)"):
        result, findings = _upgrade_watching_pods(s, plan, major)
    s.forget(access.URL_KEY)  # the Service (its nodePort) may have changed
    if not result.ok:
        _recover(s, plan, before, result, findings)
    release, notes = parse_release(result.stdout, Release(plan.release, plan.namespace,
                                                          (before or 0) + 1))
    s.console.success(f"release {release.name} revision {release.revision} "
                      f"{release.status} in namespace {release.namespace}")
    for line in notes.strip().splitlines():
        s.console.detail(line)
    return release


def existing_objects_argv(namespace: str, docs: Sequence[chart.Document]) -> list[str]:
    """One ``kubectl get`` of every object the chart renders; absent ones are left out."""
    refs = [f"{str(d.obj.get('kind', '')).lower()}/{(d.obj.get('metadata') or {}).get('name')}"
            for d in docs]
    return ["kubectl", "get", *refs, "-n", namespace, "-o", "json", "--ignore-not-found"]


def adopt_objects_in_the_way(s: Session, plan: DeployPlan) -> list[chart.InTheWay]:
    """Before ``helm upgrade --install``: objects the chart renders that exist outside the
    release, or that ``kubectl apply`` relabeled since (e.g. ``kubectl apply -k k8s/``), are
    handed to Helm (its ownership label and annotations); anything that cannot be adopted
    stops the deploy, before anything is changed, with the exact ``kubectl delete`` to run.
    Returns what was adopted. Costs one ``helm template`` and one ``kubectl get``."""
    settings = s.settings
    docs = chart.split_documents(chart.render(s.c, settings, plan.values))
    if not docs:
        return []
    live = s.tools.kubectl.run(*existing_objects_argv(plan.namespace, docs)[1:],
                               hint="inv doctor   # is the cluster up and kubectl pointed at it?")
    _refuse_a_taken_nodeport(s, plan, docs)
    found = chart.in_the_way(tools.parse_objects(live.stdout), docs, plan.release, plan.namespace)
    blocked = [f for f in found if not f.adopt]
    if blocked:
        raise StageFailed(
            f"{len(blocked)} object(s) in namespace {plan.namespace} are in the way of release "
            f"{plan.release} and cannot be adopted; nothing was changed",
            s.tools.kubectl.command("-n", plan.namespace, "delete", *(f.ref for f in blocked))
            + "   # then: inv deploy",
            details="\n".join(f"{f.key}: {f.reason}" for f in blocked))
    if not found:
        return []
    patch = json.dumps(chart.adoption_patch(plan.release, plan.namespace))
    with s.console.status(f"handing {len(found)} object(s) applied outside Helm to release "
                          f"{plan.release}"):
        for f in found:
            s.tools.kubectl.run("patch", f.ref, "-n", plan.namespace, "--type=merge", "-p", patch,
                                hint=s.tools.kubectl.command("-n", plan.namespace, "delete",
                                                             f.ref) + "   # then: inv deploy")
    s.console.info(f"adopted into release {plan.release} (they were applied outside Helm, "
                   f"e.g. kubectl apply -k k8s/): {', '.join(f.key for f in found)}")
    return found


NODEPORT_RANGE = (30000, 32767)  # the API server's default --service-node-port-range


def nodeports_taken(docs: Sequence[chart.Document], services: Sequence[dict[str, Any]],
                    namespace: str) -> list[tuple[int, str]]:
    """(nodePort, ``namespace/name``) for each nodePort the chart's Services ask for that a
    Service other than the chart's own (same name, same namespace) already holds (pure). The
    API server allocates nodePorts cluster-wide, so another namespace's Service (another
    checkout's release, a colleague's app) makes the upgrade fail halfway."""
    wanted: dict[int, str] = {}
    for doc in docs:
        if doc.obj.get("kind") != "Service":
            continue
        for port in (doc.obj.get("spec") or {}).get("ports") or []:
            if isinstance(port.get("nodePort"), int):
                wanted[port["nodePort"]] = str((doc.obj.get("metadata") or {}).get("name"))
    taken = []
    for svc in services:
        meta = svc.get("metadata") or {}
        where = f"{meta.get('namespace')}/{meta.get('name')}"
        for port in (svc.get("spec") or {}).get("ports") or []:
            number = port.get("nodePort")
            if number in wanted and (meta.get("namespace") != namespace
                                     or meta.get("name") != wanted[number]):
                taken.append((int(number), where))
    return sorted(set(taken))


def free_nodeport(services: Sequence[dict[str, Any]], near: int) -> int | None:
    """The first nodePort from ``near`` upwards (then from the range's start) that no Service
    holds (pure)."""
    used = {port.get("nodePort") for svc in services
            for port in (svc.get("spec") or {}).get("ports") or []}
    low, high = NODEPORT_RANGE
    for number in [*range(max(near, low), high + 1), *range(low, max(near, low))]:
        if number not in used:
            return number
    return None


def _refuse_a_taken_nodeport(s: Session, plan: DeployPlan,
                             docs: Sequence[chart.Document]) -> None:
    """Stop before anything changes when a nodePort the chart asks for is another Service's,
    naming it and a free value to set. Costs one ``kubectl get services -A``; a context that
    may not list Services cluster-wide skips the check (the upgrade then says it)."""
    listed = s.tools.kubectl.run("get", "services", "--all-namespaces", "-o", "json",
                                 check=False)
    if not listed.ok:
        s.console.detail("nodePort check skipped: cannot list Services in all namespaces "
                         f"({proc.tail(listed.stderr, 1)})")
        return
    services = tools.parse_objects(listed.stdout)
    taken = nodeports_taken(docs, services, plan.namespace)
    if not taken:
        return
    number, holder = taken[0]
    free = free_nodeport(services, number)
    raise StageFailed(
        f"nodePort {number} is already allocated to Service {holder}; the upgrade of release "
        f"{plan.release} would fail on it, so it was not started",
        (f"set frontend.service.nodePort: {free} (free now) in a values file (todo.values_file"
         " in invoke.yaml, or INVOKE_TODO_VALUES_FILE=PATH), then: inv deploy")
        if free is not None else
        f"free a nodePort in {NODEPORT_RANGE[0]}-{NODEPORT_RANGE[1]}, then: inv deploy")


def new_pods(pods: Sequence[dict[str, Any]], existing: set[str]) -> list[dict[str, Any]]:
    """The pods that appeared after the deploy started (pure): only they tell whether this
    revision can become ready; pods that were failing before are not its verdict."""
    return [p for p in pods if (p.get("metadata") or {}).get("uid") not in existing]


def _upgrade_watching_pods(s: Session, plan: DeployPlan,
                           major: int) -> tuple[proc.ToolResult, list[diagnose.Finding]]:
    """Run ``helm upgrade --wait`` and watch the new pods meanwhile; stop helm at the first
    fatal finding. Returns helm's result and the findings that stopped it (if any)."""
    kube = s.tools.kubectl
    existing = {str((p.get("metadata") or {}).get("uid")) for p in
                diagnose.get_pods(kube)}
    running = s.tools.helm.start(*upgrade_args(plan, major),
                                 timeout=plan.timeout + TIMEOUT_MARGIN)
    # the API server answered just now: a failed read while helm waits is retried with
    # backoff (a restart, a timeout); when the watch gives up, helm is stopped with it
    retry, delay = proc.Retry(budget=WATCH_RETRY_SECONDS), WATCH_SECONDS
    with running.watched():
        while (result := running.wait(delay)) is None:
            try:
                pods = diagnose.get_pods(kube)
            except SuiteError as exc:
                delay = retry.failed(exc)
                s.console.detail(f"watching the pods: {exc.message}; asking again in "
                                 f"{delay:.0f}s")
                continue
            retry.ok()
            delay = WATCH_SECONDS
            fresh = new_pods(pods, existing)
            if not fresh:
                continue
            fatal = [f for f in diagnose.classify_pods(
                fresh, diagnose.get_events(kube), place=diagnose.Place.of(s.settings, kube))
                if f.fatal]
            if fatal:
                stopped = running.stop()
                return stopped, [diagnose.with_logs(kube, f)
                                 for f in diagnose.group(fatal)]
    return result, []


def _recreate_statefulset_if_governed_by_old_service(s: Session, plan: DeployPlan) -> None:
    """A StatefulSet's ``serviceName`` cannot change (the API server refuses the upgrade), so
    a release whose StatefulSet still names another Service than the headless one loses the
    StatefulSet and its pod first (the volume and its data stay); the upgrade creates both
    again. The database is down for those seconds, once."""
    found = s.tools.kubectl.run(*governing_service_argv(plan.namespace)[1:], check=False)
    name = found.stdout.strip()
    if not found.ok or not name or name == GOVERNING_SERVICE:
        return
    s.console.info(f"StatefulSet {POSTGRES_STATEFULSET} names Service {name}; recreating it and "
                   f"its pod to name the headless {GOVERNING_SERVICE} (serviceName is "
                   "immutable; the database volume and its data stay)")
    argv = statefulset_delete_argv(plan.namespace)
    s.tools.kubectl.run(*argv[1:], hint=s.tools.kubectl.command(*argv[1:]) +
                        "   then: inv deploy")


def _recover(s: Session, plan: DeployPlan, before: int | None,
             result: proc.ToolResult, findings: list[diagnose.Finding]) -> None:
    """Diagnose (unless the watch already did), roll back (or say how to clean up), and
    raise: never returns."""
    why = proc.tail(result.stderr or result.stdout, 3) or f"exit {result.code}"
    if findings:
        s.console.error(f"helm upgrade --install {plan.release} stopped: a new pod cannot "
                        "become ready", details=why)
    else:
        s.console.error(f"helm upgrade --install {plan.release} failed", details=why)
        try:
            findings = diagnose.diagnose(diagnose.Place.of(s.settings, s.tools.kubectl))
        except SuiteError as exc:
            s.console.warn(f"could not read the pods for a diagnosis: {exc.message}")
    if findings:
        diagnose.report(s.console, findings)
    else:
        s.console.warn("no failing pod found (the failure may be in the chart or the API call)")
    hint = findings[0].hint if findings else \
        f"inv verify   # or: {s.tools.kubectl.command('get', 'pods', '-n', plan.namespace)}"
    history = s.tools.helm.history(plan.release)
    recovery = recovery_plan(history, before)
    if recovery.action is Recovery.UNCHANGED:
        raise StageFailed(f"deploy failed before Helm changed anything: {why.splitlines()[-1]}",
                          stuck_hint(history, s.tools.helm, plan.release, plan.namespace)
                          or hint)
    if recovery.action is Recovery.NOT_OURS:
        history_cmd = s.tools.helm.command("history", plan.release, "-n", plan.namespace)
        raise StageFailed(
            f"deploy failed, and release {plan.release} has a revision this run did not make "
            f"(revision {recovery.target}, by another run or by hand; this run's would be "
            f"{(before or 0) + 1}): nothing was rolled back, so no other run's work is undone",
            f"{hint}\nlook first: {history_cmd}")
    if recovery.action is Recovery.FIRST_INSTALL:
        raise StageFailed(
            f"the first install of {plan.release} failed (revision {recovery.failed}); "
            "there is no earlier revision to roll back to",
            f"{hint}\nclean up: {uninstall_hint(s.tools.helm, plan.release, plan.namespace)}")
    assert recovery.target is not None
    with s.console.status(f"rolling back {plan.release} to revision {recovery.target}"):
        back = _rollback(s, plan, recovery.target)
    if not back.ok:
        rollback = s.tools.helm.command("rollback", plan.release, str(recovery.target),
                                        "--namespace", plan.namespace)
        uninstall = uninstall_hint(s.tools.helm, plan.release, plan.namespace)
        raise StageFailed(
            f"revision {recovery.failed} failed and the rollback to revision "
            f"{recovery.target} failed too: {proc.tail(back.stderr, 1)}",
            f"{hint}\nthen: {rollback}   (or: {uninstall})")
    s.console.warn(f"rolled back {plan.release} to revision {recovery.target}; "
                   f"revision {recovery.failed} stays in "
                   f"`{s.tools.helm.command('history', plan.release, '-n', plan.namespace)}` "
                   "as failed")
    raise StageFailed(f"deploy failed (revision {recovery.failed}); the release runs revision "
                      f"{recovery.target} again", hint)


def stuck_statefulset_pods(objects: Sequence[dict[str, Any]]) -> list[str]:
    """Pods a StatefulSet will not replace by itself (pure): of an older revision than the
    set's ``updateRevision`` and not Ready. Kubernetes documents this "forced rollback": after
    reverting a template that never became Ready, the broken pod must be deleted by hand."""
    sets = {str((o.get("metadata") or {}).get("name")): str((o.get("status") or {}).get(
        "updateRevision", "")) for o in objects if o.get("kind") == "StatefulSet"}
    stuck = []
    for pod in objects:
        if pod.get("kind") != "Pod":
            continue
        meta = pod.get("metadata") or {}
        owner = next((r.get("name") for r in meta.get("ownerReferences") or []
                      if r.get("kind") == "StatefulSet"), None)
        want = sets.get(str(owner)) if owner else None
        revision = (meta.get("labels") or {}).get("controller-revision-hash")
        ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                    for c in (pod.get("status") or {}).get("conditions") or [])
        if want and revision != want and not ready and not meta.get("deletionTimestamp"):
            stuck.append(str(meta.get("name")))
    return stuck


def _rollback(s: Session, plan: DeployPlan, target: int) -> proc.ToolResult:
    """``helm rollback --wait``, deleting the embedded PostgreSQL's pod meanwhile when it is
    stuck on the failed revision (a StatefulSet does not replace it by itself)."""
    kube = s.tools.kubectl
    running = s.tools.helm.start(*rollback_args(plan.release, plan.namespace, target,
                                                plan.timeout),
                                 timeout=plan.timeout + TIMEOUT_MARGIN)
    deleted: set[str] = set()
    with running.watched():  # Ctrl-C stops the rollback too, never leaves it running
        while (result := running.wait(WATCH_SECONDS)) is None:
            objects = kube.items("statefulsets,pods", diagnose.APP_SELECTOR, check=False)
            for pod in stuck_statefulset_pods(objects):
                if pod not in deleted:
                    kube.run("delete", "pod", pod, "-n", plan.namespace, "--wait=false",
                             check=False)
                    deleted.add(pod)
                    s.console.info(f"deleted pod {pod}: it was stuck on the failed revision, "
                                   "and a StatefulSet does not replace such a pod by itself")
    return result


def _dry_run(s: Session) -> Release:
    """Render with the values a deploy would use and diff against the current release."""
    settings = s.settings
    doctor.require(s, "helm")
    refs = images.current_images(settings)
    secret: secrets.ClusterSecret | None = None
    try:
        secret = secrets.cluster_secret(s)
    except SuiteError as exc:  # not known to be missing: not claimed to be
        s.console.warn(f"cannot read Secret {settings.secret_name}: {exc.message}")
    else:
        if secret is None:
            s.console.warn(f"no Secret {settings.secret_name} yet: a deploy would refuse",
                           "inv secrets")
    try:
        missing = images.missing_images(s, refs)
    except SuiteError as exc:
        s.console.warn(f"cannot check the images in the target daemon: {exc.message}")
        missing = []
    if missing:
        s.console.warn("not built yet: " + ", ".join(r.ref for r in missing), "inv build")
    values = chart_values(refs, secret, settings)
    rendered = chart.render(s.c, settings, values)
    current = s.tools.helm.manifest(settings.release)
    if current is None:
        s.console.info(f"release {settings.release} is not installed in "
                       f"{settings.namespace}, context {s.tools.context} (or the cluster is "
                       "unreachable): everything would be created")
    changes = manifest_changes(current or "", rendered)
    for change in changes:
        s.console.heading(f"{change.kind}: {change.key}")
        s.console.diff(change.diff)
    summary = {k: sum(1 for c in changes if c.kind == k) for k in ("add", "change", "remove")}
    if changes:
        s.console.info(f"dry run (context {s.tools.context}): {summary['add']} to add, "
                       f"{summary['change']} to change, {summary['remove']} to remove; "
                       "nothing was applied")
    else:
        s.console.success(f"dry run (context {s.tools.context}): the release already matches "
                          "the chart; nothing to change")
    return Release(settings.release, settings.namespace, 0, "dry-run")
