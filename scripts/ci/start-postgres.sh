#!/usr/bin/env bash
# Start a throw-away PostgreSQL for the backend's tests, on 127.0.0.1:5432 only.
#
# Idempotent: run it as often as you like. Run as root (CI does). On a fresh Debian machine it
# installs the `postgresql` package first. It creates (or resets the password of) a test role and a
# test database, then prints where they are, without the password.
#
# Then run the tests with:
#   TODO_TEST_POSTGRES_URL=postgresql://todo:todo@127.0.0.1:5432/todo_test pytest app/backend/tests
#
# Overrides (environment): TODO_PG_USER (todo), TODO_PG_PASSWORD (todo), TODO_PG_DB (todo_test),
# TODO_PG_PORT (5432), TODO_PG_CLUSTER (main).
set -euo pipefail

PG_USER="${TODO_PG_USER:-todo}"
PG_PASSWORD="${TODO_PG_PASSWORD:-todo}"
PG_DB="${TODO_PG_DB:-todo_test}"
PG_PORT="${TODO_PG_PORT:-5432}"
PG_CLUSTER="${TODO_PG_CLUSTER:-main}"

log() { printf 'start-postgres: %s\n' "$*"; }
die() { printf 'start-postgres: error: %s\n' "$*" >&2; exit 1; }

[[ "$(id -u)" == 0 ]] || die "run me as root (I install packages and manage the cluster)"
[[ "$PG_USER" =~ ^[a-z_][a-z0-9_]*$ ]] || die "TODO_PG_USER must be a plain lower-case identifier"
[[ "$PG_DB" =~ ^[a-z_][a-z0-9_]*$ ]] || die "TODO_PG_DB must be a plain lower-case identifier"

# 1. Install the server when missing (Debian/Ubuntu).
if ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || ! command -v pg_ctlcluster >/dev/null; then
    log "installing postgresql (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql >/dev/null
fi

PG_VERSION="$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf "%f\n" | sort -V | tail -n 1)"
[[ -n "$PG_VERSION" ]] || die "no PostgreSQL server found under /usr/lib/postgresql"

# 2. Make sure a cluster exists and listens on loopback only.
if ! pg_lsclusters -h | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1==v && $2==c {f=1} END {exit !f}'; then
    log "creating cluster $PG_VERSION/$PG_CLUSTER"
    pg_createcluster --port="$PG_PORT" "$PG_VERSION" "$PG_CLUSTER" >/dev/null
fi

# A drop-in (Debian's postgresql.conf reads conf.d/ last) keeps the packaged file untouched.
CONF_DIR="/etc/postgresql/$PG_VERSION/$PG_CLUSTER/conf.d"
DROP_IN="$CONF_DIR/50-todo-tests.conf"
WANT_CONF="# Written by scripts/ci/start-postgres.sh: loopback only.
listen_addresses = '127.0.0.1'
port = $PG_PORT"
changed=0
if [[ ! -f "$DROP_IN" ]] || [[ "$(cat "$DROP_IN")" != "$WANT_CONF" ]]; then
    mkdir -p "$CONF_DIR"
    printf '%s\n' "$WANT_CONF" > "$DROP_IN"
    chmod 644 "$DROP_IN"
    changed=1
fi

# 3. Start it (or restart it when the listening configuration changed).
status="$(pg_lsclusters -h | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1==v && $2==c {print $4}')"
if [[ "$status" == online* ]]; then
    if [[ "$changed" == 1 ]]; then
        log "restarting cluster $PG_VERSION/$PG_CLUSTER (configuration changed)"
        pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" restart
    fi
else
    log "starting cluster $PG_VERSION/$PG_CLUSTER"
    pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start
fi

for _ in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 -p "$PG_PORT" && break
    sleep 1
done
pg_isready -q -h 127.0.0.1 -p "$PG_PORT" || die "PostgreSQL did not become ready on 127.0.0.1:$PG_PORT"

# 4. Role and database. The password travels on stdin (psql variable), never on a command line.
# CREATEROLE: tests/integration/test_database_url_postgres.py makes a throw-away role whose
# password holds URL-special characters (the role can create roles, not superusers).
psql_admin() { runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" "$@"; }

psql_admin -d postgres -v user="$PG_USER" -v password="$PG_PASSWORD" >/dev/null <<'SQL'
SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'user') AS missing \gset
\if :missing
  CREATE ROLE :"user" LOGIN CREATEROLE PASSWORD :'password';
\else
  ALTER ROLE :"user" LOGIN CREATEROLE PASSWORD :'password';
\endif
SQL

psql_admin -d postgres -v user="$PG_USER" -v db="$PG_DB" >/dev/null <<'SQL'
SELECT NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') AS missing \gset
\if :missing
  CREATE DATABASE :"db" OWNER :"user";
\endif
SQL

log "ready: PostgreSQL $PG_VERSION on 127.0.0.1:$PG_PORT, database $PG_DB, role $PG_USER"
log "tests read TODO_TEST_POSTGRES_URL=postgresql://$PG_USER:***@127.0.0.1:$PG_PORT/$PG_DB"
