#!/bin/sh
# Stand-in for an ERP backup: archives the examples folder into .stagehand/backups (in
# the checkout) and keeps the five newest archives.
set -eu
# Paths from this script's checkout, so it runs from any working directory.
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=$root/.stagehand/backups
mkdir -p "$dir"
file="$dir/erp-$(date -u +%Y%m%dT%H%M%SZ)-$STAGEHAND_PROCESS_ID.tar.gz"
tar -czf "$file" -C "$root" examples
ls -1t "$dir"/erp-*.tar.gz | tail -n +6 | xargs -r rm -f
echo "backup written: $file ($(wc -c <"$file") bytes)"
