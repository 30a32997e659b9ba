#!/usr/bin/env bash
# Starts a throw-away PostgreSQL server on loopback for the tests (installing the Debian
# package if it is missing) and prints the export lines for its URL.
#   eval "$(scripts/postgres.sh start)"   ...   scripts/postgres.sh stop
set -euo pipefail
PORT="${VOLSCALE_PG_PORT:-54329}"
DIR="${VOLSCALE_PG_DIR:-/tmp/volscale-pg-$PORT}"
find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
case "${1:-start}" in
  start)
    BIN="$(find_bin)"
    if [[ -z "$BIN" || ! -x "$BIN/pg_ctl" ]]; then
      echo "installing postgresql from the system packages" >&2
      if [[ $(id -u) -eq 0 ]]; then apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2; else sudo apt-get update >&2 && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2; fi
      BIN="$(find_bin)"
    fi
    RUN=()
    if [[ $(id -u) -eq 0 ]]; then
      id postgres >/dev/null 2>&1 || useradd --system --home /var/lib/postgresql postgres
      RUN=(runuser -u postgres --)
    fi
    if [[ -d "$DIR" ]]; then "${RUN[@]}" "$BIN/pg_ctl" -D "$DIR" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$DIR"; fi
    mkdir -p "$DIR"
    [[ $(id -u) -eq 0 ]] && chown postgres "$DIR"
    "${RUN[@]}" "$BIN/initdb" -D "$DIR" -U postgres --auth=trust >/dev/null
    "${RUN[@]}" "$BIN/pg_ctl" -D "$DIR" -l "$DIR/server.log" -w \
      -o "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$DIR -c fsync=on" start >/dev/null
    "${RUN[@]}" "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -q -c "CREATE DATABASE volscale_test" >/dev/null
    echo "export VOLSCALE_PG_URL=postgres://postgres@127.0.0.1:$PORT/volscale_test"
    echo "export VOLSCALE_REQUIRE_PG=1"
    ;;
  stop)
    BIN="$(find_bin)"
    RUN=()
    [[ $(id -u) -eq 0 ]] && RUN=(runuser -u postgres --)
    [[ -d "$DIR" ]] && "${RUN[@]}" "$BIN/pg_ctl" -D "$DIR" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$DIR"
    ;;
esac
