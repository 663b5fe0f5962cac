#!/usr/bin/env bash
# armv7 disk image: qemu -M virt boots Debian's U-Boot (u-boot-qemu, qemu_arm) as
# -bios; its distro boot finds boot.scr on the first (bootable, FAT) partition.
# Called by os/build.sh (see its header for the IMG_* variables); the partitions
# come from os/lib/disk.sh.  No root, loop device or mount.
#
# The bootloader variables live on the boot partition as two CRC-protected copies
# (uboot.env, uboot2.env; os/armv7/overlay/usr/lib/hw-test/bootenv-uboot explains
# the format), not in the virt machine's second pflash bank: the disk image is
# the board's SD card, so flashing it must reset the whole boot state, and the
# QEMU driver then needs no per-board flash file.
set -euo pipefail
OS_DIR=${OS_DIR:-$(cd "$(dirname "$0")" && pwd)}
# shellcheck source=lib/disk.sh
. "$OS_DIR/lib/disk.sh"
: "${IMG_OUT:?} ${IMG_ROOTA:?} ${IMG_STATE:?} ${IMG_DATA:?} ${IMG_BOOT_DIR:?} ${IMG_WORK:?}"
command -v mkimage >/dev/null || { echo "image-armv7: mkimage missing (install u-boot-tools)" >&2; exit 1; }

work=$IMG_WORK/armv7
rm -rf "$work" && mkdir -p "$work/boot"
cp -a "$IMG_BOOT_DIR/." "$work/boot/"

# loglevel=6 keeps driver chatter off the serial line (the Linux version banner,
# oopses and panics still print); panic=5 turns a panic into a reset, which boot
# counting sees.  Same as the x86_64 image.
args="loglevel=6 panic=5 ${IMG_KERNEL_ARGS:-}"
fallback=1
[[ ${IMG_NO_FALLBACK:-0} == 1 ]] && fallback=0
# An update system's variant brings its own boot script and initial variables (os/rauc); its
# fallback is a "# BEGIN fallback" ... "# END fallback" block, dropped for a no-fallback variant.
sed -e "s|@KERNEL_ARGS@|$args|" -e "s|@FALLBACK@|$fallback|" "${IMG_BOOTLOADER_SCRIPT:-$OS_DIR/armv7/boot.cmd}" >"$work/boot.cmd"
if ((fallback == 0)); then
	sed -i '/# BEGIN fallback/,/# END fallback/d' "$work/boot.cmd"
fi
if grep -q @ "$work/boot.cmd"; then
	echo "image-armv7: unfilled placeholder in boot.cmd" >&2
	exit 1
fi
mkimage -A arm -O linux -T script -C none -n "hw-test ${IMG_VARIANT:-}" -d "$work/boot.cmd" "$work/boot/boot.scr" >/dev/null ||
	{ echo "image-armv7: mkimage failed" >&2; exit 1; }

# The Linux backend doubles as the host tool that writes the initial copies.
if [[ -n ${IMG_BOOTENV_SCRIPT:-} ]]; then
	bash "$IMG_BOOTENV_SCRIPT" "$work/boot" || { echo "image-armv7: $IMG_BOOTENV_SCRIPT failed" >&2; exit 1; }
else
	BOOTENV_DIR=$work/boot sh "$OS_DIR/armv7/overlay/usr/lib/hw-test/bootenv-uboot" set \
		active_slot=A upgrade_available=0 bootcount=0 bootlimit=3 rollback_altboot=0 ||
		{ echo "image-armv7: writing the U-Boot environment failed" >&2; exit 1; }
fi

disk_fat "$work/boot.vfat" "$work/boot"
disk_assemble "$IMG_OUT" "$work/boot.vfat" "$IMG_ROOTA" "${IMG_ROOTB:-}" "$IMG_STATE" "$IMG_DATA"
