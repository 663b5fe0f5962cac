#!/usr/bin/env bash
# Builds the flasher's in-process xz decoder (rig/flash/native/xzdec.c: liblzma's multithreaded
# decoder, no pipe) into dist/native. Optional: without a C compiler, Node's headers or liblzma >= 5.4
# it says so in one line and exits 0, and .xz images are decompressed by the xz tool instead.
# Part of `npm run build`; `npm run setup` installs gcc and liblzma-dev and builds it again.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

src=rig/flash/native/xzdec.c
out=dist/native/xzdec.node
[[ -f $out && $out -nt $src ]] && exit 0

skip() {
	printf 'build: in-process xz decoder not built (%s); .xz images go through the xz tool (install gcc and liblzma-dev: npm run setup)\n' "$*" >&2
	rm -f "$out"
	exit 0
}

cc=${CC:-$(command -v cc || command -v gcc || true)}
[[ -n $cc ]] || skip "no C compiler"
# Node's own headers: next to the node binary (Debian, nodesource and the official tarballs put them there).
inc=$(node -p "require('path').resolve(process.execPath, '../../include/node')")
[[ -f $inc/node_api.h ]] || skip "no node_api.h in $inc"
mkdir -p dist/native
log=$(mktemp)
if ! "$cc" -O2 -Wall -fPIC -shared -I"$inc" -o "$out.tmp" "$src" -llzma >"$log" 2>&1; then
	why=$(grep -m1 -E 'error|cannot find' "$log" || tail -1 "$log")
	why=${why:-$cc failed}
	rm -f "$log" "$out.tmp"
	skip "$why"
fi
rm -f "$log"
mv "$out.tmp" "$out"
