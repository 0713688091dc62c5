""".env: read, parse (python-dotenv's own parser), validate, mask, and store generated values.

One module for the file, used by ``inv secrets`` (which turns it into the Secret), by doctor
(its ``.env`` check) and by every task's session (the values its console masks).

- python-dotenv's parser understands ``export``, quotes, ``#`` in quotes, CRLF and a UTF-8 BOM;
  values are never interpolated, never shown (key names and lengths only), never put in argv.
- Every key may be absent or empty (the zero-credential default); absent means empty.
- Generated values are written back with python-dotenv's ``set_key`` (its temporary file next
  to ``.env``, or to its target when ``.env`` is a symlink, which stays one; a UTF-8 BOM is
  kept and never makes a second copy of the first key); the file's mode is never loosened,
  and a ``.env`` others can read is warned about with the ``chmod 600`` fix.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from dotenv import set_key
from dotenv.parser import parse_stream

from .config import Settings
from .errors import ConfigError

DATABASE_URL = "DATABASE_URL"
COHERE_API_KEY = "COHERE_API_KEY"
BETTER_AUTH_SECRET = "BETTER_AUTH_SECRET"
POSTGRES_PASSWORD = "POSTGRES_PASSWORD"
# every key may be absent or empty (the zero-credential default); absent means empty
KNOWN_KEYS = (DATABASE_URL, COHERE_API_KEY, BETTER_AUTH_SECRET, POSTGRES_PASSWORD)
ABSENT_MEANS = {  # what an absent (= empty) key selects, said once in an info line
    DATABASE_URL: "the in-cluster PostgreSQL",
    COHERE_API_KEY: "chatbot disabled",
    BETTER_AUTH_SECRET: "generated and stored",
}
MIN_AUTH_SECRET = 32
URL_SHAPE = "postgresql://USER:PASSWORD@HOST:5432/DBNAME?sslmode=require"
GENERATE_HINT = 'python3 -c "import secrets; print(secrets.token_urlsafe(48))"'


@dataclass(frozen=True)
class Entry:
    value: str | None  # None: the line has a key but no "="
    line: int


@dataclass(frozen=True)
class Problem:
    line: int | None
    key: str | None
    message: str
    fix: str

    def render(self, path: Path) -> str:
        where = f"{path}:{self.line}" if self.line else str(path)
        key = f" {self.key}" if self.key else ""
        return f"{where}{key}: {self.message}\n    fix: {self.fix}"


@dataclass
class EnvFile:
    """What ``.env`` says, with line numbers; never printed with its values."""

    path: Path
    entries: dict[str, Entry] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def value(self, key: str) -> str:
        entry = self.entries.get(key)
        return (entry.value or "") if entry else ""


def read_env_text(path: Path) -> str:
    """Read ``.env`` or raise a ConfigError that says how to get one."""
    if not path.exists():
        raise ConfigError(
            f"{path} does not exist",
            f"cp .env.example {path.name}   (or run scripts/onboard.sh, which does it)",
        )
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        raise ConfigError(f"cannot read {path}: {reason}",
                          f"check the file's permissions and encoding: ls -l {path}") from None


def parse_env(text: str, path: Path) -> EnvFile:
    """Parse with python-dotenv's parser; collect problems and warnings, never values."""
    env = EnvFile(path=path)
    seen: dict[str, int] = {}
    for binding in parse_stream(io.StringIO(text)):
        line = binding.original.line
        if binding.error:
            env.problems.append(Problem(line, _key_hint(binding.original.string), (
                "is not a KEY=VALUE line (an unclosed quote?)"),
                "write KEY=VALUE; quote values that contain spaces or '#': KEY=\"a # b\""))
            continue
        if binding.key is None:  # blank line or comment
            continue
        key = binding.key
        if key in seen:
            env.warnings.append(
                f"{path}:{line} {key} is also set on line {seen[key]}; line {line} wins "
                f"(the last one). Delete the other line.")
        seen[key] = line
        env.entries[key] = Entry(binding.value, line)
    for key in env.entries:
        if key not in KNOWN_KEYS:
            close = difflib.get_close_matches(key, KNOWN_KEYS, n=1)
            env.warnings.append(
                f"{path}:{env.entries[key].line} unknown key {key} is ignored"
                + (f" (did you mean {close[0]}?)" if close else ""))
    return env


def absent_keys_note(env: EnvFile) -> str | None:
    """One info line naming the keys ``.env`` lacks and what their absence selects."""
    absent = [f"{key} ({meaning})" for key, meaning in ABSENT_MEANS.items()
              if key not in env.entries]
    if not absent:
        return None
    return (f"{env.path.name} has no line for " + ", ".join(absent)
            + ": absent is the same as empty")


