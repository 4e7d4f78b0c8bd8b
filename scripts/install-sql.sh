#!/usr/bin/env bash
# Regenerates the install scripts a DBA runs by hand (sql/postgres/install.sql,
# sql/mssql/install.sql) from the migrations; the test suite fails when the committed
# ones differ from what this prints.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet
for dialect in postgres mssql; do
  mkdir -p "sql/$dialect"
  target/debug/stagehand migrate --script --dialect "$dialect" >"sql/$dialect/install.sql"
  echo "wrote sql/$dialect/install.sql"
done
