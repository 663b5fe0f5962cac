#!/usr/bin/env bash
# x86_64 disk image: MBR + BIOS GRUB (i386-pc) in the post-MBR gap, the common
# partitions from os/lib/disk.sh. Called by os/build.sh (see its header for the
# IMG_* variables). No root, loop device or mount: GRUB is installed by writing
# boot.img and core.img ourselves, which is all grub-bios-setup does for an MBR
# disk whose gap is free.
set -euo pipefail
OS_DIR=${OS_DIR:-$(cd "$(dirname "$0")" && pwd)}
# shellcheck source=lib/disk.sh
. "$OS_DIR/lib/disk.sh"
: "${IMG_OUT:?} ${IMG_ROOTA:?} ${IMG_STATE:?} ${IMG_DATA:?} ${IMG_BOOT_DIR:?} ${IMG_WORK:?}"
GRUB_DIR=${GRUB_DIR:-/usr/lib/grub/i386-pc}
[[ -f $GRUB_DIR/boot.img ]] || { echo "image-x86_64: $GRUB_DIR/boot.img missing (install grub-pc-bin)" >&2; exit 1; }
for tool in grub-mkimage grub-editenv; do
	command -v "$tool" >/dev/null || { echo "image-x86_64: $tool missing (install grub-common)" >&2; exit 1; }
done

work=$IMG_WORK/x86_64
rm -rf "$work" && mkdir -p "$work/boot/grub"
cp -a "$IMG_BOOT_DIR/." "$work/boot/"

# Kernel args: loglevel=6 keeps the info-level driver chatter off the serial line
# (notice and worse, which includes the Linux version banner, oopses and panics,
# still print); panic=5 turns a panic into a reboot, which boot counting sees.
# no_timer_check: under a loaded TCG host the IO-APIC timer check can fail at random and panic
# ("IO-APIC + timer doesn't work!"): a false failure of a good image.
args="loglevel=6 panic=5 no_timer_check ${IMG_KERNEL_ARGS:-}"
# An update system's variant brings its own boot script and initial variables (os/rauc).
sed "s|@KERNEL_ARGS@|$args|" "${IMG_BOOTLOADER_SCRIPT:-$OS_DIR/x86_64/grub.cfg}" >"$work/boot/grub/grub.cfg"
if [[ ${IMG_NO_FALLBACK:-0} == 1 ]]; then
	sed -i '/# BEGIN fallback/,/# END fallback/d' "$work/boot/grub/grub.cfg"
fi
if [[ -n ${IMG_BOOTENV_SCRIPT:-} ]]; then
	bash "$IMG_BOOTENV_SCRIPT" "$work/boot" || { echo "image-x86_64: $IMG_BOOTENV_SCRIPT failed" >&2; exit 1; }
else
	grub-editenv "$work/boot/grub/grubenv" create
	grub-editenv "$work/boot/grub/grubenv" set active_slot=A upgrade_available=0 bootcount=0 bootlimit=3 rollback_altboot=0
fi
# The virtual flasher board's internal disk is the second virtio disk while the card is in.
if [[ -n ${IMG_FLASHER_MODE:-} ]]; then
	grub-editenv "$work/boot/grub/flasherenv" create
	grub-editenv "$work/boot/grub/flasherenv" set flasher_target=/dev/vdb "flasher_mode=$IMG_FLASHER_MODE"
fi

# Everything core.img needs is built in, so the boot partition holds no modules.
cat >"$work/early.cfg" <<'CFG'
serial --unit=0 --speed=115200
terminal_input serial
terminal_output serial
set root=(hd0,msdos1)
set prefix=(hd0,msdos1)/grub
CFG
grub-mkimage -O i386-pc -d "$GRUB_DIR" -o "$work/core.img" -c "$work/early.cfg" -p '(hd0,msdos1)/grub' \
	biosdisk part_msdos fat ext2 loadenv serial terminal echo test linux normal configfile \
	sleep reboot halt || { echo "image-x86_64: grub-mkimage failed" >&2; exit 1; }
core_sectors=$((($(stat -c %s "$work/core.img") + 511) / 512))
((core_sectors < DISK_BOOT_START)) || { echo "image-x86_64: core.img does not fit before partition 1" >&2; exit 1; }

disk_fat "$work/boot.vfat" "$work/boot"
disk_assemble "$IMG_OUT" "$work/boot.vfat" "$IMG_ROOTA" "${IMG_ROOTB:-}" "$IMG_STATE" "$IMG_DATA"

# boot.img goes into the MBR's code area (bytes 0-439), leaving the disk
# signature and partition table sfdisk wrote. Its fields, as grub-bios-setup sets them:
# kernel_sector (0x5c, u64) = 1, where core.img starts; the drive check (0x66) is
# NOPed so a BIOS passing a floppy number still boots from the first disk.
patch() { printf "$2" | dd of="$IMG_OUT" bs=1 seek=$(($1)) conv=notrunc status=none; }
le16() { printf '\\x%02x\\x%02x' $(($1 & 255)) $(($1 >> 8)); }
dd if="$GRUB_DIR/boot.img" of="$IMG_OUT" bs=440 count=1 conv=notrunc status=none
patch 0x5c '\x01\x00\x00\x00\x00\x00\x00\x00'
patch 0x66 '\x90\x90'
dd if="$work/core.img" of="$IMG_OUT" bs=512 seek=1 conv=notrunc status=none
# diskboot.img (core.img's first sector) ends with its blocklist: start LBA (u64),
# sector count (u16), load segment (u16); the rest of core.img follows it on disk.
patch $((512 + 0x200 - 12)) "\\x02\\x00\\x00\\x00\\x00\\x00\\x00\\x00$(le16 $((core_sectors - 1)))$(le16 0x820)"
