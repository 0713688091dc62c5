"""A real OCI registry for the registry target's tests: CNCF distribution's ``registry``, built
from its Go module (``github.com/distribution/distribution/v3/cmd/registry``), run on
127.0.0.1 with its storage in a temporary directory.

- ``build()``: ``go install ...@VERSION`` into ``~/.cache/todo-deploy/registry/<key>/bin``
  (``key`` = the version and the Go version): a second run builds nothing. ``.ci/run`` calls
  ``python3 -m tests.registryserver build`` before the tests.
- ``serve(port)``: a running registry (context manager), ``127.0.0.1:PORT``. The Docker daemon
  treats 127.0.0.0/8 as an insecure registry by default, so it pushes over plain HTTP.

Usage: ``python3 -m tests.registryserver build|path``.
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MODULE = "github.com/distribution/distribution/v3"
VERSION = "v3.1.2"


def cache_root() -> Path:
    return Path(os.environ.get("TODO_REGISTRY_CACHE",
                               "~/.cache/todo-deploy/registry")).expanduser()


def go_version() -> str:
    return subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True,
                          check=True).stdout.strip()


def binary() -> Path:
    key = hashlib.sha256(f"{MODULE}@{VERSION}\0{go_version()}".encode()).hexdigest()[:12]
    return cache_root() / f"{VERSION}-{key}" / "bin" / "registry"


def build() -> Path:
    """The registry binary, built once per machine (about 2 minutes on 2 cores)."""
    out = binary()
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    print(f"registryserver: building {MODULE}/cmd/registry@{VERSION} into {out.parent}",
          file=sys.stderr, flush=True)
    env = {**os.environ, "GOBIN": str(out.parent), "CGO_ENABLED": "0",
           "GOTOOLCHAIN": "local", "GOFLAGS": "-trimpath"}
    result = subprocess.run(["go", "install", "-ldflags", "-s -w",
                             f"{MODULE}/cmd/registry@{VERSION}"],
                            env=env, capture_output=True, text=True)
    if result.returncode != 0 or not out.is_file():
        raise SystemExit(f"registryserver: go install failed:\n{result.stderr[-4000:]}")
    for other in cache_root().iterdir():  # builds of other versions are never used again
        if other.is_dir() and other != out.parent.parent:
            subprocess.run(["rm", "-rf", str(other)], check=False)
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


CONFIG = """version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""


@contextmanager
def serve(port: int | None = None, binary_path: Path | None = None) -> Iterator[str]:
    """A registry on 127.0.0.1 (yields ``127.0.0.1:PORT``); stopped and wiped afterwards."""
    path = binary_path or binary()
    if not path.is_file():
        raise FileNotFoundError(f"registry binary not built: python3 -m tests.registryserver "
                                f"build  (expected {path})")
    port = port or free_port()
    with tempfile.TemporaryDirectory(prefix="todo-registry-") as tmp:
        config = Path(tmp) / "config.yml"
        config.write_text(CONFIG.format(root=Path(tmp) / "data", port=port))
        log = (Path(tmp) / "registry.log").open("w")
        process = subprocess.Popen([str(path), "serve", str(config)], stdout=log,
                                   stderr=subprocess.STDOUT)
        address = f"127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(f"http://{address}/v2/", timeout=2) as reply:
                        if reply.status == 200:
                            break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("registry did not start: "
                                           + (Path(tmp) / "registry.log").read_text()[-2000:]
                                           ) from None
                    time.sleep(0.2)
            yield address
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "build"
    if command == "build":
        print(build())
    elif command == "path":
        print(binary())
    else:
        raise SystemExit("usage: python3 -m tests.registryserver build|path")
