"""The one module that owns terminal output (rich), like hatch's ``Terminal``.

Stages and tasks call a :class:`Console`; nothing else imports rich. Off a TTY, or with
``NO_COLOR`` / ``--no-color``, everything degrades to plain lines. Every string passes
through :meth:`Console.redact`, so a registered secret value can never be printed.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from rich.console import Console as RichConsole
from rich.console import Group
from rich.filesize import decimal
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

MASK = "••••"


def mask(value: str | None) -> str:
    """How a secret is shown: never its content, at most its length."""
    if not value:
        return "(empty)"
    return f"{MASK} ({len(value)} chars)"



def human_size(size: int) -> str:
    """Bytes in decimal units, as docker shows image sizes (rich's filesize)."""
    return decimal(size)

@dataclass(frozen=True)
class CheckResult:
    """One line of a check table (doctor, verify): name, ok, seconds, detail, fix."""

    name: str
    ok: bool
    seconds: float = 0.0
    detail: str = ""
    hint: str | None = None
    required: bool = True

    @property
    def status(self) -> str:
        if self.ok:
            return "pass"
        return "FAIL" if self.required else "warn"


@dataclass
class _Track:
    step: str = ""
    state: str = "waiting"
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=4))


class StepTracker:
    """Live view of several parallel jobs (e.g. image builds): step N/M and last lines."""

    def __init__(self, console: Console, names: Sequence[str], live: Live | None):
        self._console = console
        self._live = live
        self._tracks = {name: _Track() for name in names}

    def update(self, name: str, *, step: str | None = None, line: str | None = None) -> None:
        track = self._tracks[name]
        if step is not None and step != track.step:
            track.step = step
            track.state = "running"
            if self._live is None:
                self._console.info(f"[{name}] {step}")
        if line is not None and line.strip():
            track.lines.append(self._console.redact(line.rstrip()))
        self._refresh()

    def finish(self, name: str, state: str) -> None:
        self._tracks[name].state = state
        if self._live is None:
            self._console.info(f"[{name}] {state}")
        self._refresh()

    def _render(self) -> Group:
        parts: list[Any] = []
        for name, track in self._tracks.items():
            head = Text.assemble((f"{name}", "bold"), f"  {track.state}  ", (track.step, "cyan"))
            parts.append(head)
            for line in track.lines:
                parts.append(Text("    " + line[:160], style="dim"))
        return Group(*parts)

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.update(self._render())


class _LineSink(io.TextIOBase):
    """File-like adapter for streamed tool output (see ``Console.line_sink``)."""

    def __init__(self, console: Console):
        self._console = console
        self._buffer = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._buffer += text
        *lines, self._buffer = self._buffer.split("\n")
        for line in lines:
            self._console.info(line)
        return len(text)

    def flush(self) -> None:
        if self._buffer:
            self._console.info(self._buffer)
            self._buffer = ""


INV_WORD = re.compile(r"(?<![\w./-])inv(?= [a-z-])")


def runnable_inv(argv0: str, on_path: str | None) -> str:
    """How the user can run ``inv`` again (pure): ``inv`` when that is what PATH finds,
    else the path of the one running (``.venv/bin/inv`` from onboarding, not activated)."""
    path = Path(argv0)
    if path.name not in ("inv", "invoke"):  # python -m invoke, a test: leave hints alone
        return "inv"
    if on_path is not None and Path(on_path).resolve() == path.resolve():
        return "inv"
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path.resolve())


