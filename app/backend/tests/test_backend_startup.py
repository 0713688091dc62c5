"""The container entry point, ``python -m todo_api``, as a real process under uvicorn."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from todo_api_testkit import SECRET

BACKEND_DIR = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def entry_point_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "BETTER_AUTH_SECRET", "COHERE_API_KEY", "PORT")
    }
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


def test_start_up_fails_naming_the_missing_variable() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "todo_api"],
        cwd=BACKEND_DIR,
        env=entry_point_env(BETTER_AUTH_SECRET=SECRET),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "DATABASE_URL" in result.stdout
    assert "BETTER_AUTH_SECRET" not in result.stdout


def test_uvicorn_serves_health_on_port_and_logs_to_stdout(tmp_path: Path) -> None:
    port = free_port()
    env = entry_point_env(
        DATABASE_URL=f"sqlite:///{tmp_path / 'todos.db'}",
        BETTER_AUTH_SECRET=SECRET,
        COHERE_API_KEY="",
        PORT=str(port),
        HOST="127.0.0.1",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "todo_api"],
        cwd=BACKEND_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        body = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:
                    body = json.load(resp)
                break
            except OSError:
                time.sleep(0.2)
        assert body == {"status": "healthy"}
    finally:
        process.terminate()
        stdout, stderr = process.communicate(timeout=30)
    assert "Uvicorn running on" in stdout
    assert '"GET /health HTTP/1.1" 200' in stdout
    assert stderr == ""
