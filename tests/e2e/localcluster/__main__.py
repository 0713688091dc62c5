"""``python -m tests.e2e.localcluster build|up|down|env|status`` (see scripts/cluster.sh)."""

from __future__ import annotations

import argparse
import json
import sys

from . import build


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/cluster.sh",
        description="A real single-node Kubernetes on this machine, for the end-to-end tier.")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build the cluster's binaries (cached per machine)")
    b.add_argument("--force", action="store_true", help="rebuild even when cached")
    sub.add_parser("up", help="start the cluster (builds first when needed); waits for Ready")
    sub.add_parser("down", help="stop it and remove everything it left on this machine")
    sub.add_parser("env", help="print the shell exports that point kubectl, helm and inv at it")
    sub.add_parser("status", help="which components run (JSON)")
    args = parser.parse_args(argv)
    if args.command == "build":  # needs neither pyyaml nor cryptography (CI builds first)
        for item in build.build(force=args.force):
            state = "cached" if item.cached else f"built in {item.seconds:.0f}s"
            print(f"{item.name}: {item.path} ({state})")
        return 0
    from . import cluster

    if args.command == "up":
        cluster.up()
    elif args.command == "down":
        cluster.down()
    elif args.command == "env":
        print("\n".join(cluster.env_lines(cluster.Layout(cluster.root_dir()))))
    elif args.command == "status":
        states = cluster.status()
        print(json.dumps(states, indent=2))
        return 0 if all(states.values()) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
