"""What ``inv build`` recorded for ``inv deploy``: ``<state_dir>/images.json``.

The tags themselves are recomputed from the sources (digests are deterministic); the file
keeps the build args the last build used (never secrets: they are in the image history
anyway), so deploy recomputes the same digest.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..config import Settings
from .context import COMPONENTS, BuildContext, ImageRef, effective_args, prepare

STATE_FILE = "images.json"


def state_path(settings: Settings) -> Path:
    return settings.state_dir / STATE_FILE


def load_state(settings: Settings) -> dict[str, dict[str, Any]]:
    """``{component: {repository, tag, digest, build_args, built_at}}``; {} when absent."""
    path = state_path(settings)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    images = data.get("images") if isinstance(data, dict) else None
    return {k: v for k, v in (images or {}).items() if isinstance(v, dict)}


def save_state(settings: Settings, contexts: Iterable[BuildContext]) -> None:
    """Record the build args and tags (never secrets) in the git-ignored state folder."""
    images = load_state(settings)
    for ctx in contexts:
        images[ctx.component] = {"repository": ctx.repository, "tag": ctx.tag,
                                 "digest": ctx.digest, "build_args": ctx.args,
                                 "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    path = state_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"version": 1, "images": images}, indent=2, sort_keys=True) + "\n",
                   encoding="utf-8")
    tmp.replace(path)


def current_images(settings: Settings) -> list[ImageRef]:
    """The tags ``inv deploy`` must use: digests recomputed from the current sources, with the
    build args the last ``inv build`` recorded (config args when nothing was recorded)."""
    recorded = load_state(settings)
    refs = []
    for component in COMPONENTS:
        image = settings.images[component]
        entry = recorded.get(component) or {}
        args = entry.get("build_args")
        if not isinstance(args, dict):
            args = effective_args(image)
        refs.append(prepare(image, {str(k): str(v) for k, v in args.items()}).ref)
    return refs
