"""Benchmarks on the real minikube v1.37.0 (issue 22). Figures, not a gate.

Run as root on the machine of ``.ci/run`` (it does, after the tests), with the environment it
sets (TODO_E2E_MINIKUBE=real, the stand-ins): ``.venv/bin/python bench/minikube.py [--runs N]``.
The developer is tests/e2e/laptop.py's (user todo-dev, a fresh clone, the real tools).

1. **Node and Kubernetes images, tools**: the cold build times recorded when this machine first
   built them, and a warm rebuild now (everything cached).
2. **``scripts/onboard.sh`` from a fresh clone to the printed URL**, no minikube profile yet: the
   whole first run (``minikube start`` cold, both images built in the node, deploy, verify);
   with the seconds of inv up's minikube stage.
3. **No-op ``inv up``** and **source edit → verified rollout** (a comment appended to a backend
   file, ``inv up``), median of ``--runs``.
4. **``minikube start`` warm**: ``minikube stop``, then ``inv up`` (its minikube stage).

Every figure is measured in this one run; medians over ``--runs``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e import laptop as laptop_mod  # noqa: E402
from tests.e2e.realtools import kicbase, kubeimages, tools  # noqa: E402

STAGE_ROW = re.compile(r"^│ (\w+)\s+│.*│\s+([\d.]+)s\s+│\s*$")


def stage_times(output: str) -> dict[str, float]:
    return {m.group(1): float(m.group(2)) for line in output.splitlines()
            if (m := STAGE_ROW.match(line))}


def timed(fn: Any) -> tuple[float, Any]:
    started = time.monotonic()
    value = fn()
    return round(time.monotonic() - started, 2), value


def bench_builds() -> dict[str, Any]:
    cold = {}
    for name, binary in (("minikube", tools.minikube()), ("crictl", tools.crictl()),
                         ("coredns", tools.coredns()), ("runc-nosysres", tools.runc_wrapper()),
                         ("storage-provisioner", kubeimages.storage_provisioner())):
        cold[name] = tools.build_seconds(binary)
    warm_s, _ = timed(lambda: (tools.minikube(), kicbase.build(), kubeimages.build()))
    return {"cold_build_s": cold, "warm_build_s": warm_s}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if os.geteuid() != 0 or os.environ.get("TODO_E2E_MINIKUBE") != "real":
        print("bench/minikube.py: needs root and TODO_E2E_MINIKUBE=real (see .ci/run)",
              file=sys.stderr)
        return 3
    results: dict[str, Any] = {"builds": bench_builds()}
    with tempfile.TemporaryDirectory(prefix="bench-minikube-") as tmp:
        dev = laptop_mod.prepare(Path(tmp))
        dev.minikube("delete", check=False, timeout=600)
        rule = None
        try:
            # the stand-ins must be in the node before its first build: start, load, then
            # onboard (its inv up finds minikube running; its start is timed on its own)
            start_s, _ = timed(lambda: dev.minikube("start", "--cpus=2", "--memory=4096",
                                                    timeout=900))
            rule = laptop_mod.enable_nat()
            load_s, _ = timed(lambda: [dev.minikube("image", "load", os.environ[k],
                                                    timeout=600)
                                       for k in laptop_mod.STANDINS])
            onboard_s, run = timed(lambda: dev.run("bash", "scripts/onboard.sh", "--yes",
                                                   timeout=1800, check=True))
            url = re.search(r"http://[\d.]+:30080", run.stdout + run.stderr)
            results["minikube_start_cold_s"] = start_s
            results["image_load_standins_s"] = load_s
            results["onboard_s"] = onboard_s
            results["onboard_stages_s"] = stage_times(run.stdout)
            results["url"] = url.group(0) if url else None
            noop, edits = [], []
            main_py = dev.clone / "app/backend/todo_api/main.py"
            for i in range(args.runs):
                noop.append(timed(lambda: dev.inv("up"))[0])
                main_py.write_text(main_py.read_text() + f"\n# bench edit {i}\n")
                seconds, up = timed(lambda: dev.inv("up"))
                edits.append((seconds, stage_times(up.stdout)))
            results["noop_up_s"] = round(statistics.median(noop), 2)
            results["edit_to_verified_s"] = round(statistics.median(s for s, _ in edits), 2)
            results["edit_stages_s"] = {
                k: round(statistics.median(st.get(k, 0.0) for _, st in edits), 2)
                for k in ("build", "deploy", "verify")}
            dev.minikube("stop", timeout=300)
            warm_s, up = timed(lambda: dev.inv("up", timeout=1200))
            results["up_after_stop_s"] = warm_s
            results["minikube_start_warm_s"] = stage_times(up.stdout).get("minikube")
        finally:
            dev.minikube("delete", check=False, timeout=600)
            if rule is not None:
                laptop_mod.disable_nat(rule)
    b = results["builds"]
    print(f"real minikube {tools.MINIKUBE_VERSION}: tools and images cold "
          f"{json.dumps(b['cold_build_s'])} s; warm (all cached) {b['warm_build_s']} s")
    print(f"minikube start cold (no profile): {results['minikube_start_cold_s']} s; "
          f"warm (stop → inv up's minikube stage): {results['minikube_start_warm_s']} s")
    print(f"stand-ins into the node (minikube image load ×3): {results['image_load_standins_s']}"
          " s (a laptop's node pulls them instead)")
    print(f"scripts/onboard.sh, fresh clone → printed URL {results['url']}: "
          f"{results['onboard_s']} s (inv up stages {results['onboard_stages_s']})")
    total = round(results["onboard_s"] + results["minikube_start_cold_s"], 2)
    print(f"  with minikube start: {total}"
          " s (what a laptop's first onboarding does in one go; here the stand-ins must be "
          "loaded in between)")
    print(f"no-op inv up: median {results['noop_up_s']} s")
    print(f"source edit → verified rollout on real minikube: median "
          f"{results['edit_to_verified_s']} s ({results['edit_stages_s']})")
    print("json:", json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
