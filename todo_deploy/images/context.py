"""What goes into one image: the filtered build context, its content digest and its tar.

- The context is the files of the configured source directory after the ignore rules of
  ``docker/<component>/Dockerfile.dockerignore`` (BuildKit's naming) plus the hard-coded
  ``.env`` exclusions, collected with docker-py's own matcher.
- Exactly those files (path, mode, content), the Dockerfile, the build args and the base
  image name(s) make the content digest; its first 12 hex digits are the image's tag.
- The same file list is sent to the daemon as a tar (``context_tar``).

No daemon is involved here.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import stat
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ..config import ImageConfig
from ..errors import ConfigError, StageFailed
from .dockerfile import base_images

COMPONENTS = ("backend", "frontend")
LATEST = "latest"
TAG_LENGTH = 12
# The Dockerfile travels inside the context tar under this name (and is ignored by COPY).
DOCKERFILE_IN_CONTEXT = ".todo-deploy.Dockerfile"
# Never in any build context, whatever the ignore file says (a `!` exception included).
ALWAYS_EXCLUDED = (".env", ".env.*", "**/.env", "**/.env.*")
SECRET_NAMES = (".env", ".env.*")
# Editor and tool temp files, by file name at any depth: never in a build context nor in its
# digest, whatever the ignore file says (a save would otherwise change the tag, or ship them).
EDITOR_TEMP_NAMES = (
    "*.swp", "*.swo", "*.swx", ".*.sw?",  # vim swap files (.main.py.swp, .swo, .swn, ...)
    "4913",  # vim's probe that a directory is writable, made and deleted on every save
    "*~",  # vim, emacs and nano backups
    "#*#",  # emacs auto-save files
    ".#*",  # emacs lock files (dangling symlinks)
    "*___jb_tmp___", "*___jb_old___",  # JetBrains "safe write"
    ".*.kate-swp",  # Kate
)
DIGEST_SCHEME = "todo-deploy/image-digest/v1"


@dataclass(frozen=True)
class ImageRef:
    """An image the deployment uses: ``repository:tag`` (tag = first 12 hex of the digest)."""

    component: str
    repository: str
    tag: str
    digest: str = ""

    @property
    def ref(self) -> str:
        return f"{self.repository}:{self.tag}"


@dataclass(frozen=True)
class BuildContext:
    """What goes into one image: the filtered files, the Dockerfile, args and base images."""

    component: str
    repository: str
    root: Path
    files: tuple[str, ...]  # relative paths (files, directories, symlinks) after ignore rules
    dockerfile: bytes
    build_args: tuple[tuple[str, str], ...]  # sorted
    base_images: tuple[str, ...]
    digest: str

    @property
    def tag(self) -> str:
        return self.digest[:TAG_LENGTH]

    @property
    def ref(self) -> ImageRef:
        return ImageRef(self.component, self.repository, self.tag, self.digest)

    @property
    def args(self) -> dict[str, str]:
        return dict(self.build_args)


# -- ignore rules ----------------------------------------------------------------------------
def ignore_file_for(dockerfile: Path) -> Path:
    """BuildKit's per-Dockerfile ignore file: ``<Dockerfile>.dockerignore``."""
    return dockerfile.with_name(dockerfile.name + ".dockerignore")


def parse_ignore(text: str) -> list[str]:
    """.dockerignore lines → patterns (comments and blank lines dropped)."""
    patterns = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            patterns.append(line)
    return patterns


def is_secret_file(relpath: str) -> bool:
    name = relpath.rstrip("/").rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in SECRET_NAMES)


def is_editor_temp(relpath: str) -> bool:
    name = relpath.rstrip("/").rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in EDITOR_TEMP_NAMES)


def context_files(root: Path, patterns: Sequence[str]) -> list[str]:
    """Relative paths under ``root`` that enter the build context (docker-py's matcher).

    ``.env`` files are dropped twice: by patterns appended after the user's (so a ``!`` rule
    cannot re-include them) and by name afterwards. Editor temp files (EDITOR_TEMP_NAMES) are
    dropped by name, whatever the rules say.
    """
    from docker.utils.build import exclude_paths

    found = exclude_paths(str(root), [*patterns, *ALWAYS_EXCLUDED],
                          dockerfile=DOCKERFILE_IN_CONTEXT)
    return sorted(p for p in found if p != DOCKERFILE_IN_CONTEXT and not is_secret_file(p)
                  and not any(is_secret_file(part) for part in p.split("/"))
                  and not is_editor_temp(p))


