"""Reading a Dockerfile: the base images its ``FROM`` lines name, after global ``ARG``s.

The base image names are part of the content digest, so a changed ``BASE_IMAGE`` build arg
(or ``ARG`` default) makes a new tag. Pure text processing; no daemon, no files.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

ARG_REF_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def logical_lines(dockerfile: str) -> Iterator[str]:
    """Dockerfile instructions with ``\\`` continuations joined and comments dropped."""
    current = ""
    for raw in dockerfile.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        yield current.strip()
        current = ""
    if current.strip():
        yield current.strip()


def substitute(text: str, values: Mapping[str, str]) -> str:
    """``$NAME`` / ``${NAME}`` / ``${NAME:-default}`` with ``values`` (unset or empty → the
    default, else "")."""

    def repl(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        default = match.group(2)
        value = values.get(name, "")
        return value if value else (default or "")

    return ARG_REF_RE.sub(repl, text)


def base_images(dockerfile: str, build_args: Mapping[str, str]) -> tuple[str, ...]:
    """External images the ``FROM`` lines name, with global ``ARG`` defaults and build args.

    Stage names (``FROM builder``) are not base images.
    """
    args: dict[str, str] = {}
    stages: set[str] = set()
    bases: list[str] = []
    seen_from = False
    for line in logical_lines(dockerfile):
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "ARG" and not seen_from:
            for decl in rest.split():
                name, eq, default = decl.partition("=")
                args[name] = build_args.get(name, default.strip("\"'") if eq else "")
        elif keyword == "FROM":
            seen_from = True
            words = [w for w in rest.split() if not w.startswith("--")]
            if not words:
                continue
            image = substitute(words[0], args)
            if image.lower() not in stages and image not in bases:
                bases.append(image)
            if len(words) >= 3 and words[1].lower() == "as":
                stages.add(words[2].lower())
    return tuple(bases)
