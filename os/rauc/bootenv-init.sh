#!/usr/bin/env bash
# bootenv-init.sh BOOT_DIR: RAUC's initial bootloader state on the boot partition, for
# image-<arch>.sh: slot A good and first, slot B empty (not bootable).
set -euo pipefail
dir=$1
if [[ ${ARCH:?} == x86_64 ]]; then
	mkdir -p "$dir/grub"
	grub-editenv "$dir/grub/grubenv" create
	grub-editenv "$dir/grub/grubenv" set "ORDER=A B" A_OK=1 A_TRY=0 B_OK=0 B_TRY=0
else
	# Two redundant copies in libubootenv's format (CRC, flags byte, data); flags 1 for both.
	printf 'BOOT_ORDER=A B\nBOOT_A_LEFT=3\nBOOT_B_LEFT=0\n' >"$dir/.env.txt"
	mkenvimage -r -s 0x4000 -o "$dir/uboot.env" "$dir/.env.txt"
	cp "$dir/uboot.env" "$dir/uboot2.env"
	rm -f "$dir/.env.txt"
fi
