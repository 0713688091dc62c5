"""Faults during a run: a Ctrl-C stops the tools and the run whatever ``check=`` a call had;
a helm started in the background never outlives the watch that waits for it; a transient
API-server failure while a rollout is watched is retried with backoff, anything else (and a
fault that lasts) ends the watch, with helm stopped and the error saying so.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from invoke import Context, MockContext, Result

from tests.conftest import FakeTools
from tests.fakes.canned import EMPTY_LIST, history, upgraded
from tests.unit.test_deploy_flow import cluster_up, session, settings_in
from tests.unit.test_verify import EVENTS, WORKLOADS, kube, text
from tests.unit.test_verify_checks import Clock
from todo_deploy import deploy, proc, verify
from todo_deploy.config import Settings
from todo_deploy.errors import StageFailed

REFUSED = ("The connection to the server 127.0.0.1:8443 was refused - did you specify the "
           "right host or port?\n")
FORBIDDEN = ('Error from server (Forbidden): pods is forbidden: User "dev" cannot list '
             'resource "pods" in API group "" in the namespace "todo"\n')
CANCELLED = "Error: UPGRADE FAILED: context canceled\n"
PODS = r"^get pods -n todo -l app=todo-app -o json"


@pytest.fixture
def sigint_caught() -> Iterator[None]:
    """SIGINT as in a terminal's foreground job (a CI shell may start us with it ignored)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def ctrl_c_in(seconds: float) -> threading.Timer:
    timer = threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    return timer


# -- Ctrl-C ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("sigint_caught")
@pytest.mark.parametrize("check", [True, False])
def test_ctrl_c_during_a_tool_stops_it_and_the_run_whatever_check_says(
        check: bool, tmp_path: Path) -> None:
    """invoke forwards the Ctrl-C and returns the tool's result: with ``check=False`` the
    caller used to carry on with the next command as if the tool had merely failed."""
    marker = tmp_path / "still-running"
    started = time.monotonic()
    timer = ctrl_c_in(0.5)
    try:
        with pytest.raises(KeyboardInterrupt):
            proc.run(Context(), ["sh", "-c", f"sleep 30; touch {marker}"], check=check,
                     timeout=60)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 10
    time.sleep(0.2)
    assert not marker.exists()


def test_a_tool_that_exits_130_on_its_own_is_no_ctrl_c() -> None:
    result = proc.run(Context(), ["sh", "-c", "exit 130"], check=False)
    assert result.code == 130


