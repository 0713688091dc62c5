"""What ``inv build`` recorded for ``inv deploy``: ``<state_dir>/images.json``.

The tags themselves are recomputed from the sources (digests are deterministic); the file
keeps the build args the last build used (never secrets: they are in the image history
anyway), so deploy recomputes the same digest.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .. import keptfile
from ..config import Settings
from ..errors import StageFailed
from .context import COMPONENTS, BuildContext, ImageRef, effective_args, prepare

STATE_FILE = "images.json"


def state_path(settings: Settings) -> Path:
    return settings.state_dir / STATE_FILE


def load_state(settings: Settings) -> dict[str, dict[str, Any]]:
    """``{component: {repository, tag, digest, build_args, built_at}}``; {} when absent."""
    images = keptfile.load(state_path(settings)).get("images")
    return {k: v for k, v in images.items() if isinstance(v, dict)} if isinstance(images, dict) \
        else {}


def save_state(settings: Settings, contexts: Iterable[BuildContext]) -> None:
    """Record the build args and tags (never secrets) in the git-ignored state folder."""
    images = load_state(settings)
    for ctx in contexts:
        images[ctx.component] = {"repository": ctx.repository, "tag": ctx.tag,
                                 "digest": ctx.digest, "build_args": ctx.args,
                                 "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    if not keptfile.save(state_path(settings), {"version": 1, "images": images}):
        raise StageFailed(f"cannot write {state_path(settings)} (inv deploy reads the build "
                          "args from it)", "check that the state folder is writable: "
                          "inv config  # state_dir")


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
