#!/usr/bin/env bash
# A local PostgreSQL for developing the study service: data in runs/postgres (not the system's).
#
#   storage/postgres-dev.sh start    # initialise on first use, start on 127.0.0.1:$PORT
#   storage/postgres-dev.sh url      # print the STUDY_STORAGE URL
#   storage/postgres-dev.sh stop
#
# Environment: STUDY_PG_DATA (default runs/postgres), STUDY_PG_PORT (default 5433),
# STUDY_PG_DB (default study), STUDY_PG_MAX_CONNECTIONS (default 200: see storage/README.md).
# Needs PostgreSQL's server binaries (Debian: apt-get install postgresql) or, without them,
# Docker. Authentication is `trust` on loopback only: for development, never for a cluster.
set -euo pipefail

DATA=$(realpath -m "${STUDY_PG_DATA:-runs/postgres}")
PORT=${STUDY_PG_PORT:-5433}
DB=${STUDY_PG_DB:-study}
MAX_CONNECTIONS=${STUDY_PG_MAX_CONNECTIONS:-200}
USER_NAME=postgres
CONTAINER=study-postgres-dev

bindir() {  # the server binaries: on PATH, or Debian's versioned folder
  if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
    dirname "$(readlink -f "$(command -v pg_ctl)")"
  else
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
  fi
}

as_owner() {  # initdb and postgres refuse to run as root: run them as the postgres user
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

url() { echo "postgresql+psycopg://${USER_NAME}@127.0.0.1:${PORT}/${DB}"; }

start_native() {
  local bin; bin=$(bindir)
  if [ ! -f "$DATA/PG_VERSION" ]; then
    mkdir -p "$DATA"
    [ "$(id -u)" = 0 ] && chown postgres: "$DATA"
    as_owner "$bin/initdb" -D "$DATA" -U "$USER_NAME" --auth=trust >/dev/null
  fi
  if as_owner "$bin/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then return; fi
  as_owner "$bin/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w start \
    -o "-c listen_addresses=127.0.0.1 -c port=$PORT -c max_connections=$MAX_CONNECTIONS \
        -c unix_socket_directories=$DATA" >/dev/null
  as_owner "$bin/psql" -h 127.0.0.1 -p "$PORT" -U "$USER_NAME" -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1 \
    || as_owner "$bin/createdb" -h 127.0.0.1 -p "$PORT" -U "$USER_NAME" "$DB"
}

start_docker() {
  docker run -d --name "$CONTAINER" -p "127.0.0.1:${PORT}:5432" \
    -e POSTGRES_HOST_AUTH_METHOD=trust -e POSTGRES_DB="$DB" \
    -v "$DATA:/var/lib/postgresql/data" postgres:15 -c max_connections="$MAX_CONNECTIONS" \
    >/dev/null
  until docker exec "$CONTAINER" pg_isready -U "$USER_NAME" -d "$DB" >/dev/null 2>&1; do
    sleep 1
  done
}

case "${1:-}" in
  start)
    if [ -n "$(bindir)" ]; then start_native
    elif command -v docker >/dev/null 2>&1; then start_docker
    else echo "no PostgreSQL server binaries and no docker: apt-get install postgresql" >&2; exit 1
    fi
    echo "PostgreSQL is up. Use it with:"
    echo "  export STUDY_STORAGE=$(url)"
    ;;
  stop)
    if [ -f "$DATA/postmaster.pid" ] && [ -n "$(bindir)" ]; then
      as_owner "$(bindir)/pg_ctl" -D "$DATA" -w stop >/dev/null
    elif command -v docker >/dev/null 2>&1; then docker rm -f "$CONTAINER" >/dev/null
    fi
    echo "stopped"
    ;;
  url) url ;;
  *) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
