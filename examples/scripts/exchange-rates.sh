#!/bin/sh
# Stand-in for an integration call: "fetches" rates (offline), fails one run in four so
# the retry with backoff shows in `stagehand logs`.
set -eu
# Paths from this script's checkout, so it runs from any working directory.
root=$(cd "$(dirname "$0")/../.." && pwd)
sleep 2
if [ $(( $(od -An -N1 -tu1 /dev/urandom) % 4 )) -eq 0 ]; then
  echo "rates service answered 503 Service Unavailable" >&2
  exit 75
fi
mkdir -p "$root/.stagehand"
printf '{"base":"USD","BRL":5.%02d,"EUR":0.9%d,"fetchedFor":"%s"}\n' \
  $(( $(od -An -N1 -tu1 /dev/urandom) % 100 )) $(( $(od -An -N1 -tu1 /dev/urandom) % 10 )) \
  "${STAGEHAND_SCHEDULED_FOR:-now}" >"$root/.stagehand/exchange-rates.json"
echo "rates saved (attempt $STAGEHAND_ATTEMPT)"
