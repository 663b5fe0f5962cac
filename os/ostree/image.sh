#!/usr/bin/env bash
# The OSTree variant's disk (os/README.md, "OSTree variant"): MBR + BIOS GRUB in the post-MBR gap
# as os/image-x86_64.sh installs it, and the reference layout with one sysroot partition where
# the two root slots were (no partition 3): 1 boot (FAT: GRUB, grubenv, hw-test/), 2 sysroot
# (ext4), 5 state, 6 data. Called by os/ostree/build.sh with:
#   IMG_OUT IMG_SYSROOT IMG_STATE IMG_DATA IMG_WORK  as os/build.sh documents (IMG_SYSROOT: 192 MiB)
#   IMG_DEPLOYMENT   the deployment the image boots, committed (ok_deployment)
#   IMG_NO_FALLBACK  1: GRUB counts the trial boots but never falls back
#   IMG_KERNEL_ARGS  extra kernel args
set -euo pipefail
OS_DIR=${OS_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
# shellcheck source=../lib/disk.sh
. "$OS_DIR/lib/disk.sh"
: "${IMG_OUT:?} ${IMG_SYSROOT:?} ${IMG_STATE:?} ${IMG_DATA:?} ${IMG_WORK:?} ${IMG_DEPLOYMENT:?}"
GRUB_DIR=${GRUB_DIR:-/usr/lib/grub/i386-pc}
[[ -f $GRUB_DIR/boot.img ]] || { echo "ostree image: $GRUB_DIR/boot.img missing (install grub-pc-bin)" >&2; exit 1; }

work=$IMG_WORK/ostree-image
rm -rf "$work" && mkdir -p "$work/boot/grub" "$work/boot/hw-test"
args="loglevel=6 panic=5 no_timer_check ${IMG_KERNEL_ARGS:-}"
sed "s|@KERNEL_ARGS@|$args|" "$OS_DIR/ostree/grub.cfg" >"$work/boot/grub/grub.cfg"
if [[ ${IMG_NO_FALLBACK:-0} == 1 ]]; then
	sed -i '/# BEGIN fallback/,/# END fallback/d' "$work/boot/grub/grub.cfg"
fi
grub-editenv "$work/boot/grub/grubenv" create
grub-editenv "$work/boot/grub/grubenv" set "ok_deployment=$IMG_DEPLOYMENT" upgrade_available=0 bootcount=0 \
	bootlimit=3 fallback=0 rollback_altboot=0

cat >"$work/early.cfg" <<'CFG'
serial --unit=0 --speed=115200
terminal_input serial
terminal_output serial
set root=(hd0,msdos1)
set prefix=(hd0,msdos1)/grub
CFG
# eval: the deployments are numbered variables (ostree_id_0, ostree_id_1, ...).
grub-mkimage -O i386-pc -d "$GRUB_DIR" -o "$work/core.img" -c "$work/early.cfg" -p '(hd0,msdos1)/grub' \
	biosdisk part_msdos fat ext2 loadenv serial terminal echo test linux normal configfile \
	sleep reboot halt eval || { echo "ostree image: grub-mkimage failed" >&2; exit 1; }
core_sectors=$((($(stat -c %s "$work/core.img") + 511) / 512))
((core_sectors < DISK_BOOT_START)) || { echo "ostree image: core.img does not fit before partition 1" >&2; exit 1; }

disk_fat "$work/boot.vfat" "$work/boot"
rm -f "$IMG_OUT"
truncate -s $((DISK_SECTORS * 512)) "$IMG_OUT"
img=$(basename "$IMG_OUT")
sfdisk -q --no-reread --no-tell-kernel "$IMG_OUT" <<-EOF_SFDISK >/dev/null || { echo "ostree image: sfdisk failed" >&2; exit 1; }
	label: dos
	label-id: $DISK_LABEL_ID
	unit: sectors

	${img}1 : start=$DISK_BOOT_START, size=$DISK_BOOT_SIZE, type=c, bootable
	${img}2 : start=$DISK_ROOTA_START, size=$((DISK_EXT_START - DISK_ROOTA_START)), type=83
	${img}4 : start=$DISK_EXT_START, size=$((DISK_SECTORS - DISK_EXT_START)), type=5
	${img}5 : start=$DISK_STATE_START, size=$DISK_STATE_SIZE, type=83
	${img}6 : start=$DISK_DATA_START, size=$DISK_DATA_SIZE, type=83
EOF_SFDISK
_disk_put "$IMG_OUT" "$work/boot.vfat" $DISK_BOOT_START $DISK_BOOT_SIZE
_disk_put "$IMG_OUT" "$IMG_SYSROOT" $DISK_ROOTA_START $((DISK_EXT_START - DISK_ROOTA_START))
_disk_put "$IMG_OUT" "$IMG_STATE" $DISK_STATE_START $DISK_STATE_SIZE
_disk_put "$IMG_OUT" "$IMG_DATA" $DISK_DATA_START $DISK_DATA_SIZE

# GRUB's boot.img and core.img, written as os/image-x86_64.sh does (see there for the fields).
patch() { printf "$2" | dd of="$IMG_OUT" bs=1 seek=$(($1)) conv=notrunc status=none; }
le16() { printf '\\x%02x\\x%02x' $(($1 & 255)) $(($1 >> 8)); }
dd if="$GRUB_DIR/boot.img" of="$IMG_OUT" bs=440 count=1 conv=notrunc status=none
patch 0x5c '\x01\x00\x00\x00\x00\x00\x00\x00'
patch 0x66 '\x90\x90'
dd if="$work/core.img" of="$IMG_OUT" bs=512 seek=1 conv=notrunc status=none
patch $((512 + 0x200 - 12)) "\\x02\\x00\\x00\\x00\\x00\\x00\\x00\\x00$(le16 $((core_sectors - 1)))$(le16 0x820)"