# -- the digest ------------------------------------------------------------------------------
def content_digest(root: Path, files: Iterable[str], dockerfile: bytes,
                   build_args: Mapping[str, str], bases: Sequence[str]) -> str:
    """sha256 over the Dockerfile, the build args, the base image names and every context
    entry's path, mode and content (symlinks: their target). Deterministic; no daemon needed.
    """
    h = hashlib.sha256()

    def put(*parts: str | bytes) -> None:
        for part in parts:
            data = part.encode() if isinstance(part, str) else part
            h.update(len(data).to_bytes(8, "big"))
            h.update(data)

    put(DIGEST_SCHEME, "dockerfile", dockerfile)
    for key in sorted(build_args):
        put("arg", key, build_args[key])
    for base in bases:
        put("base", base)
    for rel in sorted(files):
        full = root / rel
        st = os.lstat(full)
        mode = f"{stat.S_IMODE(st.st_mode):o}"
        if stat.S_ISLNK(st.st_mode):
            put("link", rel, os.readlink(full))
        elif stat.S_ISDIR(st.st_mode):
            put("dir", rel, mode)
        elif stat.S_ISREG(st.st_mode):
            fh = hashlib.sha256()
            with open(full, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    fh.update(chunk)
            put("file", rel, mode, fh.hexdigest())
    return h.hexdigest()


# -- build args ------------------------------------------------------------------------------
def parse_build_args(values: Iterable[str]) -> dict[str, dict[str, str]]:
    """``--build-arg`` flags: ``KEY=VALUE`` (both images) or ``backend:KEY=VALUE``."""
    result: dict[str, dict[str, str]] = {c: {} for c in COMPONENTS}
    for raw in values:
        scope, key_value = None, raw
        head, sep, tail = raw.partition(":")
        if sep and head in COMPONENTS:
            scope, key_value = head, tail
        key, eq, value = key_value.partition("=")
        if not eq or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise ConfigError(
                f"--build-arg {raw!r} is not KEY=VALUE or COMPONENT:KEY=VALUE",
                "inv build --build-arg backend:BASE_IMAGE=python:3.11-slim")
        for component in ([scope] if scope else COMPONENTS):
            result[component][key] = value
    return result


def effective_args(image: ImageConfig, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Build args of one image: ``build.args.<component>`` < ``--build-arg`` flags."""
    return {**image.build_args, **(extra or {})}


# -- the context -----------------------------------------------------------------------------
def prepare(image: ImageConfig, build_args: Mapping[str, str]) -> BuildContext:
    """Collect the context of ``image`` and compute its digest (no daemon involved)."""
    if not image.dockerfile.is_file():
        raise ConfigError(f"Dockerfile for {image.component} not found: {image.dockerfile}",
                          f"set todo.images.{image.component}.dockerfile in invoke.yaml")
    if not image.context.is_dir():
        raise ConfigError(
            f"build context for {image.component} not found: {image.context}",
            f"set todo.images.{image.component}.context in invoke.yaml "
            f"(or INVOKE_TODO_IMAGES_{image.component.upper()}_CONTEXT=path)")
    ignore = ignore_file_for(image.dockerfile)
    patterns = parse_ignore(ignore.read_text(encoding="utf-8")) if ignore.is_file() else []
    files = context_files(image.context, patterns)
    dockerfile = image.dockerfile.read_bytes()
    args = dict(build_args)
    bases = base_images(dockerfile.decode("utf-8", "replace"), args)
    digest = content_digest(image.context, files, dockerfile, args, bases)
    return BuildContext(image.component, image.name, image.context, tuple(files), dockerfile,
                        tuple(sorted(args.items())), bases, digest)


def context_tar(ctx: BuildContext) -> IO[bytes]:
    """The tar sent to the daemon: exactly ``ctx.files`` plus the Dockerfile.

    A ``.dockerignore`` naming the Dockerfile keeps it out of ``COPY . .``.
    """
    from docker.utils.build import create_archive

    fileobj: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - returned to the caller
    # the archive reads the files again: it holds what the tag names only if they did not
    # change since the digest was made (a save while `inv build` or `inv watch` ran)
    try:
        create_archive(
            root=str(ctx.root), files=list(ctx.files), fileobj=fileobj,
            extra_files=[(".dockerignore", f"{DOCKERFILE_IN_CONTEXT}\n.dockerignore\n"),
                         (DOCKERFILE_IN_CONTEXT, ctx.dockerfile.decode("utf-8"))])
        again = content_digest(ctx.root, ctx.files, ctx.dockerfile, ctx.args, ctx.base_images)
    except FileNotFoundError as gone:
        again = f"gone: {gone.filename}"
    if again != ctx.digest:
        fileobj.close()
        raise StageFailed(
            f"the {ctx.component} build context changed while it was archived (a file saved "
            f"or deleted meanwhile): the image would not hold what its tag {ctx.tag} names",
            "run it again once the files are saved (nothing was built)")
    return fileobj


def context_size(ctx: BuildContext) -> int:
    """Bytes of the tar the daemon receives."""
    with context_tar(ctx) as fileobj:
        fileobj.seek(0, os.SEEK_END)
        return fileobj.tell()
