"""One mutating run at a time: a ``coordination.k8s.io/v1`` Lease per cluster, namespace and
release (``todo-deploy-<release>`` in the namespace, in the run's kube-context).

``inv up``, ``inv deploy``, ``inv secrets`` and ``inv down`` hold it while they change
anything (two terminals, a watcher and a manual run, two CI jobs on one cluster would
otherwise interleave their Secret, upgrade and rollback); ``verify``, ``status`` and
``doctor`` never take it. As controllers' leader election does:

- the holder is ``user@host:pid inv TASK``; a background thread renews ``renewTime`` every
  third of ``leaseDurationSeconds`` (``lock.lease_seconds``, 30) while the run lasts, and the
  run deletes the Lease at its end, also on an error or Ctrl-C;
- every write is a compare-and-swap: ``kubectl create`` fails ``AlreadyExists`` when another
  run holds it, ``kubectl replace`` with the resourceVersion read fails ``Conflict`` when it
  changed since, and the release is a DELETE with that resourceVersion as its precondition,
  so two takers never both win and no run deletes a Lease another run took over;
- a Lease whose holder stopped renewing it (the run was killed, the machine slept) for longer
  than its duration is taken over, naming the old holder; one held by a live run is refused
  at once (exit 3, who holds it, since when, the fix) or, with ``--wait-lock[=SECONDS]``
  (``lock.wait``), waited for with progress.

Expiry is judged from the Lease's ``renewTime`` against this machine's clock: clocks that
disagree by more than a few seconds (two CI machines, one cluster) shift it by that much.

Cost on the no-op path: one ``kubectl create`` and one ``kubectl delete`` (renewals start
only after a third of the lease duration).
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from . import proc
from .errors import PrereqError
from .session import Session
from .tools import Kubectl, NotFound, is_not_found

LEASE_PREFIX = "todo-deploy-"
LOCK_KEY = ("run-lock",)  # the run memo's key of the lock the run holds
POLL_SECONDS = 2.0  # how often a waiting run looks at the Lease again
ALREADY_EXISTS = "Error from server (AlreadyExists)"
CONFLICT = "Error from server (Conflict)"


class LockHeld(PrereqError):
    """Another live run holds the lock (exit 3: the cluster is not free for this run yet)."""


@dataclass(frozen=True)
class Lease:
    """What the Lease says (``kubectl get lease -o json``)."""

    holder: str
    seconds: int
    acquired: float | None  # epoch seconds
    renewed: float | None
    transitions: int
    resource_version: str


class Verdict(StrEnum):
    FREE = "free"  # nobody holds it (released, never held): take it
    MINE = "mine"  # this very run holds it already
    EXPIRED = "expired"  # its holder stopped renewing it: take it over
    HELD = "held"  # a live run holds it: wait or refuse


# -- pure functions --------------------------------------------------------------------------


def lease_name(release: str) -> str:
    return f"{LEASE_PREFIX}{release}"


def identity(task: str, *, user: str | None = None, host: str | None = None,
             pid: int | None = None) -> str:
    """``user@host:pid inv TASK``: who holds the lock, as a person reads it."""
    return f"{user or _user()}@{host or socket.gethostname()}:{pid or os.getpid()} inv {task}"


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container's uid without a passwd entry
        return f"uid{os.getuid()}"


def micro_time(epoch: float) -> str:
    """A Kubernetes ``MicroTime`` (RFC 3339, microseconds, UTC)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: object) -> float | None:
    """A ``MicroTime`` or RFC 3339 time → epoch seconds (None when absent or unreadable)."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def lease_body(name: str, namespace: str, holder: str, *, now: float, seconds: int,
               acquired: float | None = None, transitions: int = 0,
               resource_version: str = "") -> dict[str, Any]:
    """The Lease this run writes: a create (no ``resource_version``) or a compare-and-swap
    replace of the version it read."""
    metadata: dict[str, Any] = {"name": name, "namespace": namespace,
                                "labels": {"app.kubernetes.io/managed-by": "todo-deploy"}}
    if resource_version:
        metadata["resourceVersion"] = resource_version
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": metadata,
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": seconds,
                     "acquireTime": micro_time(now if acquired is None else acquired),
                     "renewTime": micro_time(now), "leaseTransitions": transitions}}


def parse_lease(stdout: str) -> Lease | None:
    """``kubectl ... lease -o json`` → :class:`Lease` (None on anything else)."""
    try:
        data = json.loads(stdout or "{}")
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict) or data.get("kind") != "Lease":
        return None
    spec = data.get("spec") or {}
    return Lease(holder=str(spec.get("holderIdentity") or ""),
                 seconds=int(spec.get("leaseDurationSeconds") or 0),
                 acquired=parse_time(spec.get("acquireTime")),
                 renewed=parse_time(spec.get("renewTime")),
                 transitions=int(spec.get("leaseTransitions") or 0),
                 resource_version=str((data.get("metadata") or {}).get("resourceVersion", "")))


def expires_at(lease: Lease) -> float | None:
    """When the lease runs out unless renewed (None: it has no time at all)."""
    last = lease.renewed if lease.renewed is not None else lease.acquired
    return None if last is None else last + lease.seconds


def verdict(lease: Lease, me: str, now: float) -> Verdict:
    """Whether this run may take ``lease`` (pure)."""
    if not lease.holder:
        return Verdict.FREE
    if lease.holder == me:
        return Verdict.MINE
    end = expires_at(lease)
    if end is None or now > end:
        return Verdict.EXPIRED
    return Verdict.HELD


def _clock(epoch: float | None) -> str:
    return "?" if epoch is None else datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%S UTC")


def _ago(epoch: float | None, now: float) -> str:
    return "" if epoch is None else f" ({max(0.0, now - epoch):.0f}s ago)"


def held_by(lease: Lease, now: float) -> str:
    """``alice@box:41 inv deploy since 10:04:05 UTC (42s ago), renewed 3s ago`` (pure)."""
    renewed = "" if lease.renewed is None else \
        f", last renewed {max(0.0, now - lease.renewed):.0f}s ago"
    return f"{lease.holder} since {_clock(lease.acquired)}{_ago(lease.acquired, now)}{renewed}"


def refusal(lease: Lease, now: float, *, where: str, task: str, waited: float) -> LockHeld:
    """The error of a run that finds the lock held by a live run (pure): who, since when, and
    the fix (wait for it, or let it expire if that run is gone)."""
    after = f" after waiting {waited:.0f}s" if waited else ""
    return LockHeld(
        f"{where} is locked by another run{after}: {held_by(lease, now)}; nothing was "
        "changed by this run",
        f"inv {task} --wait-lock   # waits for it (up to 900s; --wait-lock=SECONDS, or "
        f"lock.wait in invoke.yaml); a run that is gone loses the lock by itself at "
        f"{_clock(expires_at(lease))}, {lease.seconds}s after its last renewal")


def takeover_note(lease: Lease, now: float, where: str) -> str:
    """What a run says when it takes over an expired lock (pure)."""
    end = expires_at(lease)
    return (f"took over the lock of {where} from {lease.holder}: it stopped renewing it (last "
            f"at {_clock(lease.renewed)}{_ago(lease.renewed, now)}; it expired "
            f"{max(0.0, now - end):.0f}s ago) — a run that was killed or crashed"
            if end is not None else
            f"took over the lock of {where} from {lease.holder} (its Lease had no time)")


def delete_options(resource_version: str) -> str:
    """The DELETE body that removes the Lease only while it is still the version this run
    wrote (another run that took it over keeps it)."""
    return json.dumps({"kind": "DeleteOptions", "apiVersion": "v1",
                       "preconditions": {"resourceVersion": resource_version}})


def lease_path(namespace: str, name: str) -> str:
    return f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}"


# -- the lock ----------------------------------------------------------------------------------


class RunLock:
    """The Lease of one run: acquire (wait or refuse), renew in the background, release."""

    def __init__(self, s: Session, task: str, *, create_namespace: bool = True,
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep, poll: float = POLL_SECONDS):
        settings = s.settings
        self.s, self.task = s, task
        self.kube: Kubectl = s.tools.kubectl
        self.namespace, self.name = settings.namespace, lease_name(settings.release)
        self.seconds = int(settings.lock_seconds)
        self.me = identity(task)
        self.where = (f"release {settings.release} in namespace {settings.namespace} "
                      f"(context {s.tools.context})")
        self.clock, self.sleep, self.poll = clock, sleep, poll
        self.resource_version = ""
        self.create_namespace = create_namespace
        self.absent = False  # no namespace, and this task would not create one: no lock
        self.acquired = 0.0
        self.transitions = 0
        self.lost = ""  # why the lock is no longer this run's ("" while it is)
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    # -- kubectl -----------------------------------------------------------------------------

    def _write(self, verb: str, body: dict[str, Any]) -> proc.ToolResult:
        return self.kube.run(verb, "-f", "-", "-n", self.namespace, "-o", "json",
                             stdin=json.dumps(body), check=False,
                             timeout=min(self.kube.timeout, max(5.0, self.seconds)))

    def _took(self, result: proc.ToolResult) -> bool:
        """A create or replace that worked (its new version kept); False when another run
        won the race (AlreadyExists, Conflict); any other failure is raised."""
        if result.ok:
            lease = parse_lease(result.stdout)
            self.resource_version = lease.resource_version if lease else ""
            return True
        if ALREADY_EXISTS in result.stderr or CONFLICT in result.stderr:
            return False
        raise proc.ToolError(result.argv, result.code, result.stderr,
                             "inv doctor   # can this kube-context create Leases "
                             f"(coordination.k8s.io) in namespace {self.namespace}?")

    def _create(self, now: float) -> bool:
        body = lease_body(self.name, self.namespace, self.me, now=now, seconds=self.seconds)
        result = self._write("create", body)
        if not result.ok and is_not_found("kubectl", result.stderr):  # no namespace yet
            if not self.create_namespace:  # nothing there to change, nor to lock
                self.absent = True
                return True
            self.kube.run("create", "namespace", self.namespace, check=False)
            result = self._write("create", body)
        return self._took(result)

    def _read(self) -> Lease | None:
        try:
            result = self.kube.run("get", "lease", self.name, "-n", self.namespace, "-o",
                                   "json")
        except NotFound:
            return None
        return parse_lease(result.stdout)

    def _replace(self, lease: Lease, now: float) -> bool:
        return self._took(self._write("replace", lease_body(
            self.name, self.namespace, self.me, now=now, seconds=self.seconds,
            acquired=self.acquired, transitions=self.transitions,
            resource_version=lease.resource_version)))

    # -- acquire -----------------------------------------------------------------------------

    def acquire(self, wait: float) -> None:
        """Take the lock; when a live run holds it, wait up to ``wait`` seconds (0: refuse at
        once) with progress, then raise :class:`LockHeld`."""
        started = time.monotonic()
        exists = False  # known to exist: read it, do not try to create it
        with contextlib.ExitStack() as waiting:
            holder = ""
            while True:
                now = self.clock()
                self.acquired, self.transitions = now, 0
                if not exists and self._create(now):
                    return
                lease = self._read()
                exists = lease is not None
                if lease is None:  # released between the create and the read: again
                    continue
                found = verdict(lease, self.me, now)
                if found is not Verdict.HELD:
                    if found is Verdict.MINE and lease.acquired is not None:
                        self.acquired = lease.acquired
                    self.transitions = lease.transitions + (found is not Verdict.MINE)
                    if self._replace(lease, now):
                        if found is Verdict.EXPIRED:
                            self.s.console.warn(takeover_note(lease, now, self.where))
                        return
                    continue  # another run took it first: look again
                waited = time.monotonic() - started
                if waited >= wait:
                    raise refusal(lease, now, where=self.where, task=self.task,
                                  waited=waited if wait else 0.0)
                if lease.holder != holder:  # the first wait, or a new holder: say who
                    if not holder:
                        waiting.enter_context(self.s.console.status(
                            f"waiting up to {wait:.0f}s for the lock of {self.where}"))
                    self.s.console.detail(f"held by {held_by(lease, now)}")
                    holder = lease.holder
                self.sleep(min(self.poll, max(0.1, wait - waited)))

    # -- renew, release --------------------------------------------------------------------------

    def renew(self) -> bool:
        """One renewal: a compare-and-swap on the version this run wrote last; False, with
        :attr:`lost` set, when the Lease changed meanwhile (another run took it over after
        this one failed to renew it in time, or someone deleted it)."""
        result = self._write("replace", lease_body(
            self.name, self.namespace, self.me, now=self.clock(), seconds=self.seconds,
            acquired=self.acquired, transitions=self.transitions,
            resource_version=self.resource_version))
        if not is_not_found("kubectl", result.stderr) and self._took(result):
            return True
        self.lost = (f"the lock of {self.where} changed under this run "
                     f"({proc.tail(result.stderr, 1)})")
        return False

    def start_renewing(self) -> None:
        if self.absent:
            return
        every = max(1.0, self.seconds / 3)

        def loop() -> None:
            while not self._stop.wait(every):
                try:
                    if not self.renew():
                        return
                except Exception as exc:  # an API server restarting: tried again
                    self.s.console.detail(f"renewing the run lock failed (tried again in "
                                          f"{every:.0f}s): {exc}")
        self._renewer = threading.Thread(target=loop, name="todo-deploy-lock", daemon=True)
        self._renewer.start()

    def release(self) -> None:
        """Stop renewing, then delete the Lease if it is still the version this run wrote."""
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
        if self.absent:
            return
        if self.lost:
            self.s.console.warn(f"{self.lost}: another run may have changed the release "
                                "while this one ran",
                                self.kube.command("get", "lease", self.name, "-n",
                                                  self.namespace, "-o", "yaml"))
            return
        result = self.kube.run("delete", "--raw", lease_path(self.namespace, self.name),
                               "-f", "-", stdin=delete_options(self.resource_version),
                               check=False)
        if not result.ok and not is_not_found("kubectl", result.stderr):
            self.s.console.warn(f"could not release the lock of {self.where} "
                                f"({proc.tail(result.stderr, 1)}); it expires by itself "
                                f"{self.seconds}s after its last renewal")


@contextlib.contextmanager
def held(s: Session, task: str, *, create_namespace: bool = True) -> Iterator[RunLock]:
    """Hold the run lock while the block runs (a stage inside ``inv up`` finds the lock the run
    already holds and takes nothing more). ``create_namespace=False``: a namespace that does
    not exist is not created for the Lease (``inv down`` has nothing to remove there)."""
    current = s.recall(LOCK_KEY)
    if isinstance(current, RunLock):
        yield current
        return
    lock = RunLock(s, task, create_namespace=create_namespace)
    lock.acquire(s.settings.lock_wait)
    s.store(LOCK_KEY, lock)
    lock.start_renewing()
    try:
        yield lock
    finally:
        s.forget(LOCK_KEY)
        lock.release()
