"""Stage modules imported on first use, so ``inv --list`` and ``inv --help`` never load the
docker SDK, rich, python-dotenv or the stages.

Not ``importlib.util.LazyLoader``: invoke looks at every name in ``tasks.py`` to find the
tasks (``isinstance``), and any attribute read of a lazy module, ``__class__`` included,
loads it. A :class:`Stage` is a plain object that imports its module when a task reads a
function from it.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class Stage:
    def __init__(self, module: str) -> None:
        self._module_name = module
        self._module: ModuleType | None = None

    def __getattr__(self, name: str) -> Any:  # only for names the object itself lacks
        if self._module is None:
            self._module = importlib.import_module(self._module_name)
        return getattr(self._module, name)

    def __repr__(self) -> str:
        return f"<stage {self._module_name} ({'loaded' if self._module else 'not loaded'})>"
