#!/usr/bin/env bash
# Runs stagehand on a local default database: a PostgreSQL cluster of its own (it
# survives restarts of this script), the schema deployed, the example tasks loaded when
# there are none, then the driver in the foreground. Works from any directory.
# The cluster lives in ./.stagehand/, or, for root when the postgres user cannot reach
# the checkout (a clone in /root, mode 700), in /var/lib/stagehand/<checkout>-<hash>/.
#   scripts/run.sh          start (Ctrl-C stops the driver; the cluster keeps running)
#   scripts/run.sh stop     stop the local cluster
#   scripts/run.sh env      print the STAGEHAND_DATABASE_URL to use from another terminal
# STAGEHAND_BIN=/path/to/stagehand uses that binary instead of building one with cargo.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/pg.sh
source scripts/debian.sh
ROOT=$PWD

pg_ensure_installed
debian_ensure pkg-config libssl-dev
STATE=$ROOT/.stagehand
if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$ROOT"; then
  # PostgreSQL refuses to run as root, and its user cannot traverse to the checkout:
  # keep the cluster in a state directory of its own, one per checkout.
  STATE=/var/lib/stagehand/$(basename "$ROOT")-$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)
  mkdir -p "$STATE"
  chmod 755 /var/lib/stagehand "$STATE"
fi
DATA=$STATE/pg
mkdir -p "$STATE"
if [ "${1:-}" = "stop" ]; then
  pg_stop "$DATA"
  echo "local cluster stopped"
  exit 0
fi
[ -f "$STATE/port" ] || pg_free_port >"$STATE/port"
PORT=$(cat "$STATE/port")
export STAGEHAND_DATABASE_URL="postgres://postgres@127.0.0.1:$PORT/stagehand"
if [ "${1:-}" = "env" ]; then
  echo "export STAGEHAND_DATABASE_URL=$STAGEHAND_DATABASE_URL"
  exit 0
fi
if ! pg_as_owner "$PG_BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
  echo "==> starting the local PostgreSQL cluster in $DATA (port $PORT)"
  PG_EXTRA_OPTS="" pg_start "$DATA" "$PORT"
fi
if ! "$PG_BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -tAc \
  "SELECT 1 FROM pg_database WHERE datname = 'stagehand'" | grep -q 1; then
  "$PG_BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres stagehand
fi

if [ -n "${STAGEHAND_BIN:-}" ]; then
  # An installed binary (see the README's Install section): nothing to build.
  STAGEHAND=$STAGEHAND_BIN
else
  if ! command -v cargo >/dev/null; then
    echo "error: cargo is missing: install Rust (https://rustup.rs, or Debian's cargo package) to build stagehand, or set STAGEHAND_BIN to an installed stagehand" >&2
    exit 1
  fi
  echo "==> building stagehand (release)"
  cargo build --release --quiet
  STAGEHAND=$ROOT/target/release/stagehand
fi

echo "==> deploying the schema"
"$STAGEHAND" migrate

tasks=$("$PG_BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d stagehand -tAc "SELECT count(*) FROM stage.Task")
if [ "$tasks" = "0" ]; then
  echo "==> no tasks yet: loading examples/tasks/*.json (with this checkout's absolute script paths)"
  # The examples name their scripts relative to the checkout; stored with absolute
  # paths, they run whatever the driver's working directory.
  mkdir -p "$STATE/tasks"
  for file in examples/tasks/*.json; do
    sed "s#\"sh examples/scripts/\([a-z-]*\.sh\)\"#\"sh '$ROOT/examples/scripts/\1'\"#" "$file" >"$STATE/tasks/$(basename "$file")"
  done
  "$STAGEHAND" task import "$STATE"/tasks/*.json
fi
"$STAGEHAND" task list

cat <<MSG
==> running the driver (Ctrl-C stops it; a second Ctrl-C stops at once)
    From another terminal:  eval "\$($ROOT/scripts/run.sh env)"; $STAGEHAND status
                            $STAGEHAND logs --follow
MSG
exec "$STAGEHAND" run
