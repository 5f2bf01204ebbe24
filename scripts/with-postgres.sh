#!/usr/bin/env bash
# Run a command beside a throwaway PostgreSQL cluster in a temporary directory, then stop it.
# The command sees KEYSTEAD_TEST_POSTGRES_URL (a superuser URL on 127.0.0.1).
# initdb refuses to run as root, so as root the cluster belongs to the `postgres` user.
set -euo pipefail

find_pg_bin() {
  if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
    pg_config --bindir; return
  fi
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then echo "$dir"; return; fi
  if command -v initdb >/dev/null 2>&1; then dirname "$(readlink -f "$(command -v initdb)")"; return; fi
  return 1
}

PG_BIN=$(find_pg_bin) || { echo "with-postgres: PostgreSQL server binaries not found (make test installs them)" >&2; exit 1; }
TMP=$(mktemp -d /tmp/keystead-pg.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')

as_owner() {
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [ "$(id -u)" = "0" ]; then chown postgres "$TMP"; fi

cleanup() {
  as_owner "$PG_BIN/pg_ctl" -D "$TMP/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT

as_owner "$PG_BIN/initdb" -D "$TMP/data" -U keystead -A trust --no-sync -E UTF8 >"$TMP/initdb.log" 2>&1 \
  || { cat "$TMP/initdb.log" >&2; exit 1; }
as_owner "$PG_BIN/pg_ctl" -D "$TMP/data" -l "$TMP/server.log" -w -t 60 \
  -o "-p $PORT -k $TMP -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=200" \
  start >/dev/null || { cat "$TMP/server.log" >&2; exit 1; }

export KEYSTEAD_TEST_POSTGRES_URL="postgresql://keystead@127.0.0.1:$PORT/postgres"
export KEYSTEAD_TEST_PG_BIN="$PG_BIN"
echo "with-postgres: PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT" >&2
"$@"
