"""Entry point of the container: ``python -m todo_api``.

One uvicorn process on $HOST:$PORT (default 0.0.0.0:7860), every log line on stdout. A missing
required variable stops the process before it binds, with a message that names the variable.
"""

from __future__ import annotations

import copy
import os
import sys
from typing import Any

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from .config import ConfigError, load_settings
from .main import create_app

DEFAULT_HOST = "0.0.0.0"  # a container listens on all interfaces


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """uvicorn's own format, but every handler writes to stdout and our loggers join in."""
    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    for handler in config["handlers"].values():
        handler["stream"] = "ext://sys.stdout"
    config["loggers"]["todo_api"] = {"handlers": ["default"], "level": level, "propagate": False}
    return config


def main() -> int:
    try:
        settings = load_settings()
        app = create_app(settings)
    except ConfigError as exc:
        print(f"todo-api: configuration error: {exc}", flush=True)
        return 2
    host = os.environ.get("HOST", "").strip() or DEFAULT_HOST
    level = (os.environ.get("LOG_LEVEL", "").strip() or "info").lower()
    uvicorn.run(
        app,
        host=host,
        port=settings.port,
        log_config=logging_config(level.upper()),
        log_level=level,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
