#!/usr/bin/env bash
# Builds the virtual rig's access-point agent for one board arch (rig/net/virtual-ap.ts runs it
# on the virtual board, docs/wiring.md says why):
#
#   bash rig/net/virtual-ap/build.sh --arch x86_64|armv7 --out DIR
#
# DIR/busybox     Debian's busybox-static: the agent's shell and tools (tar, unshare, nsenter, ip,
#                 udhcpd, httpd, ping), so the agent never runs the board's own programs
# DIR/agent.tgz   agent.sh, hostapd, hostapd_cli and iw from Debian packages, with every library
#                 they load and the dynamic loader itself (they run as `lib/LOADER --library-path
#                 lib libexec/PROG`), so they need nothing from the board's root either
#
# Packages come from the same cache as the reference OS (~/.cache/hw-test/debs/<deb arch>/,
# os/lib/debs.sh), fetched with apt-get download. No root, no mount.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OS_DIR=$(cd "$HERE/../../../os" && pwd)
usage() { echo "usage: rig/net/virtual-ap/build.sh --arch x86_64|armv7 --out DIR" >&2; exit 2; }
ARCH= OUT=
while (($#)); do
	case $1 in
	--arch) ARCH=${2:-}; shift 2 || usage ;;
	--out) OUT=${2:-}; shift 2 || usage ;;
	*) usage ;;
	esac
done
[[ -n $ARCH && -n $OUT ]] || usage
case $ARCH in
x86_64) DEB_ARCH=amd64 TRIPLET=x86_64-linux-gnu ;;
armv7) DEB_ARCH=armhf TRIPLET=arm-linux-gnueabihf ;;
*) echo "virtual-ap build: unknown arch $ARCH (x86_64 or armv7)" >&2; exit 2 ;;
esac
for tool in apt-get apt-cache dpkg-deb readelf tar gzip flock; do
	command -v "$tool" >/dev/null || { echo "virtual-ap build: $tool not found (run npm run setup)" >&2; exit 1; }
done

HW_CACHE=${HW_CACHE:-$HOME/.cache/hw-test}
DEB_CACHE=$HW_CACHE/debs/$DEB_ARCH
# shellcheck source=../../../os/lib/debs.sh
. "$OS_DIR/lib/debs.sh"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hw-test-ap.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
SYSROOT=$WORK/sysroot AGENT=$WORK/hw-test-ap
mkdir -p "$SYSROOT" "$AGENT/lib" "$AGENT/libexec" "$AGENT/bin" "$OUT"

# The image builds fill the same package cache: one writer at a time.
mkdir -p "$HW_CACHE"
exec {lockfd}>"$HW_CACHE/.lock-$DEB_ARCH"
flock "$lockfd"
debs=$(deb_fetch busybox-static hostapd iw) || { echo "virtual-ap build: fetching packages failed" >&2; exit 1; }
exec {lockfd}>&-
while read -r deb; do dpkg-deb -x "$deb" "$SYSROOT"; done <<<"$debs"

# Copies ELF file REL (a path in SYSROOT) and the closure of its NEEDED libraries into lib/.
LOADER=
need() {
	local file=$1 lib dir interp found
	interp=$(readelf -l "$file" 2>/dev/null | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
	if [[ -n $interp && ! -e $AGENT/lib/$(basename "$interp") ]]; then
		cp -L "$SYSROOT/$interp" "$AGENT/lib/"
		LOADER=$(basename "$interp")
	fi
	for lib in $(readelf -d "$file" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
		[[ -e $AGENT/lib/$lib ]] && continue
		found=
		for dir in lib/$TRIPLET usr/lib/$TRIPLET lib usr/lib; do
			[[ -e $SYSROOT/$dir/$lib ]] && { found=$SYSROOT/$dir/$lib; break; }
		done
		[[ -n $found ]] || { echo "virtual-ap build: $lib (needed by $file) is in no package" >&2; exit 1; }
		cp -L "$found" "$AGENT/lib/$lib"
		need "$AGENT/lib/$lib"
	done
}
for prog in usr/sbin/hostapd usr/sbin/hostapd_cli sbin/iw; do
	cp -L "$SYSROOT/$prog" "$AGENT/libexec/"
	need "$AGENT/libexec/$(basename "$prog")"
done
[[ -n $LOADER ]] || { echo "virtual-ap build: no dynamic loader found" >&2; exit 1; }
echo "$LOADER" >"$AGENT/loader"

# The busybox applets the agent uses, on its own PATH; the programs above behind a wrapper each.
cp "$SYSROOT/bin/busybox" "$OUT/busybox"
for applet in sh cat rm mkdir touch sleep ls readlink sed grep kill dd umount sort tee \
	unshare nsenter ip udhcpd dumpleases httpd ping setsid tail tr; do
	ln -s ../busybox "$AGENT/bin/$applet"
done
for prog in hostapd hostapd_cli iw; do
	printf '#!/bin/sh\nD=${0%%/bin/*}\nexec "$D/lib/%s" --library-path "$D/lib" "$D/libexec/%s" "$@"\n' "$LOADER" "$prog" \
		>"$AGENT/bin/$prog"
	chmod 755 "$AGENT/bin/$prog"
done
cp "$HERE/agent.sh" "$AGENT/agent.sh"
tar -C "$WORK" --owner=0 --group=0 -czf "$OUT/agent.tgz" hw-test-ap
echo "virtual-ap build: $ARCH agent $(du -h "$OUT/agent.tgz" | cut -f1) + busybox $(du -h "$OUT/busybox" | cut -f1)" >&2
