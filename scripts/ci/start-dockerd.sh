#!/usr/bin/env bash
# Start a local Docker engine for the tests: idempotent (does nothing when `docker info`
# already answers), host networking only (--bridge=none --iptables=false: no bridge, no NAT,
# containers and builds use network_mode=host). Log: $DOCKERD_LOG (default /tmp/dockerd.log).
# Waits up to $DOCKERD_WAIT seconds (default 60) for the daemon, then fails with the log tail.
#
# $DOCKERD_RUNTIME (optional): an OCI runtime binary registered as `runc-nosysres` and made the
# default (in /etc/docker/daemon.json, which a running daemon reloads on SIGHUP). On this CI
# machine it is tests/e2e/realtools/go/runcwrap: runc minus CAP_SYS_RESOURCE, which the
# machine's capability bounding set lacks, so that `docker run --privileged` (minikube's and
# kind's nodes) works.
set -euo pipefail

LOG=${DOCKERD_LOG:-/tmp/dockerd.log}
WAIT=${DOCKERD_WAIT:-60}
CONFIG=/etc/docker/daemon.json

if [ -n "${DOCKERD_RUNTIME:-}" ]; then
  want="{\"runtimes\": {\"runc-nosysres\": {\"path\": \"$DOCKERD_RUNTIME\"}}, \"default-runtime\": \"runc-nosysres\"}"
  if [ "$(cat "$CONFIG" 2>/dev/null || true)" != "$want" ]; then
    mkdir -p "$(dirname "$CONFIG")"
    echo "$want" > "$CONFIG"
    if pid=$(pidof dockerd); then
      echo "dockerd: reloading $CONFIG (default runtime runc-nosysres)" >&2
      kill -HUP "$pid"
      sleep 1
    fi
  fi
fi

if docker info >/dev/null 2>&1; then
  echo "dockerd: already running ($(docker info --format '{{.ServerVersion}}' 2>/dev/null))" >&2
  if [ -n "${DOCKERD_RUNTIME:-}" ] && \
     [ "$(docker info --format '{{.DefaultRuntime}}')" != runc-nosysres ]; then
    echo "dockerd: the running daemon did not take runc-nosysres from $CONFIG" >&2
    exit 1
  fi
  exit 0
fi
if ! command -v dockerd >/dev/null 2>&1; then
  echo "dockerd: not installed. Fix: apt-get install -y docker.io" >&2
  exit 3
fi

echo "dockerd: starting (log: $LOG)" >&2
# setsid: the daemon outlives this script and is not killed with its process group.
setsid dockerd --bridge=none --iptables=false --ip6tables=false >>"$LOG" 2>&1 < /dev/null &

for _ in $(seq 1 "$WAIT"); do
  if docker info >/dev/null 2>&1; then
    echo "dockerd: ready ($(docker info --format '{{.ServerVersion}}'))" >&2
    exit 0
  fi
  sleep 1
done
echo "dockerd: did not answer within ${WAIT}s. Last lines of $LOG:" >&2
tail -n 20 "$LOG" >&2 || true
exit 1
