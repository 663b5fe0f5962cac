#!/bin/bash
# Assembles the armv7 (qemu -M virt + U-Boot) disk image of the reference OS:
# MBR, boot FAT (boot.scr + U-Boot variables), rootA, rootB, extended, state,
# data, as os/README.md lays out.  No root, loop device or mount: mkfs.ext4 -d,
# mkfs.vfat + mcopy, sfdisk on the file, dd conv=sparse.
#
#   image-armv7.sh --out FILE --root-a DIR|EXT4 [--root-b DIR|EXT4]
#                  [--variant NAME] [--boot-files DIR]
#
# A root given as a directory must hold /boot/vmlinuz and /boot/initrd.img (the
# armmp kernel and an initramfs such as os/armv7/mkinitramfs.sh makes).  Without
# --root-b, slot B gets a copy of slot A, so that a fallback always has a kernel.
# --boot-files: extra files copied to the root of the boot partition.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out= root_a= root_b= variant=v1 boot_files=
while [ $# -gt 0 ]; do
	case "$1" in
	--out) out=$2; shift 2 ;;
	--root-a) root_a=$2; shift 2 ;;
	--root-b) root_b=$2; shift 2 ;;
	--variant) variant=$2; shift 2 ;;
	--boot-files) boot_files=$2; shift 2 ;;
	*) echo "image-armv7.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
[ -n "$out" ] && [ -n "$root_a" ] || { echo "usage: $0 --out FILE --root-a DIR|EXT4 [--root-b DIR|EXT4] [--variant NAME] [--boot-files DIR]" >&2; exit 2; }
[ -n "$root_b" ] || root_b=$root_a

# Sizes in 512-byte sectors; README's table.  Each logical partition is
# preceded by its EBR, so leave 1 MiB before each to keep 1 MiB alignment.
MiB=2048
boot_start=$((1 * MiB)) boot_size=$((32 * MiB))
a_start=$((boot_start + boot_size)) a_size=$((96 * MiB))
b_start=$((a_start + a_size)) b_size=$((96 * MiB))
ext_start=$((b_start + b_size))
state_start=$((ext_start + 1 * MiB)) state_size=$((16 * MiB))
data_start=$((state_start + state_size + 1 * MiB)) data_size=$((32 * MiB))
total=$((data_start + data_size))
ext_size=$((total - ext_start))

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Fixed UUIDs/timestamps are not needed for booting; keep mkfs defaults but
# quiet.  U-Boot 2023.01 reads ext4 with metadata_csum/64bit fine; orphan_file
# is unknown to older e2fsck in the guest, so leave it out when mke2fs has it.
ext4_opts=()
if grep -q orphan_file /etc/mke2fs.conf 2>/dev/null; then ext4_opts+=(-O ^orphan_file); fi

mkext4() { # name label sectors [dir]
	local img=$work/$1.ext4
	if [ -n "${4:-}" ] && [ -f "$4" ]; then
		cp --sparse=always "$4" "$img"
		[ "$(stat -c %s "$img")" -le $(($3 * 512)) ] || { echo "image-armv7.sh: $4 larger than its partition" >&2; exit 1; }
		return
	fi
	rm -f "$img"
	mkfs.ext4 -q -F -L "$2" "${ext4_opts[@]}" ${4:+-d "$4"} "$img" $(($3 / 2))k >/dev/null
}

mkext4 rootA rootA "$a_size" "$root_a"
mkext4 rootB rootB "$b_size" "$root_b"
mkext4 state state "$state_size"
mkext4 data data "$data_size"

# Boot partition.
mkdir -p "$work/bootfs"
sed_expr='s/^setenv hwt_fallback 1$/setenv hwt_fallback 1/'
[ "$variant" = no-fallback ] && sed_expr='s/^setenv hwt_fallback 1$/setenv hwt_fallback 0/'
sed "$sed_expr" "$here/armv7/boot.cmd" >"$work/boot.cmd"
grep -q "^setenv hwt_fallback [01]$" "$work/boot.cmd" || { echo "image-armv7.sh: boot.cmd lost its fallback switch" >&2; exit 1; }
mkimage -A arm -O linux -T script -C none -n "hw-test boot ($variant)" -d "$work/boot.cmd" "$work/bootfs/boot.scr" >/dev/null
BOOTENV_DIR=$work/bootfs sh "$here/armv7/bootenv-uboot" set \
	active_slot=A upgrade_available=0 bootcount=0 bootlimit=3 rollback_altboot=0
mkdir -p "$work/bootfs/hw-test"
if [ -n "$boot_files" ]; then cp -r "$boot_files"/. "$work/bootfs/"; fi

rm -f "$work/boot.vfat"
mkfs.vfat -C -n BOOT "$work/boot.vfat" $((boot_size / 2)) >/dev/null
# -s: directories recursively; -m: keep mtimes.  (-b, batch mode, fails with
# "size too big" on some file sizes in mtools 4.0.33.)
mcopy -i "$work/boot.vfat" -s -m "$work/bootfs"/* ::/

# Disk: sfdisk on the plain file; type 0e = FAT16 LBA, bootable so U-Boot's
# distro boot (`part list -bootable`) scans it first.
rm -f "$out"
truncate -s $((total * 512)) "$out"
sfdisk -q --no-reread --no-tell-kernel "$out" <<EOT
label: dos
unit: sectors
start=$boot_start, size=$boot_size, type=e, bootable
start=$a_start, size=$a_size, type=83
start=$b_start, size=$b_size, type=83
start=$ext_start, size=$ext_size, type=5
start=$state_start, size=$state_size, type=83
start=$data_start, size=$data_size, type=83
EOT

put() { dd if="$1" of="$out" bs=512 seek="$2" conv=notrunc,sparse status=none; }
put "$work/boot.vfat" "$boot_start"
put "$work/rootA.ext4" "$a_start"
put "$work/rootB.ext4" "$b_start"
put "$work/state.ext4" "$state_start"
put "$work/data.ext4" "$data_start"
