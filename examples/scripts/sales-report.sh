#!/bin/sh
# Stand-in for a report: writes a small CSV into .stagehand/reports (in the checkout).
set -eu
# Paths from this script's checkout, so it runs from any working directory.
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=$root/.stagehand/reports
mkdir -p "$dir"
file="$dir/sales-$(date -u +%Y%m%dT%H%M%SZ).csv"
{
  echo "region,orders,revenue"
  for region in north south east west; do
    echo "$region,$(( $(od -An -N2 -tu2 /dev/urandom) % 500 )),$(( $(od -An -N2 -tu2 /dev/urandom) * 10 ))"
  done
} >"$file"
echo "report written: $file"
