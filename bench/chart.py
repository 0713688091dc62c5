"""Chart figures, measured from the REAL render (helm 3.17 and 4.1 from .cache/tools).

Prints:
1. Total CPU and memory requests (and limits) of the default render, with and without the
   embedded PostgreSQL, against the spec's "~1.5Gi memory, ~0.7 CPU cores". A pod's request
   is max(largest init container, sum of its containers), times the replicas.
2. The earliest readiness the rendered probes allow after a container starts (target ≤ 3 s),
   next to the spec's probes (readiness initialDelaySeconds 10, no startup probe). kubelet
   runs no readiness/liveness probe until the startup probe has succeeded, and then runs the
   readiness probe at once (prober manager: "trigger an immediate run of the readinessProbe");
   so an app answering at t seconds is ready by t + startup.periodSeconds at the latest. The
   bound without that immediate run (readiness waits for its own period) is printed too.
3. Median ``helm template`` time per major over the runs (and the helm4/helm3 ratio).

Run: .venv/bin/python bench/chart.py   (after scripts/provision-tools.py)
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from todo_deploy.chart import pod_requests  # noqa: E402

CHART = ROOT / "helm" / "todo-app"
SPEC_MEMORY_MIB = 1536  # "~1.5Gi memory"
SPEC_CPU_MILLI = 700  # "~0.7 CPU cores"
SPEC_READY_SECONDS = 10  # spec: readinessProbe initialDelaySeconds 10, no startup probe
TARGET_READY_SECONDS = 3
RUNS = 7


def helm_binaries() -> dict[int, Path]:
    found = {}
    for major in (3, 4):
        path = Path(os.environ.get(f"TODO_HELM{major}_BIN")
                    or ROOT / ".cache" / "tools" / f"helm{major}" / "helm")
        if path.is_file():
            found[major] = path
    if not found:
        sys.exit("no helm binary: run .venv/bin/python scripts/provision-tools.py first")
    return found


def render(helm: Path, *args: str) -> list[dict[str, Any]]:
    out = subprocess.run([str(helm), "template", "todo-app", str(CHART), "--namespace", "todo",
                          "--skip-tests", *args], capture_output=True, text=True, check=True)
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def pod_totals(docs: list[dict[str, Any]], part: str) -> tuple[int, int]:
    """The suite's own computation (``inv doctor`` uses the same function)."""
    return pod_requests(docs, part)


def readiness(docs: list[dict[str, Any]]) -> list[tuple[str, float, float, float]]:
    """Per container: (name, earliest ready s, + at most after the app answers, no-trigger)."""
    rows = []
    for doc in docs:
        if doc["kind"] != "Deployment":
            continue
        for c in doc["spec"]["template"]["spec"]["containers"]:
            ready = c["readinessProbe"]
            startup = c.get("startupProbe")
            if startup is None:
                earliest = float(ready.get("initialDelaySeconds", 0))
                rows.append((c["name"], earliest, float(ready.get("periodSeconds", 10)),
                             float(ready.get("periodSeconds", 10))))
                continue
            earliest = float(max(startup.get("initialDelaySeconds", 0),
                                 ready.get("initialDelaySeconds", 0)))
            rows.append((c["name"], earliest, float(startup.get("periodSeconds", 10)),
                         float(startup.get("periodSeconds", 10))
                         + float(ready.get("periodSeconds", 10))))
    return rows


def fmt_mem(mib: int) -> str:
    return f"{mib} Mi ({mib / 1024:.2f} Gi)"


def main() -> int:
    helms = helm_binaries()
    major = max(helms)
    helm = helms[major]
    print(f"chart figures from helm {major} ({helm.relative_to(ROOT)})\n")

    print("1. resource requests / limits of the rendered workloads (pods × replicas)")
    print(f"   {'render':<28} {'CPU req':>9} {'mem req':>18} {'CPU lim':>9} {'mem lim':>18}")
    for label, args in (("default", ()), ("embedded PostgreSQL", ("--set",
                                                                  "postgresql.enabled=true"))):
        docs = render(helm, *args)
        rc, rm = pod_totals(docs, "requests")
        lc, lm = pod_totals(docs, "limits")
        print(f"   {label:<28} {rc:>7}m {fmt_mem(rm):>18} {lc:>7}m {fmt_mem(lm):>18}")
        print(f"   {'':<28} requests vs spec (~{SPEC_CPU_MILLI}m / ~{fmt_mem(SPEC_MEMORY_MIB)}): "
              f"CPU ×{rc / SPEC_CPU_MILLI:.2f}, memory ×{rm / SPEC_MEMORY_MIB:.2f}")

    print("\n2. earliest readiness the probes allow after a container starts "
          f"(target ≤ {TARGET_READY_SECONDS} s)")
    spec_row = f"{SPEC_READY_SECONDS:.0f} s (readiness initialDelaySeconds, no startup probe)"
    worst = 0.0
    for name, earliest, after, no_trigger in readiness(render(helm)):
        worst = max(worst, earliest)
        verdict = "ok" if earliest <= TARGET_READY_SECONDS else "OVER TARGET"
        print(f"   {name:<9} {earliest:.0f} s [{verdict}]; app answering at t → ready by "
              f"t + {after:.0f} s (t + {no_trigger:.0f} s if kubelet waited for the readiness "
              f"period); spec: {spec_row}")
    print(f"   earliest readiness: {worst:.0f} s vs spec {SPEC_READY_SECONDS} s")

    print(f"\n3. helm template time, median of {RUNS} runs")
    medians: dict[int, float] = {}
    for m, binary in sorted(helms.items()):
        times = []
        for _ in range(RUNS):
            started = time.perf_counter()
            render(binary)
            times.append(time.perf_counter() - started)
        medians[m] = statistics.median(times)
        print(f"   helm {m}: {medians[m] * 1000:.0f} ms")
    if len(medians) == 2:
        print(f"   helm4 / helm3: ×{medians[4] / medians[3]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
