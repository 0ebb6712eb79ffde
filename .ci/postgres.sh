#!/usr/bin/env bash
# CI: a throwaway PostgreSQL on loopback for the storage tests (tests/e2e/test_storage.py).
#
# Source it from .ci/run:   . .ci/postgres.sh
# It installs Debian's postgresql package when missing, starts a fresh cluster in a temporary folder on
# 127.0.0.1 (port $CDSS_PG_PORT, default 55432; trust auth, nothing listens beyond loopback) and exports
#   CDSS_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:PORT/cdss_test
# Stop it with `cdss_pg_stop` (defined here). When PostgreSQL cannot be installed or started it says so and
# exports nothing: the PostgreSQL tests then skip with that reason, the SQLite ones still run.

cdss_pg_start() {
  local port="${CDSS_PG_PORT:-55432}" bin data run
  if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    echo "postgres.sh: installing postgresql (apt-get) ..." >&2
    if ! { DEBIAN_FRONTEND=noninteractive apt-get update -qq \
           && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql; } >/dev/null; then
      echo "postgres.sh: WARNING: could not install postgresql; PostgreSQL tests will be skipped" >&2
      return 0
    fi
  fi
  bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
  data="$(mktemp -d /tmp/cdss-pg.XXXXXX)"
  run=()
  if [ "$(id -u)" = 0 ]; then  # initdb refuses to run as root
    chown postgres:postgres "$data"
    run=(runuser -u postgres -- env -C /)  # from /: the postgres user may not enter the work folder
  fi
  if ! "${run[@]}" "$bin/initdb" -D "$data" -A trust -U postgres -E UTF8 >/dev/null \
     || ! "${run[@]}" "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w \
            -o "-c listen_addresses=127.0.0.1 -c port=$port -k $data" start >/dev/null \
     || ! "${run[@]}" "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres cdss_test; then
    echo "postgres.sh: WARNING: could not start PostgreSQL (log: $data/server.log); PostgreSQL tests will be skipped" >&2
    return 0
  fi
  CDSS_PG_DATA="$data"
  CDSS_PG_RUN="${run[*]}"
  CDSS_PG_BIN="$bin"
  export CDSS_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$port/cdss_test"
  echo "postgres.sh: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port ($data)" >&2
}

cdss_pg_stop() {
  if [ -n "${CDSS_PG_DATA:-}" ]; then
    # shellcheck disable=SC2086
    $CDSS_PG_RUN "$CDSS_PG_BIN/pg_ctl" -D "$CDSS_PG_DATA" -m fast -w stop >/dev/null || true
    rm -rf "$CDSS_PG_DATA"
    unset CDSS_PG_DATA CDSS_TEST_POSTGRES_URL
  fi
}

cdss_pg_start
