#!/usr/bin/env bash
# Guards the released migrations (migrations/released.sha256): refinery records a checksum
# of every file it applied and refuses a database whose applied file changed, and it aborts
# when a new file's version is below the highest one a database already applied. So:
#   check  (default; scripts/test.sh) fails when a released file was edited or removed, or
#          when an unreleased file's version is not above the last released version;
#   record (when a landing releases the migrations) adds the unreleased files to the list,
#          after the same check.
set -euo pipefail
cd "$(dirname "$0")/../migrations"

MANIFEST=released.sha256
mode=${1:-check}
case "$mode" in check | record) ;; *)
  echo "usage: $0 [check|record]" >&2
  exit 2
  ;;
esac

version_of() { # migrations/postgres/V12__X.sql -> 12
  local base=${1##*/}
  base=${base#V}
  echo "$((10#${base%%__*}))"
}

failed=0
if ! sha256sum --check --quiet --strict "$MANIFEST"; then
  echo "released-migrations: a released migration was changed or removed (above); a routine changes with a NEW version file" >&2
  failed=1
fi

last=0
while read -r _ file; do
  version=$(version_of "$file")
  ((version > last)) && last=$version
done <"$MANIFEST"

declare -A seen
unreleased=()
for file in postgres/V*.sql mssql/V*.sql; do
  version=$(version_of "$file")
  dialect=${file%%/*}
  if [ -n "${seen[$dialect/$version]:-}" ]; then
    echo "released-migrations: $file and ${seen[$dialect/$version]} share version $version" >&2
    failed=1
  fi
  seen[$dialect/$version]=$file
  grep -qF "  $file" "$MANIFEST" && continue
  unreleased+=("$file")
  if ((version <= last)); then
    echo "released-migrations: $file: version $version is not above the last released one (V$last); a database at V$last would refuse it (renumber to V$((last + 1)) or above)" >&2
    failed=1
  fi
done
((failed == 0)) || exit 1

if [ "$mode" = record ] && ((${#unreleased[@]} > 0)); then
  sha256sum "${unreleased[@]}" >>"$MANIFEST"
  echo "released-migrations: recorded ${#unreleased[@]} file(s): ${unreleased[*]}"
else
  echo "released-migrations: ok (last released V$last, ${#unreleased[@]} unreleased file(s))"
fi