class Console:
    def __init__(self, *, no_color: bool = False, file: IO[str] | None = None,
                 err_file: IO[str] | None = None, inv: str = "inv"):
        no_color = no_color or bool(os.environ.get("NO_COLOR"))
        self._out = RichConsole(file=file, no_color=no_color, highlight=False,
                                soft_wrap=True, emoji=False)
        self._err = RichConsole(file=err_file or file or sys.stderr, no_color=no_color,
                                highlight=False, soft_wrap=True, emoji=False)
        self._secrets: set[str] = set()
        self.no_color = no_color
        self._inv = inv

    def command(self, text: str) -> str:
        """A hint as it runs here: ``inv …`` becomes ``.venv/bin/inv …`` when ``inv`` is not
        on PATH (onboarding's virtualenv was never activated)."""
        return text if self._inv == "inv" else INV_WORD.sub(self._inv, text)

    # -- secrets ---------------------------------------------------------------
    def register_secret(self, *values: str | None) -> None:
        """Values that must never be printed; ``redact`` replaces them everywhere."""
        for value in values:
            if value and len(value) >= 4:
                self._secrets.add(value)

    def redact(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        return text

    # -- plain messages ----------------------------------------------------------
    @property
    def interactive(self) -> bool:
        return self._out.is_terminal

    def _print(self, text: str, style: str | None = None, *, err: bool = False) -> None:
        target = self._err if err else self._out
        target.print(Text(self.redact(text), style=style or ""))

    def step(self, n: int, total: int, title: str) -> None:
        self._print(f"[{n}/{total}] {title}", "bold blue")

    def heading(self, title: str) -> None:
        self._print(f"── {title}", "bold")

    def info(self, message: str) -> None:
        self._print(message)

    def detail(self, message: str) -> None:
        self._print("  " + message, "dim")

    def aside(self, message: str) -> None:
        """For the reader, not for ``$(...)``: dim, on stderr."""
        self._print(message, "dim", err=True)

    def success(self, message: str) -> None:
        self._print(f"✓ {message}", "green")

    def warn(self, message: str, hint: str | None = None) -> None:
        self._print(f"! {message}", "yellow", err=True)
        if hint:
            self._print(f"  fix: {self.command(hint)}", "yellow", err=True)

    def error(self, message: str, hint: str | None = None, details: str | None = None) -> None:
        self._print(f"✗ {message}", "bold red", err=True)
        if details:
            for line in details.splitlines():
                self._print(f"  │ {line}", "red", err=True)
        if hint:
            self._print(f"  fix: {self.command(hint)}", "bold", err=True)

    def confirm(self, question: str, *, default: bool = False) -> bool:
        """Ask yes/no on the terminal (callers refuse up front when not interactive)."""
        from rich.prompt import Confirm

        return Confirm.ask(self.redact(question), console=self._err, default=default)

    def line_sink(self) -> io.TextIOBase:
        """A writable stream whose complete lines are printed (redacted) like ``info``."""
        return _LineSink(self)

    def diff(self, lines: Iterable[str]) -> None:
        """A unified diff: additions green, removals red, file and hunk headers styled."""
        for line in lines:
            line = line.rstrip("\n")
            if line.startswith(("+++", "---")):
                style = "bold"
            elif line.startswith("@@"):
                style = "cyan"
            elif line.startswith("+"):
                style = "green"
            elif line.startswith("-"):
                style = "red"
            else:
                style = "dim"
            self._print(line, style)

    def json(self, payload: Any) -> None:
        """Machine output: one JSON document on stdout, nothing else decorated."""
        self._out.print(self.redact(json.dumps(payload, indent=2, sort_keys=True)),
                        markup=False, highlight=False)

    # -- tables ------------------------------------------------------------------
    def table(self, title: str | None, columns: Sequence[str],
              rows: Iterable[Sequence[Any]]) -> None:
        table = Table(title=title, show_lines=False, title_justify="left")
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*(escape(self.redact(str(cell))) for cell in row))
        self._out.print(table)

    def checks(self, title: str, results: Sequence[CheckResult]) -> None:
        """A check table (check, status, time, detail) followed by the fixes."""
        styled = {"pass": "[green]pass[/]", "FAIL": "[bold red]FAIL[/]", "warn": "[yellow]warn[/]"}
        table = Table(title=title, title_justify="left")
        for column in ("check", "status", "time", "detail"):
            table.add_column(column, overflow="fold")
        for r in results:
            table.add_row(escape(r.name), styled[r.status], f"{r.seconds:.2f}s",
                          escape(self.redact(r.detail)))
        self._out.print(table)

    def summary(self, results: Sequence[CheckResult], *, what: str = "checks") -> None:
        """krane-style closing summary: what passed, what failed and why, and the fixes."""
        failed = [r for r in results if not r.ok and r.required]
        warned = [r for r in results if not r.ok and not r.required]
        passed = [r for r in results if r.ok]
        if failed:
            self._print(f"Result: FAILURE — {len(failed)} of {len(results)} {what} failed",
                        "bold red")
        else:
            self._print(f"Result: SUCCESS — {len(passed)} of {len(results)} {what} passed",
                        "bold green")
        for r in failed + warned:
            self._print(f"  • {r.name}: {r.detail}", "red" if r.required else "yellow")
            if r.hint:
                for line in self.command(r.hint).splitlines():
                    self._print(f"      fix: {line}")

    # -- progress ----------------------------------------------------------------
    @contextmanager
    def status(self, message: str) -> Iterator[None]:
        """A spinner on a TTY; a plain start line and a timed end line otherwise."""
        started = time.monotonic()
        if self.interactive:
            with self._out.status(self.redact(message)):
                yield
        else:
            self._print(f"… {message}")
            yield
            self._print(f"  done in {time.monotonic() - started:.1f}s", "dim")

    @contextmanager
    def tracker(self, names: Sequence[str]) -> Iterator[StepTracker]:
        """Live per-job view (step N/M, last lines); plain step lines off a TTY."""
        if self.interactive:
            with Live(console=self._out, refresh_per_second=8, transient=False) as live:
                tracker = StepTracker(self, names, live)
                tracker._refresh()
                yield tracker
        else:
            yield StepTracker(self, names, None)
