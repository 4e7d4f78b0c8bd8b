#!/usr/bin/env bash
# Parses every T-SQL file (migrations/mssql, sql/mssql) with sqlfluff's tsql dialect, since
# SQL Server itself is not available here, and checks the batch rule of the migrations:
# refinery sends each file as ONE batch and does not split on GO, so a file holding a
# procedure, view, function, trigger or schema must hold that one statement and no GO.
# Prints one line per file; exits non-zero when any file fails. sqlfluff lives in ./.venv
# (created on first use, pinned below); on a fresh Debian the script installs python3-venv.
set -euo pipefail
cd "$(dirname "$0")/.."

SQLFLUFF_VERSION=4.5.0
VENV=.venv

# Debian ships python3 without ensurepip (that is the python3-venv package), and a fresh
# machine may have no python3 at all.
install_debian_python() {
  if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" -ne 0 ]; then
    echo "parse-tsql: python3 with the venv module is needed (Debian: apt-get install python3-venv, as root)" >&2
    exit 1
  fi
  echo "parse-tsql: installing python3 and python3-venv (apt-get)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
}

ensure_sqlfluff() {
  if [ -x "$VENV/bin/sqlfluff" ] &&
    [ "$("$VENV/bin/sqlfluff" --version 2>/dev/null)" = "sqlfluff, version $SQLFLUFF_VERSION" ]; then
    return
  fi
  command -v python3 >/dev/null 2>&1 || install_debian_python
  # A venv without a working pip (a failed earlier attempt) is ours to replace.
  if [ -d "$VENV" ] && ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
    rm -rf "$VENV"
  fi
  if [ ! -d "$VENV" ]; then
    echo "parse-tsql: creating $VENV"
    if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
      rm -rf "$VENV"
      install_debian_python
      python3 -m venv "$VENV"
    fi
  fi
  echo "parse-tsql: installing sqlfluff $SQLFLUFF_VERSION into $VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "sqlfluff==$SQLFLUFF_VERSION"
}

# Reads sqlfluff's JSON parse tree on stdin. Argument 1: 1 for a migration (batch rule
# applies). Prints a short summary; exits 1 with the reason when the file fails.
read -r -d '' CHECK_TREE <<'PY' || true
import json
import sys

is_migration = sys.argv[1] == "1"
parsed = json.load(sys.stdin)
if not parsed or not parsed[0].get("segments"):
    print("not parsed (sqlfluff skipped the file)")
    sys.exit(1)
tree = parsed[0]["segments"]

def items(node):
    """Every (segment type, value) pair in the tree, depth first."""
    if isinstance(node, list):
        for child in node:
            yield from items(child)
    elif isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from items(value)

def children(value):
    return value if isinstance(value, list) else [value]

if any(key == "unparsable" for key, _ in items(tree)):
    print("unparsable section")
    sys.exit(1)

batches = [c["batch"] for c in children(tree["file"]) if isinstance(c, dict) and "batch" in c]
statements = [
    next(iter(children(c["statement"])[0]))
    for batch in batches
    for c in children(batch)
    if isinstance(c, dict) and "statement" in c
]
summary = statements[0] if len(statements) == 1 else f"{len(statements)} statements"

if is_migration:
    # sqlfluff 4.5 calls a trigger's node create_trigger, without the _statement of the others.
    alone = {"create_procedure_statement", "create_view_statement", "create_function_statement",
             "create_trigger", "create_schema_statement"}
    if any(key == "go_statement" for key, _ in items(tree)) or len(batches) > 1:
        print("GO in a migration: refinery sends the file as one batch")
        sys.exit(1)
    if not statements:
        print("no statement")
        sys.exit(1)
    if len(statements) > 1 and alone.intersection(statements):
        print(f"{summary}: a {sorted(alone.intersection(statements))[0]} must be alone in its file (one batch)")
        sys.exit(1)
print(summary)
PY

ensure_sqlfluff

# sqlfluff skips files over 20,000 bytes by default (large_file_skip_byte_limit) and then
# prints an empty tree: the limit is lifted here, and local config files are ignored so that
# every machine parses alike. Its messages go to a file of their own, away from the JSON.
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
printf '[sqlfluff]\nlarge_file_skip_byte_limit = 0\n' >"$WORK/config"
SQLFLUFF=("$VENV/bin/sqlfluff" parse --dialect tsql --templater raw --ignore-local-config --config "$WORK/config")

mapfile -t files < <(find migrations/mssql sql/mssql -type f -name '*.sql' | sort -V)
if [ "${#files[@]}" -eq 0 ]; then
  echo "parse-tsql: no .sql files under migrations/mssql or sql/mssql" >&2
  exit 1
fi

failed=0
for file in "${files[@]}"; do
  is_migration=0
  case "$file" in migrations/*) is_migration=1 ;; esac
  status=0
  tree=$("${SQLFLUFF[@]}" --format json "$file" 2>"$WORK/stderr") || status=$?
  # Belt and braces: the exit code, a grep of the output, and the tree walk must all agree.
  if [ "$status" -ne 0 ] || grep -q '"unparsable"' <<<"$tree"; then
    echo "FAILED  $file  (sqlfluff exit $status, unparsable section)"
    "${SQLFLUFF[@]}" "$file" 2>&1 |
      sed -n '/==== parsing violations ====/,$p' | sed 's/^/        /' || true
    failed=$((failed + 1))
  elif summary=$("$VENV/bin/python" -c "$CHECK_TREE" "$is_migration" <<<"$tree"); then
    echo "ok      $file  ($summary)"
  else
    echo "FAILED  $file  ($summary)"
    failed=$((failed + 1))
  fi
done

echo "parse-tsql: ${#files[@]} files, $failed failed (sqlfluff $SQLFLUFF_VERSION, dialect tsql)"
[ "$failed" -eq 0 ]
