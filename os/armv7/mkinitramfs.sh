#!/bin/bash
# Builds the armv7 initrd.img from an extracted linux-image-*-armmp .deb and a
# static armhf busybox, without running any armhf binary on the host.
#   mkinitramfs.sh --kernel-root DIR --busybox FILE --out FILE
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
kroot= busybox= out=
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel-root) kroot=$2; shift 2 ;;
	--busybox) busybox=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	*) echo "mkinitramfs.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
[ -n "$kroot" ] && [ -n "$busybox" ] && [ -n "$out" ] || { echo "usage: $0 --kernel-root DIR --busybox FILE --out FILE" >&2; exit 2; }

# Debian ships modules under /lib or /usr/lib depending on the release.
moddir=
for d in "$kroot"/lib/modules/* "$kroot"/usr/lib/modules/*; do
	[ -d "$d/kernel" ] && { moddir=$d; break; }
done
[ -n "$moddir" ] || { echo "mkinitramfs.sh: no modules in $kroot" >&2; exit 1; }
kver=$(basename "$moddir")
out=$(realpath -m "$out")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# depmod/modprobe only read files here, so resolving the armhf module
# dependencies on the host is safe; work on a copy to leave the input untouched.
mkdir -p "$work/k/lib/modules"
cp -a "$moddir" "$work/k/lib/modules/$kver"
depmod -b "$work/k" "$kver"

mkdir -p "$work/root/bin" "$work/root/etc" "$work/root/lib/modules"
install -m 0755 "$busybox" "$work/root/bin/busybox"
ln -s busybox "$work/root/bin/sh"
install -m 0755 "$here/initramfs-init" "$work/root/init"

: >"$work/root/etc/initramfs-modules"
# Block + root fs first; the rest is for the running system (eth0, /mnt/boot).
for m in virtio_mmio virtio_blk ext4 virtio_net vfat nls_cp437 nls_ascii nls_utf8 nls_iso8859_1 virtio_rng; do
	modprobe -d "$work/k" -S "$kver" --show-depends "$m" | while read -r kind path _; do
		[ "$kind" = insmod ] || continue
		rel=${path#"$work/k/lib/modules/$kver/"}
		name=$(basename "$rel")
		grep -qx "$name" "$work/root/etc/initramfs-modules" && continue
		cp "$path" "$work/root/lib/modules/$name"
		echo "$name" >>"$work/root/etc/initramfs-modules"
	done
done

(cd "$work/root" && find . | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 --reproducible) | gzip -9n >"$out"
