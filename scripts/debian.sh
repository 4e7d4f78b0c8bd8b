# Debian package helpers for stagehand's scripts (sourced, not run).

# debian_ensure PACKAGE...: installs the packages that are not installed yet
# (as root; otherwise says what to install). DEBIAN_NO_RECOMMENDS=1 leaves out
# the packages they only recommend.
debian_ensure() {
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: missing Debian packages: ${missing[*]} (install them, or run as root)" >&2
    return 1
  fi
  echo "==> installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  local options=(-y -qq)
  [ "${DEBIAN_NO_RECOMMENDS:-0}" = 1 ] && options+=(--no-install-recommends)
  apt-get install "${options[@]}" "${missing[@]}" >/dev/null
}
