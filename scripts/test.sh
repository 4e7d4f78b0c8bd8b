#!/usr/bin/env bash
# The whole test suite: formatting, lints, the T-SQL parse, the Windows build, the
# Windows exec and driver tests under Wine (scripts/wine.sh), and
# `cargo test` against a private, throw-away PostgreSQL cluster (and against SQL Server
# too when STAGEHAND_TEST_MSSQL holds a connection string).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/pg.sh
source scripts/debian.sh

# A clean build gains nothing from incremental artifacts; they only cost disk.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}

step() { printf '\n==> %s\n' "$*"; }

step "build dependencies"
# OpenSSL headers for the SQL Server driver's TLS (native-tls; schannel on Windows).
debian_ensure pkg-config libssl-dev
# The dashboard's browser tests (tests/web_dashboard.rs) drive Debian's Chromium.
debian_ensure chromium chromium-driver
# tests/service_systemd.rs lints the unit `stagehand service install` writes.
command -v systemd-analyze >/dev/null || debian_ensure systemd

step "PostgreSQL"
pg_ensure_installed
PGDIR=$(mktemp -d /tmp/stagehand-test-pg.XXXXXX)
chmod 755 "$PGDIR" # the server runs as postgres when we are root
cleanup() { pg_stop "$PGDIR/data"; rm -rf "$PGDIR"; }
trap cleanup EXIT
PORT=$(pg_free_port)
PG_EXTRA_OPTS="-c fsync=off -c synchronous_commit=off -c full_page_writes=off" pg_start "$PGDIR/data" "$PORT"
export STAGEHAND_TEST_POSTGRES="postgres://postgres@127.0.0.1:$PORT/postgres"
echo "private cluster on 127.0.0.1:$PORT ($("$PG_BIN/postgres" --version))"
if [ -n "${STAGEHAND_TEST_MSSQL:-}" ]; then
  echo "SQL Server: the conformance suite runs against STAGEHAND_TEST_MSSQL too"
else
  echo "SQL Server: skipped (set STAGEHAND_TEST_MSSQL to a connection string to run the suite against it)"
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --all-targets --quiet -- -D warnings

step "T-SQL parse (sqlfluff, dialect tsql)"
scripts/parse-tsql.sh

step "released migrations unchanged, new ones above them (migrations/released.sha256)"
scripts/released-migrations.sh

step "Windows build (cargo check --target x86_64-pc-windows-gnu)"
if rustup target list --installed 2>/dev/null | grep -q '^x86_64-pc-windows-gnu$' ||
  rustup target add x86_64-pc-windows-gnu >/dev/null 2>&1; then
  cargo check --quiet --all-targets --target x86_64-pc-windows-gnu
  echo "Windows build: ok"
else
  echo "Windows build: SKIPPED (the x86_64-pc-windows-gnu target could not be installed here)"
fi

step "Windows tests under Wine (scripts/wine.sh)"
wine_status=0
{ scripts/wine.sh 2>&1 | tee "$PGDIR/wine-test.log"; } || wine_status=$? # pipefail: wine.sh's status
if [ "$wine_status" -eq 3 ]; then
  cat >&2 <<'BANNER'

  ###########################################################################
  ##  WINDOWS TESTS SKIPPED: Wine or the mingw-w64 toolchain could not be  ##
  ##  installed (see the message above). NO WINDOWS CODE WAS TESTED.       ##
  ###########################################################################

BANNER
elif [ "$wine_status" -ne 0 ]; then
  echo "Windows tests under Wine: FAILED (the Unix suite runs anyway)" >&2
fi

step "cargo test"
# Not under -e: a failing test must still reach the summary below.
set +e
cargo test --no-fail-fast 2>&1 | tee "$PGDIR/cargo-test.log"
status=${PIPESTATUS[0]}
set -e

step "chaos: stagehand bench chaos (a driver SIGKILLed, the database restarted)"
# Its own database in the private cluster; the restart is an immediate stop of that cluster.
chaos_url="postgres://postgres@127.0.0.1:$PORT/chaos"
as_owner=""; [ "$(id -u)" -eq 0 ] && as_owner="runuser -u postgres --"
restart_cmd="cd / && $as_owner '$PG_BIN/pg_ctl' -D '$PGDIR/data' -l '$PGDIR/data/server.log' -m immediate -w -t 60 restart"
chaos_status=0
{ "$PG_BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres chaos &&
  STAGEHAND_DATABASE_URL=$chaos_url cargo run --quiet -- migrate >/dev/null &&
  STAGEHAND_DATABASE_URL=$chaos_url cargo run --quiet -- bench chaos --processes 1000 --workers 4 \
    --timeout-seconds 240 --restart-cmd "$restart_cmd"; } || chaos_status=$?
if [ "$chaos_status" -ne 0 ]; then echo "chaos: FAILED (exit $chaos_status)" >&2; status=1; fi
# A Windows failure fails the suite; Wine being unavailable does not (it was said loudly).
if [ "$wine_status" -ne 0 ] && [ "$wine_status" -ne 3 ]; then status=1; fi
# The Windows tests under Wine count too.
passed=$(cat "$PGDIR/cargo-test.log" "$PGDIR/wine-test.log" | grep -Eo '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
failed=$(cat "$PGDIR/cargo-test.log" "$PGDIR/wine-test.log" | grep -Eo '[0-9]+ failed' | awk '{s+=$1} END {print s+0}')
echo
echo "$passed passed, $failed failed"
exit "$status"
