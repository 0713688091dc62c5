"""``python3 -m tests.e2e.realtools SUBCOMMAND``: build the real tools and their images."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from . import tools


def _runc_wrapper(args: argparse.Namespace) -> int:
    built = tools.runc_wrapper()
    if args.install:
        target = Path(args.install)
        tmp = target.with_name(target.name + ".tmp")
        shutil.copy2(built, tmp)
        tmp.replace(target)
        built = target
    print(built)
    return 0


def _minikube(args: argparse.Namespace) -> int:
    print(tools.minikube())
    return 0


def _kicbase(args: argparse.Namespace) -> int:
    from . import kicbase

    print(kicbase.build())
    return 0


def _kubeimages(args: argparse.Namespace) -> int:
    from . import kubeimages

    for name in kubeimages.build():
        print(name)
    if args.minikube_home:
        print(kubeimages.install_binaries(Path(args.minikube_home)))
    return 0


def _capture(args: argparse.Namespace) -> int:
    from . import capture

    capture.capture(Path(args.out))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m tests.e2e.realtools",
        description="The real minikube and kind for the end-to-end tier, built here.")
    sub = parser.add_subparsers(dest="command", required=True)
    wrapper = sub.add_parser("runc-wrapper", help="build runc-nosysres (print its path)")
    wrapper.add_argument("--install", metavar="PATH", help="copy it to PATH too")
    wrapper.set_defaults(run=_runc_wrapper)
    sub.add_parser("minikube", help="build minikube (print its path)").set_defaults(
        run=_minikube)
    sub.add_parser("kicbase", help="build minikube's node image from Debian packages "
                   "(print its name)").set_defaults(run=_kicbase)
    images = sub.add_parser("kubeimages", help="build the Kubernetes images minikube asks for "
                            "into the host's daemon (print their names)")
    images.add_argument("--minikube-home", metavar="DIR",
                        help="also put kubeadm, kubelet, kubectl into DIR/cache/linux/amd64/...")
    images.set_defaults(run=_kubeimages)
    grab = sub.add_parser("capture-minikube", help="capture the real minikube's answers the "
                          "suite parses (as user todo-dev; root)")
    grab.add_argument("--out", default="tests/fixtures/minikube", metavar="DIR",
                      help="where the fixtures go (default: %(default)s)")
    grab.set_defaults(run=_capture)
    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