def permission_warning(path: Path) -> str | None:
    """ssh-style: ``.env`` holds credentials, so group or others must not read it."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None
    if not mode & 0o077:
        return None
    return (f"{path} is readable by {'group and others' if mode & 0o007 else 'its group'} "
            f"(mode {mode:04o}) and holds credentials; fix: chmod 600 {path}")


def _key_hint(raw: str) -> str | None:
    """The key of a malformed line, if it plainly has one (never the value)."""
    head = raw.strip().removeprefix("export ").split("=", 1)[0].strip()
    return head if head.replace("_", "").isalnum() and head.isascii() else None


def validate(env: EnvFile) -> list[Problem]:
    """Problems with the known keys (values are judged, never echoed). Every key may be
    absent: absent means empty (``absent_keys`` says what that selects)."""
    problems = list(env.problems)
    for key in KNOWN_KEYS:
        entry = env.entries.get(key)
        if entry is None:
            continue
        if entry.value is None:
            problems.append(Problem(entry.line, key, "has no '=' and no value",
                                    f"write `{key}=` (empty is allowed) or `{key}=<value>`"))
        elif entry.value and not entry.value.strip():
            problems.append(Problem(entry.line, key, "is blank (only spaces)",
                                    f"leave it empty (`{key}=`) or give a real value"))
    url = env.entries.get(DATABASE_URL)
    if url and url.value and url.value.strip():
        reason = database_url_problem(url.value)
        if reason:
            problems.append(Problem(url.line, DATABASE_URL, reason,
                                    f"use {URL_SHAPE}, or leave it empty for the in-cluster "
                                    "PostgreSQL"))
    auth = env.entries.get(BETTER_AUTH_SECRET)
    if auth and auth.value and auth.value.strip() and len(auth.value) < MIN_AUTH_SECRET:
        problems.append(Problem(
            auth.line, BETTER_AUTH_SECRET,
            f"is {len(auth.value)} characters; at least {MIN_AUTH_SECRET} are required",
            f"leave it empty to have one generated, or: {GENERATE_HINT}"))
    pw = env.entries.get(POSTGRES_PASSWORD)
    if pw and pw.value and len(pw.value.strip()) < 12:
        problems.append(Problem(pw.line, POSTGRES_PASSWORD,
                                f"is {len(pw.value.strip())} characters; use at least 12",
                                "leave it empty to have one generated"))
    return problems


def database_url_problem(url: str) -> str | None:
    """Why ``url`` is not a usable PostgreSQL URL (the message never contains the URL)."""
    if "#" in url:
        return "contains '#': percent-encode it in the password as %23"
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
        _ = parts.port
    except ValueError:
        return "is not a valid URL (bad port or brackets?)"
    if parts.scheme not in ("postgresql", "postgres"):
        shown = parts.scheme if parts.scheme.isalnum() else "?"
        return f"must start with postgresql:// or postgres:// (found scheme {shown!r})"
    if not host:
        return "has no host"
    if not parts.path.strip("/"):
        return "has no database name (the path after the host)"
    return None


def read_env(path: Path) -> EnvFile:
    """Read and parse ``.env``; its warnings include loose file permissions."""
    env = parse_env(read_env_text(path), path)
    loose = permission_warning(path)
    if loose:
        env.warnings.insert(0, loose)
    return env


def load(settings: Settings) -> EnvFile:
    """Read, parse and validate ``.env``; raise one ConfigError listing every problem."""
    return check(settings, read_env(settings.env_file))


def check(settings: Settings, env: EnvFile) -> EnvFile:
    problems = validate(env)
    if problems:
        listing = "\n".join(p.render(settings.env_file) for p in problems)
        raise ConfigError(
            f"{settings.env_file} has {len(problems)} problem(s); nothing was applied",
            "fix the lines above, then re-run: inv secrets --dry-run",
            details=listing)
    return env


def values_to_mask(path: Path) -> list[str]:
    """Every form in which a value of ``.env`` may appear in output, for the console to mask
    (a crash log printing its DATABASE_URL, the password alone, percent-encoded or not).

    ``cli.session`` registers them for every task (each task has its own console). Best
    effort: a missing or unreadable ``.env`` gives nothing and is not an error here.
    """
    try:
        env = parse_env(read_env_text(path), path)
    except ConfigError:
        return []
    values = [env.value(key) for key in KNOWN_KEYS]
    url = env.value(DATABASE_URL).strip()
    if url:  # the password alone, too: a log may print it without the rest of the URL
        with contextlib.suppress(ValueError):  # urlsplit: "Invalid IPv6 URL"
            password = urlsplit(url).password or ""
            values += [password, unquote(password)]  # as written, and as the driver gets it
    embedded = env.value(POSTGRES_PASSWORD)
    if embedded:  # as it appears inside the composed DATABASE_URL
        values.append(quote(embedded, safe=""))
    return [v for v in values if v]


def file_encoding(path: Path) -> str:
    """The encoding to rewrite ``path`` in (pure but for reading 3 bytes): ``utf-8-sig`` for
    a file that starts with a UTF-8 BOM (an editor on Windows writes one), so its first key is
    read as itself, not as ``\ufeffKEY``, and the BOM is written back; else ``utf-8``."""
    try:
        with path.open("rb") as stream:
            head = stream.read(3)
    except OSError:
        return "utf-8"
    return "utf-8-sig" if head == b"\xef\xbb\xbf" else "utf-8"


def persist_generated(path: Path, generated: Mapping[str, str]) -> None:
    """Store generated values in ``.env`` with python-dotenv's ``set_key`` (>= 1.2.2: its
    temporary file is made next to ``.env``, never in the system temp directory, and the
    mode is kept). A new file is made private; an existing one is never loosened.

    A symlinked ``.env`` (dotfiles kept elsewhere) stays a symlink: the values go into its
    target (``follow_symlinks``; without it the rename would put a regular file in the
    link's place). A ``.env`` with a BOM keeps it and gets no second copy of its first key."""
    existed = path.exists()
    encoding = file_encoding(path)
    for key, value in generated.items():
        set_key(path, key, value, quote_mode="never", encoding=encoding, follow_symlinks=True)
    if not existed:
        path.chmod(0o600)  # follows a (dangling) link to the new target
