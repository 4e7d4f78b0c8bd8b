#!/usr/bin/env bash
# Runs stagehand on a local default database: a PostgreSQL cluster kept under
# ./.stagehand/ (it survives restarts of this script), the schema deployed, the
# example tasks loaded when there are none, then the driver in the foreground.
#   scripts/run.sh          start (Ctrl-C stops the driver; the cluster keeps running)
#   scripts/run.sh stop     stop the local cluster
#   scripts/run.sh env      print the STAGEHAND_DATABASE_URL to use from another terminal
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/pg.sh
source scripts/debian.sh
STATE=$PWD/.stagehand
DATA=$STATE/pg

pg_ensure_installed
debian_ensure pkg-config libssl-dev
mkdir -p "$STATE"
if [ "${1:-}" = "stop" ]; then
  pg_stop "$DATA"
  echo "local cluster stopped"
  exit 0
fi
if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$STATE"; then
  echo "error: the postgres user cannot reach $STATE (a parent directory is not traversable); move the checkout or run as a normal user" >&2
  exit 1
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

echo "==> building stagehand (release)"
cargo build --release --quiet
STAGEHAND=$PWD/target/release/stagehand

echo "==> deploying the schema"
"$STAGEHAND" migrate

tasks=$("$PG_BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d stagehand -tAc "SELECT count(*) FROM stage.Task")
if [ "$tasks" = "0" ]; then
  echo "==> no tasks yet: loading examples/tasks/*.json"
  "$STAGEHAND" task import examples/tasks/*.json
fi
"$STAGEHAND" task list

cat <<MSG
==> running the driver (Ctrl-C stops it; a second Ctrl-C stops at once)
    From another terminal:  eval "\$(scripts/run.sh env)"; $STAGEHAND status
                            $STAGEHAND logs --follow
MSG
exec "$STAGEHAND" run
