# PostgreSQL helpers for stagehand's scripts (sourced, not run).
# They start private clusters (initdb in a directory of ours, loopback only, a free
# port) so that no test or demo depends on a PostgreSQL service already running.

# Installs Debian's postgresql package when no server binaries are present.
pg_ensure_installed() {
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    echo "==> PostgreSQL server binaries missing: installing Debian's postgresql package"
    if [ "$(id -u)" -ne 0 ]; then
      echo "error: PostgreSQL is not installed and this is not root; install the 'postgresql' package" >&2
      return 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # policy-rc.d keeps the package from starting its own cluster: we never use it.
    apt-get install -y -qq postgresql >/dev/null
  fi
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  export PG_BIN
}

# Runs a command as the cluster's owner: initdb and postgres refuse to run as root.
pg_as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    # From /: the caller's directory (a checkout in /root) may be closed to postgres.
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

# Prints a TCP port on 127.0.0.1 that nothing listens on.
pg_free_port() {
  local port
  for _ in $(seq 1 200); do
    port=$((20000 + RANDOM % 40000))
    if ! (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  echo "error: no free port found" >&2
  return 1
}

# pg_start DATADIR PORT: initialises DATADIR when empty, then starts the server.
pg_start() {
  local dir=$1 port=$2
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then chown postgres "$dir"; chmod 700 "$dir"; fi
  if [ ! -f "$dir/PG_VERSION" ]; then
    pg_as_owner "$PG_BIN/initdb" -D "$dir" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$dir.initdb.log" 2>&1 ||
      pg_as_owner "$PG_BIN/initdb" -D "$dir" -U postgres -A trust -E UTF8 >"$dir.initdb.log" 2>&1 ||
      { cat "$dir.initdb.log" >&2; return 1; }
  fi
  pg_check_passwords "$dir"
  # fsync off: a throw-away or demo cluster trades durability for speed only on the test
  # path; run.sh passes PG_EXTRA_OPTS='' to keep it.
  pg_as_owner "$PG_BIN/pg_ctl" -D "$dir" -w -t 60 -l "$dir/server.log" \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 ${PG_EXTRA_OPTS-}" start >/dev/null ||
    { tail -n 30 "$dir/server.log" >&2; return 1; }
}

# pg_check_passwords DATADIR: the cluster trusts every login, except members of the
# role stagehand_password_checked, whose passwords are checked (scram-sha-256): the
# dashboard's database-login tests need a server that refuses a wrong password.
# Idempotent; a running server is told to reload.
pg_check_passwords() {
  local dir=$1 hba="$1/pg_hba.conf"
  [ -f "$hba" ] || return 0
  grep -q '+stagehand_password_checked' "$hba" && return 0
  # pg_hba.conf is read top-down: these come before the trust lines.
  { printf '%s\n' \
      'local all +stagehand_password_checked scram-sha-256' \
      'host all +stagehand_password_checked 127.0.0.1/32 scram-sha-256' \
      'host all +stagehand_password_checked ::1/128 scram-sha-256'
    cat "$hba"; } >"$hba.new" && mv "$hba.new" "$hba"
  chmod 600 "$hba"
  if [ "$(id -u)" -eq 0 ]; then chown postgres "$hba"; fi
  if [ -f "$dir/postmaster.pid" ]; then
    pg_as_owner "$PG_BIN/pg_ctl" -D "$dir" reload >/dev/null
  fi
}

# pg_stop DATADIR: fast shutdown; quiet when it is not running.
pg_stop() {
  local dir=$1
  [ -f "$dir/postmaster.pid" ] || return 0
  pg_as_owner "$PG_BIN/pg_ctl" -D "$dir" -m fast -w stop >/dev/null 2>&1 || true
}
