#!/usr/bin/env bash
# Host tools os/build.sh needs beyond scripts/setup.sh's list: binutils for readelf,
# which finds the shared libraries the device's dynamically linked daemons need.
# Idempotent; needs root only when something is missing.
set -euo pipefail
PACKAGES=(binutils)
missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
((${#missing[@]})) || exit 0
[[ $(id -u) -eq 0 ]] || { echo "setup-os-deps: installing ${missing[*]} needs root" >&2; exit 1; }
echo "setup-os-deps: installing ${missing[*]}"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/hw-test-os-deps.log 2>&1 ||
	{ echo "setup-os-deps: apt-get install failed (see /tmp/hw-test-os-deps.log)" >&2; exit 1; }
