"""Small JSON maps the suite keeps between runs (answers that only change with their inputs):
tool versions per binary, the chart's requests per chart content, the revision helm test
passed on, the build args of the last build. One reader and one writer for all of them.

A missing or damaged file reads as empty (the answer is asked again); a file that cannot be
written is skipped (the answer is asked again next run). Never a secret in any of them.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def load(path: Path) -> dict[str, Any]:
    """The map in ``path``; {} when it is missing, unreadable or not a JSON object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save(path: Path, data: dict[str, Any]) -> bool:
    """Write ``data`` atomically (:func:`write_atomic`); False when the directory is not
    writable."""
    return write_atomic(path, json.dumps(data, indent=1, sort_keys=True) + "\n")


def write_atomic(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` atomically: a scratch file with a unique name in the same
    directory (``tempfile.mkstemp``: two runs at once never share one, nor write over each
    other's half-written file), then ``os.replace``, so a reader sees the old file or the new
    one, never a mix. False (and no scratch file left) when it cannot be written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, scratch = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError:
        return False
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(scratch, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(scratch)
        return False
    return True
