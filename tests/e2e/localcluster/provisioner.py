"""A hostPath volume provisioner for the local test cluster, with minikube's semantics.

minikube's ``storage-provisioner`` (StorageClass ``standard``, provisioner
``k8s.io/minikube-hostpath``) answers every claim of its class with a hostPath
PersistentVolume whose directory is created world-writable (0777), so a pod running as any
uid (PostgreSQL as 70) can initialise it; a Released volume with reclaim policy Delete is
removed with its directory. This does the same, by polling the API with kubectl once a
second. (Kubernetes' in-tree ``--enable-hostpath-provisioner`` creates 0750 root-owned
directories, which a non-root database cannot write: not what minikube users get.)

One difference: the harness's class binds ``WaitForFirstConsumer`` (as kind's does), so a
claim is answered once the scheduler has picked the node. With ``Immediate`` binding a
StatefulSet's pod raced its claim: seen by the scheduler before the volume existed, it was
parked as unschedulable and, in 1.34, not retried when the claim was bound a second later
(the periodic flush came after 5 minutes).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
SELECTED_NODE = "volume.kubernetes.io/selected-node"


def pv_for(claim: dict[str, Any], storage_class: str, name: str, root: Path) -> dict[str, Any]:
    """The PersistentVolume that answers ``claim`` (pure)."""
    meta, spec = claim["metadata"], claim["spec"]
    pv_name = f"pvc-{meta['uid']}"
    return {
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": pv_name, "annotations": {PROVISIONED_BY: name}},
        "spec": {
            "capacity": {"storage": spec["resources"]["requests"]["storage"]},
            "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Delete",
            "storageClassName": storage_class,
            "volumeMode": spec.get("volumeMode", "Filesystem"),
            "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                         "namespace": meta["namespace"], "name": meta["name"],
                         "uid": meta["uid"]},
            "hostPath": {"path": str(root / pv_name), "type": "DirectoryOrCreate"},
        },
    }


def claims_to_provision(claims: list[dict[str, Any]], classes: dict[str, dict[str, Any]],
                        name: str) -> list[dict[str, Any]]:
    """Pending, unbound claims of a StorageClass that names this provisioner, once the
    scheduler has picked their node where the class waits for the first consumer (pure)."""
    chosen = []
    for claim in claims:
        spec, status = claim.get("spec") or {}, claim.get("status") or {}
        if status.get("phase") != "Pending" or spec.get("volumeName"):
            continue
        sc = classes.get(spec.get("storageClassName") or "") or {}
        if sc.get("provisioner") != name:
            continue
        annotations = (claim.get("metadata") or {}).get("annotations") or {}
        if sc.get("volumeBindingMode") == "WaitForFirstConsumer" and \
                SELECTED_NODE not in annotations:
            continue
        chosen.append(claim)
    return chosen


def volumes_to_delete(volumes: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """Released volumes this provisioner made, with reclaim policy Delete (pure)."""
    return [pv for pv in volumes
            if (pv.get("metadata", {}).get("annotations") or {}).get(PROVISIONED_BY) == name
            and (pv.get("status") or {}).get("phase") in ("Released", "Failed")
            and pv["spec"].get("persistentVolumeReclaimPolicy") == "Delete"]


class Kubectl:
    def __init__(self, binary: str, kubeconfig: str):
        self.base = [binary, "--kubeconfig", kubeconfig]

    def items(self, *resource: str) -> list[dict[str, Any]]:
        out = subprocess.run([*self.base, "get", *resource, "-o", "json"], capture_output=True,
                             text=True, timeout=30)
        return list(json.loads(out.stdout).get("items") or []) if out.returncode == 0 else []

    def create(self, obj: dict[str, Any]) -> bool:
        out = subprocess.run([*self.base, "create", "-f", "-"], input=json.dumps(obj),
                             capture_output=True, text=True, timeout=30)
        return out.returncode == 0

    def delete_pv(self, pv_name: str) -> bool:
        out = subprocess.run([*self.base, "delete", "pv", pv_name, "--ignore-not-found",
                              "--wait=false"], capture_output=True, text=True, timeout=30)
        return out.returncode == 0


def once(kubectl: Kubectl, name: str, root: Path) -> None:
    # (the DefaultStorageClass admission plugin has already named the class of a claim
    # that named none)
    classes = {sc["metadata"]["name"]: sc for sc in kubectl.items("storageclasses")}
    for claim in claims_to_provision(kubectl.items("pvc", "-A"), classes, name):
        pv = pv_for(claim, claim["spec"]["storageClassName"], name, root)
        path = Path(pv["spec"]["hostPath"]["path"])
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o777)
        if kubectl.create(pv):
            print(f"provisioned {pv['metadata']['name']} for "
                  f"{claim['metadata']['namespace']}/{claim['metadata']['name']}", flush=True)
    for pv in volumes_to_delete(kubectl.items("pv"), name):
        path = Path(pv["spec"]["hostPath"]["path"])
        if path.parent == root:
            shutil.rmtree(path, ignore_errors=True)
        if kubectl.delete_pv(pv["metadata"]["name"]):
            print(f"deleted {pv['metadata']['name']} and {path}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--kubectl", required=True)
    parser.add_argument("--root", required=True, type=Path, help="where volumes are made")
    parser.add_argument("--name", required=True, help="provisioner name of the StorageClass")
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args(argv)
    args.root.mkdir(parents=True, exist_ok=True)
    kubectl = Kubectl(args.kubectl, args.kubeconfig)
    while True:
        try:
            once(kubectl, args.name, args.root)
        except (subprocess.SubprocessError, json.JSONDecodeError, KeyError) as exc:
            print(f"provisioner: {exc!r}", file=sys.stderr, flush=True)
        time.sleep(args.interval)


if __name__ == "__main__":
    sys.exit(main())
