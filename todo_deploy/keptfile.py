"""Small JSON maps the suite keeps between runs (answers that only change with their inputs):
tool versions per binary, the chart's requests per chart content, the revision helm test
passed on, the build args of the last build. One reader and one writer for all of them.

A missing or damaged file reads as empty (the answer is asked again); a file that cannot be
written is skipped (the answer is asked again next run). Never a secret in any of them.
"""

from __future__ import annotations

import json
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
    """Write ``data`` atomically (a scratch file beside it, then rename); False when the
    directory is not writable."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_suffix(".tmp")
        scratch.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        scratch.replace(path)
    except OSError:
        return False
    return True