def test_tools_run_without_bash_on_path(tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """invoke's shell is ``bash``, looked up on PATH: a PATH of the user's tools only made
    every call a FileNotFoundError traceback instead of "kubectl is not installed"."""
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(proc.ToolMissing) as err:
        proc.run(Context(), ["kubectl", "version"])
    assert err.value.tool == "kubectl"


# -- a background tool and the block that watches it ----------------------------------------


def test_a_watch_that_fails_stops_its_background_tool_and_says_so() -> None:
    tool = proc.start(["sh", "-c", "sleep 30"], timeout=60)
    with pytest.raises(StageFailed) as err, tool.watched(grace=5):
        raise StageFailed("cannot read the pods")
    assert tool.process.returncode == -signal.SIGTERM
    assert err.value.message == "cannot read the pods (sh -c was stopped)"


def test_ctrl_c_during_a_watch_stops_the_background_tool() -> None:
    tool = proc.start(["sh", "-c", "sleep 30"], timeout=60)
    with pytest.raises(KeyboardInterrupt), tool.watched(grace=5):
        raise KeyboardInterrupt
    assert tool.process.returncode == -signal.SIGTERM


def test_a_background_tool_has_its_own_process_group() -> None:
    """A terminal's Ctrl-C reaches inv only: inv stops the tool (and waits), not a race."""
    tool = proc.start(["sleep", "30"], timeout=60)
    try:
        assert os.getpgid(tool.process.pid) == tool.process.pid != os.getpgid(0)
    finally:
        tool.stop(grace=5)


def test_a_watch_that_ends_normally_leaves_the_finished_tool_alone() -> None:
    tool = proc.start(["sh", "-c", "echo done"], timeout=60)
    with tool.watched():
        result = tool.wait(10)
    assert result is not None and result.stdout == "done\n"


# -- what is transient -----------------------------------------------------------------------


def error(stderr: str, code: int = 1) -> proc.ToolError:
    return proc.ToolError(["kubectl", "get", "pods"], code, stderr)


@pytest.mark.parametrize("stderr", [
    REFUSED,
    "Unable to connect to the server: dial tcp 10.0.0.1:6443: i/o timeout\n",
    "Unable to connect to the server: net/http: TLS handshake timeout\n",
    "Error from server (ServiceUnavailable): the server is currently unable to handle the "
    "request\n",
    "Error from server: etcdserver: request timed out\n",
    "Unable to connect to the server: unexpected EOF\n",
    "error: http2: server sent GOAWAY and closed the connection\n",
    "Error from server (Timeout): the server was unable to return a response in the time "
    "allotted\n",
])
def test_api_server_restarts_and_timeouts_are_transient(stderr: str) -> None:
    assert proc.transient(error(stderr))


def test_a_tool_that_timed_out_is_transient() -> None:
    assert proc.transient(error("timed out after 30s", code=-1))


@pytest.mark.parametrize("stderr", [
    FORBIDDEN,
    "error: You must be logged in to the server (Unauthorized)\n",
    'Error from server (NotFound): namespaces "todo" not found\n',
    "error: unknown flag: --bogus\n",
])
def test_answers_and_usage_errors_are_not_transient(stderr: str) -> None:
    assert not proc.transient(error(stderr))


def test_a_missing_tool_is_not_transient() -> None:
    assert not proc.transient(proc.ToolMissing("kubectl"))


def test_retry_backs_off_doubling_to_its_cap_then_gives_up_at_its_budget() -> None:
    clock = Clock()
    retry = proc.Retry(budget=20.0, first=1.0, cap=4.0, clock=clock)
    waits = []
    with pytest.raises(proc.ToolError) as err:
        while True:
            wait = retry.failed(error(REFUSED))
            waits.append(wait)
            clock.sleep(wait)
    assert waits == [1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0]
    assert err.value.message.endswith("(still failing after 23s, 8 attempts)")


def test_retry_starts_afresh_after_a_read_that_worked() -> None:
    clock = Clock()
    retry = proc.Retry(budget=5.0, clock=clock)
    assert retry.failed(error(REFUSED)) == 1.0
    clock.sleep(4.0)
    retry.ok()
    clock.sleep(4.0)
    assert retry.failed(error(REFUSED)) == 1.0  # not 2.0, and the 8 s are not one fault


def test_retry_raises_a_refusal_at_once() -> None:
    refused = error(FORBIDDEN)
    with pytest.raises(proc.ToolError) as err:
        proc.Retry().failed(refused)
    assert err.value is refused and "still failing" not in err.value.message


# -- verify's rollout watch ------------------------------------------------------------------


def test_verify_watch_rides_out_an_api_server_restart() -> None:
    clock = Clock()
    down = Result(stderr=REFUSED, exited=1)
    c = MockContext(run={WORKLOADS: [Result(text("workloads-backend-starting")), down, down,
                                     Result(text("workloads-complete"))],
                         EVENTS: Result(text("events-healthy"))})
    lines: list[str] = []
    watch = verify.watch_rollout(kube(c), Settings(), poll=2.0, progress=lines.append,
                                 clock=clock, sleep=clock.sleep)
    assert watch.ok
    assert clock.slept == [2.0, 1.0, 2.0]  # the poll, then the backoff
    assert any("did not answer" in line and "asking again in 1s" in line for line in lines)


def test_verify_watch_does_not_retry_a_cluster_that_never_answered() -> None:
    clock = Clock()
    c = MockContext(run={WORKLOADS: Result(stderr=REFUSED, exited=1)})
    with pytest.raises(proc.ToolError):
        verify.watch_rollout(kube(c), Settings(), clock=clock, sleep=clock.sleep)
    assert clock.slept == []


def test_verify_watch_gives_up_on_a_lasting_fault_with_how_long_it_tried(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify, "WATCH_RETRY_SECONDS", 10.0)
    clock = Clock()
    down = Result(stderr=REFUSED, exited=1)
    c = MockContext(run={WORKLOADS: [Result(text("workloads-backend-starting"))] + [down] * 20,
                         EVENTS: Result(text("events-healthy"))})
    with pytest.raises(proc.ToolError) as err:
        verify.watch_rollout(kube(c), Settings(), poll=2.0, clock=clock, sleep=clock.sleep)
    assert "still failing after" in err.value.message


# -- deploy's watch while helm upgrade --wait runs --------------------------------------------


def flaky_pods(f: FakeTools, stderr: str, times: int | None) -> None:
    f.rule("kubectl", PODS, times=1, stdout=EMPTY_LIST)  # before helm starts: it answers
    f.rule("kubectl", PODS, times=times, code=1, stderr=stderr)


def test_deploy_rides_out_an_api_server_restart_while_helm_waits(
        fake_tools: FakeTools, tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    cluster_up(fake_tools, settings, 3)
    fake_tools.rule("helm", r"^history", stdout=history((1, "deployed")))
    flaky_pods(fake_tools, REFUSED, times=2)
    fake_tools.rule("helm", r"^upgrade --install", hang=6, stdout=upgraded(2))
    s, out = session(settings)

    release = deploy.run_deploy(s)

    assert release.revision == 2
    assert "was refused" in out.getvalue() and "asking again in 1s" in out.getvalue()
    assert len([a for a in fake_tools.argvs("kubectl") if a[:2] == ["get", "pods"]]) >= 4


def deploy_while_pods_fail_for_good(fake_tools: FakeTools, tmp_path: Path,
                                    stderr: str) -> tuple[StageFailed, float]:
    """run_deploy with helm hanging and every pod read after the first failing with
    ``stderr``: the error it ends with, and how long it took."""
    settings = settings_in(tmp_path)
    cluster_up(fake_tools, settings, 3)
    fake_tools.rule("helm", r"^history", stdout=history((1, "deployed")))
    flaky_pods(fake_tools, stderr, times=None)
    fake_tools.rule("helm", r"^upgrade --install", hang=120, on_term=CANCELLED)
    s, _ = session(settings)
    started = time.monotonic()
    with pytest.raises(StageFailed) as err:
        deploy.run_deploy(s)
    return err.value, time.monotonic() - started


def test_deploy_stops_helm_when_the_api_server_stays_away_and_says_so(
        fake_tools: FakeTools, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deploy, "WATCH_RETRY_SECONDS", 3.0)

    err, elapsed = deploy_while_pods_fail_for_good(fake_tools, tmp_path, REFUSED)

    assert elapsed < 40
    assert "still failing after" in err.message
    assert err.message.endswith("(helm upgrade was stopped)")


def test_deploy_stops_helm_at_once_when_the_pods_cannot_be_read_for_good(
        fake_tools: FakeTools, tmp_path: Path) -> None:
    err, elapsed = deploy_while_pods_fail_for_good(fake_tools, tmp_path, FORBIDDEN)

    assert elapsed < 30
    assert "Forbidden" in err.message and "still failing" not in err.message
    assert err.message.endswith("(helm upgrade was stopped)")
