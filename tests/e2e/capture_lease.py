"""Capture what kubectl answers to the run lock's calls (tests/fixtures/kubectl/lease-*) from
the live local cluster: ``python -m tests.e2e.capture_lease`` (root, dockerd; it starts the
cluster when it is not running and leaves it as it found it, TODO_E2E_KEEP aside).

Each file is kubectl's own output for the argv the suite runs (todo_deploy/lock.py): a
create, a create of a Lease that exists (AlreadyExists), a replace with a stale
resourceVersion (Conflict), a replace that works, a DELETE whose precondition fails and one
that works, a read of a Lease that is gone, and a create in a namespace that does not exist.
"""

from __future__ import annotations

import json
import sys
import time

from tests.e2e.localcluster import cluster as local
from tests.e2e.support import ROOT, Cluster, local_cluster_env
from todo_deploy import lock

OUT = ROOT / "tests" / "fixtures" / "kubectl"
NAMESPACE = "todo-lock-capture"
NAME = lock.lease_name("todo-app")
HOLDER = "alice@build-box:4242 inv deploy"


def main() -> int:
    layout = local.up()
    cluster = Cluster("local", local.NODE, local_cluster_env(layout))

    def kubectl(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
        result = cluster.run("kubectl", *args, stdin=stdin, check=False)
        return result.returncode, result.stdout, result.stderr

    def save(name: str, text: str) -> None:
        (OUT / name).write_text(text)
        print(f"{name}: {len(text)} bytes")

    def body(rv: str = "", transitions: int = 0) -> str:
        return json.dumps(lock.lease_body(NAME, NAMESPACE, HOLDER, now=time.time(), seconds=30,
                                          transitions=transitions, resource_version=rv))

    write = ("-f", "-", "-n", NAMESPACE, "-o", "json")
    kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait")
    code, _, err = kubectl("create", *write, stdin=body())
    assert code != 0, "the namespace should not exist yet"
    save("lease-namespace-not-found.txt", err)
    assert kubectl("create", "namespace", NAMESPACE)[0] == 0
    code, out, err = kubectl("create", *write, stdin=body())
    assert code == 0, err
    save("lease-created.json", out)
    created = lock.parse_lease(out)
    assert created is not None
    code, _, err = kubectl("create", *write, stdin=body())
    assert code != 0
    save("lease-already-exists.txt", err)
    code, out, err = kubectl("replace", *write, stdin=body(created.resource_version, 1))
    assert code == 0, err
    save("lease-replaced.json", out)
    replaced = lock.parse_lease(out)
    assert replaced is not None
    code, _, err = kubectl("replace", *write, stdin=body(created.resource_version, 2))
    assert code != 0
    save("lease-conflict.txt", err)
    code, out, err = kubectl("get", "lease", NAME, "-n", NAMESPACE, "-o", "json")
    assert code == 0, err
    save("lease-get.json", out)
    path = lock.lease_path(NAMESPACE, NAME)
    code, out, err = kubectl("delete", "--raw", path, "-f", "-",
                             stdin=lock.delete_options(created.resource_version))
    assert code != 0, out
    save("lease-delete-conflict.txt", err)
    code, out, err = kubectl("delete", "--raw", path, "-f", "-",
                             stdin=lock.delete_options(replaced.resource_version))
    assert code == 0, err
    save("lease-deleted.txt", out)
    code, _, err = kubectl("get", "lease", NAME, "-n", NAMESPACE, "-o", "json")
    assert code != 0
    save("lease-not-found.txt", err)
    code, out, err = kubectl("delete", "--raw", path, "-f", "-",
                             stdin=lock.delete_options(replaced.resource_version))
    save("lease-delete-not-found.txt", err)
    kubectl("delete", "namespace", NAMESPACE, "--wait=false")
    return 0


if __name__ == "__main__":
    sys.exit(main())
