#!/usr/bin/env bash
# The Windows build of the exec and driver tests, run under Wine against the PostgreSQL
# in STAGEHAND_TEST_POSTGRES (on loopback, reachable from Wine as from Linux).
#
# Installs what it needs when run as root on Debian: Wine (wine + wine64, no 32-bit
# part) and the mingw-w64 cross toolchain (the linker of x86_64-pc-windows-gnu). Debian
# 12's Wine 8.0 has no bcryptprimitives.dll, which Rust's std imports (ProcessPrng): a
# stand-in is built with mingw from scripts/wine/bcryptprimitives.c into the prefix.
#
# The Wine prefix is private and thrown away: created once per call under a temp dir.
#
# Exit status: 0 when every test passed, 1 when a test failed, 3 when Wine or the
# toolchain is not available here (the caller reports it; nothing was tested).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/debian.sh

readonly TARGET=x86_64-pc-windows-gnu
readonly UNAVAILABLE=3
# The test binaries that run real processes; the SQL ones behave the same on every OS.
readonly ALL_TESTS=(exec_portable exec_windows exec_program driver_windows schedule_windows service_windows)
# STAGEHAND_WINE_TESTS="driver_windows service_windows" runs only those (while working on
# them); by default every one runs.
read -r -a TESTS <<<"${STAGEHAND_WINE_TESTS:-${ALL_TESTS[*]}}"
readonly TESTS

unavailable() {
  echo "wine: $*" >&2
  exit "$UNAVAILABLE"
}

: "${STAGEHAND_TEST_POSTGRES:?set STAGEHAND_TEST_POSTGRES (scripts/test.sh does)}"

started=$SECONDS
# Without recommends: Wine's pull in fonts, GL and the 32-bit loader, none of which a
# console test needs.
DEBIAN_NO_RECOMMENDS=1 debian_ensure wine wine64 gcc-mingw-w64-x86-64 ||
  unavailable "could not install Wine or the mingw-w64 toolchain"
command -v wine >/dev/null || unavailable "no wine command after installing Wine"
rustup target list --installed 2>/dev/null | grep -qx "$TARGET" ||
  rustup target add "$TARGET" >/dev/null 2>&1 ||
  unavailable "the Rust target $TARGET could not be installed"
echo "toolchain ready ($(wine --version 2>/dev/null), $(x86_64-w64-mingw32-gcc -dumpversion) mingw) in $((SECONDS - started)) s"

work=$(mktemp -d /tmp/stagehand-wine.XXXXXX)
export WINEPREFIX="$work/prefix" WINEDEBUG=-all
# No Mono or Gecko install prompts: console programs need neither.
export WINEDLLOVERRIDES="mscoree,mshtml="
# Wine derives the Windows zone from TZ; schedule_windows checks that stagehand reads
# it back. (Wine picks one Windows zone per set of rules: New York's is unambiguous.)
export TZ=America/New_York STAGEHAND_TEST_MACHINE_ZONE=America/New_York
cleanup() {
  wineserver -k 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The prefix (a console program needs no display) and the stand-in DLL, while cargo
# builds below.
(
  wine wineboot --init >"$work/wineboot.log" 2>&1 && wineserver -w &&
    x86_64-w64-mingw32-gcc -O2 -shared -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
      scripts/wine/bcryptprimitives.c -ladvapi32
) &
prefix_job=$!

test_args=()
for name in "${TESTS[@]}"; do test_args+=(--test "$name"); done
if ! cargo test --no-run --target "$TARGET" "${test_args[@]}" 2>"$work/build.log"; then
  cat "$work/build.log" >&2
  wait "$prefix_job" || true
  echo "wine: the Windows build of the tests failed" >&2
  exit 1
fi
if ! wait "$prefix_job"; then
  cat "$work/wineboot.log" >&2
  unavailable "could not create the Wine prefix or build the bcryptprimitives.dll stand-in"
fi
echo "Windows tests built, Wine prefix ready in $((SECONDS - started)) s"

# cargo names each test executable: "Executable tests/x.rs (target/.../x-hash.exe)".
mapfile -t executables < <(sed -n 's/^ *Executable .*(\(.*\.exe\))$/\1/p' "$work/build.log")
[ ${#executables[@]} -eq ${#TESTS[@]} ] || {
  cat "$work/build.log" >&2
  echo "wine: expected ${#TESTS[@]} test executables, cargo named ${#executables[@]}" >&2
  exit 1
}

status=0
for exe in "${executables[@]}"; do
  echo "--- $(basename "$exe") (Wine)"
  # A bound, so that a hung Wine cannot hold the suite forever.
  timeout --kill-after=10 600 wine "$exe" || status=1
done
echo "Windows tests under Wine: $([ $status -eq 0 ] && echo passed || echo FAILED) in $((SECONDS - started)) s"
exit "$status"
