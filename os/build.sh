#!/usr/bin/env bash
# Build a reference device OS disk image (os/README.md is the contract).
#
#   bash os/build.sh --arch x86_64|armv7 --variant VARIANT --out FILE [--bundle-out FILE]
#
# Shared part (this file, os/lib/, os/overlay/, os/initramfs/): fetch the .debs into
# ~/.cache/hw-test/debs/<deb arch>/, build the root tree and initramfs, make the
# ext4 images (root, state, data) and the update bundle. Arch part: os/<arch>/overlay/
# is copied over the common overlay (it must provide /usr/lib/hw-test/bootenv-grub
# or bootenv-uboot), then os/image-<arch>.sh lays out the disk. It runs with
# bash, cwd unchanged, and gets these environment variables:
#
#   OS_DIR        absolute path of os/ (source "$OS_DIR/lib/disk.sh" for the layout
#                 and the disk_fat / disk_assemble helpers)
#   ARCH          x86_64 | armv7          CONSOLE   ttyS0 | ttyAMA0
#   IMG_OUT       the disk image to write (sparse)
#   IMG_ROOTA     ext4 image for slot A, exactly 96 MiB; holds /boot/vmlinuz and
#                 /boot/initrd.img (also given as IMG_KERNEL / IMG_INITRD files)
#   IMG_ROOTB     "" (slot B starts empty: os-update fills it)
#   IMG_STATE     ext4 image for partition 5 (16 MiB), IMG_DATA for partition 6 (32 MiB)
#   IMG_BOOT_DIR  files for the FAT boot partition (an empty hw-test/ folder); the
#                 image script adds its bootloader files next to them
#   IMG_ROOT_DIR  the slot A root tree (read it, do not change it)
#   IMG_WORK      scratch dir, removed afterwards
#   IMG_NO_FALLBACK  1 for the no-fallback variant: the bootloader must count
#                 boots but never switch back
#   IMG_KERNEL_ARGS  extra kernel args (may be empty)
#   IMG_VARIANT   the variant name
#   IMG_FLASHER_MODE  write|hang|noop for the flasher variants, empty otherwise
#
# The bootloader must pass `root=<slot partition device> hwtest.slot=A|B` and the
# console on the kernel command line; the initramfs and the userspace tools derive
# the other partitions from root= (partition numbers are fixed by the layout).
set -euo pipefail

OS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
usage() { echo "usage: os/build.sh --arch x86_64|armv7 --variant VARIANT --out FILE [--bundle-out FILE]" >&2; exit 2; }
VARIANTS="v1 v2 kernel-panic hang no-network no-ssh wifi-ignores-config health-fails unbootable-update no-fallback flasher flasher-hang flasher-noop rw-root"

ARCH= VARIANT= OUT= BUNDLE_OUT=
while (($#)); do
	case $1 in
	--arch) ARCH=${2:-}; shift 2 || usage ;;
	--variant) VARIANT=${2:-}; shift 2 || usage ;;
	--out) OUT=${2:-}; shift 2 || usage ;;
	--bundle-out) BUNDLE_OUT=${2:-}; shift 2 || usage ;;
	-h | --help) usage ;;
	*) echo "build: unknown argument $1" >&2; usage ;;
	esac
done
[[ -n $ARCH && -n $VARIANT && -n $OUT ]] || usage
[[ " $VARIANTS " == *" $VARIANT "* ]] || { echo "build: unknown variant $VARIANT (one of: $VARIANTS)" >&2; exit 2; }

case $ARCH in
x86_64) DEB_ARCH=amd64 KFLAVOUR=amd64 TRIPLET=x86_64-linux-gnu CONSOLE=ttyS0 BOOTLOADER=grub ;;
armv7) DEB_ARCH=armhf KFLAVOUR=armmp TRIPLET=arm-linux-gnueabihf CONSOLE=ttyAMA0 BOOTLOADER=uboot ;;
*) echo "build: unknown arch $ARCH (x86_64 or armv7)" >&2; exit 2 ;;
esac
IMAGE_SCRIPT=$OS_DIR/image-$ARCH.sh
[[ -f $IMAGE_SCRIPT ]] || { echo "build: $IMAGE_SCRIPT does not exist yet" >&2; exit 1; }
for tool in apt-get apt-cache dpkg-deb mkfs.ext4 mkfs.vfat mcopy sfdisk cpio depmod modprobe readelf zstd gzip flock; do
	command -v "$tool" >/dev/null || { echo "build: $tool not found (run npm run setup)" >&2; exit 1; }
done

HW_CACHE=${HW_CACHE:-$HOME/.cache/hw-test}
DEB_CACHE=$HW_CACHE/debs/$DEB_ARCH
export OS_DIR ARCH CONSOLE
# shellcheck source=lib/debs.sh
. "$OS_DIR/lib/debs.sh"
# shellcheck source=lib/rootfs.sh
. "$OS_DIR/lib/rootfs.sh"
# shellcheck source=lib/disk.sh
. "$OS_DIR/lib/disk.sh"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hw-test-os.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
start=$SECONDS

# Version of the disk image's root, and what the update bundle holds.
case $VARIANT in
v2) version=v2 ;;
*) version=v1 ;;
esac

# Flasher images (os/README.md, "Flasher images"): the v1 disk, which writes itself to the internal
# storage and powers off; -hang never powers off, -noop powers off having written nothing.
flasher_mode=
case $VARIANT in
flasher) flasher_mode=write ;;
flasher-*) flasher_mode=${VARIANT#flasher-} ;;
esac
if [[ -n $flasher_mode && $ARCH != x86_64 ]]; then
	echo "build: flasher images are built for x86_64 only (the qemu-x86-64-flasher board)" >&2
	exit 2
fi

root=$WORK/rootA
rootfs_build "$root" "$version"
echo "HW_TEST_VARIANT=$VARIANT" >>"$root/etc/os-release"

# Defects of the disk image itself.
case $VARIANT in
kernel-panic)
	# PID 1 exiting is the canonical "Kernel panic - not syncing: Attempted to kill init!".
	rm -f "$root/sbin/init"
	printf '#!/bin/sh\necho "hw-test: kernel-panic variant: init exits"\nexit 1\n' >"$root/sbin/init"
	chmod 755 "$root/sbin/init"
	;;
hang)
	rm -f "$root/sbin/init"
	printf '#!/bin/sh\nwhile :; do sleep 3600; done\n' >"$root/sbin/init"
	chmod 755 "$root/sbin/init"
	;;
no-network) sed -i 's/^DHCP=.*/DHCP=no/' "$root/etc/hw-test/services.conf" ;;
no-ssh)
	sed -i 's/^SSH=.*/SSH=no/' "$root/etc/hw-test/services.conf"
	rm -f "$root/usr/sbin/dropbear" "$root/usr/bin/dropbearkey"
	;;
wifi-ignores-config)
	# A factory network baked into the image, joined instead of the provisioned one: the radio,
	# wpa_supplicant and DHCP all work, only the credentials written for the run are ignored.
	printf 'ctrl_interface=/run/wpa_supplicant\nnetwork={\n\tssid="hwtest-factory"\n\tpsk="factory-default-psk"\n\tkey_mgmt=WPA-PSK\n}\n' \
		>"$root/etc/hw-test/wpa_supplicant.factory.conf"
	sed -i 's|^WIFI_CONFIG=.*|WIFI_CONFIG=/etc/hw-test/wpa_supplicant.factory.conf|' "$root/etc/hw-test/services.conf"
	;;
rw-root)
	# The root mounted read-write, as a debug build might leave it: examples/os-checks must catch it.
	sed -i 's|^mkdir -p /dev/pts|mount -o remount,rw / \|\| hw_log "remount rw failed"\n&|' "$root/etc/init.d/rcS"
	;;
esac

initramfs_build "$root" "$root/boot/initrd.img"
mkext4 "$root" "$WORK/rootA.ext4" "$DISK_ROOT_MB" rootfs no

if [[ -n $BUNDLE_OUT ]]; then
	bundle_img=$WORK/rootA.ext4
	case $VARIANT in
	health-fails | unbootable-update | no-fallback)
		new=$WORK/new
		cp -a "$root" "$new"
		sed -i -e 's/^VERSION_ID=.*/VERSION_ID=v2/' -e 's/^VERSION=.*/VERSION="v2"/' \
			-e 's/^PRETTY_NAME=.*/PRETTY_NAME="hw-test reference OS v2"/' "$new/etc/os-release"
		if [[ $VARIANT == health-fails ]]; then
			printf '#!/bin/sh\necho "health hook: this build is broken on purpose" >&2\nexit 1\n' \
				>"$new/etc/hw-test/health.d/50-broken"
			chmod 755 "$new/etc/hw-test/health.d/50-broken"
		else
			# Kernel and initramfs boot; the initramfs finds no init and reboots.
			rm -f "$new/sbin/init"
		fi
		bundle_img=$WORK/new.ext4
		mkext4 "$new" "$bundle_img" "$DISK_ROOT_MB" rootfs no
		;;
	esac
	mkdir -p "$(dirname "$BUNDLE_OUT")"
	zstd -q -f -T0 -6 "$bundle_img" -o "$BUNDLE_OUT" || { echo "build: zstd failed" >&2; exit 1; }
	(cd "$(dirname "$BUNDLE_OUT")" && sha256sum "$(basename "$BUNDLE_OUT")") >"$BUNDLE_OUT.sha256"
fi

mkdir -p "$WORK/empty" "$WORK/bootfiles/hw-test"
mkext4 "$WORK/empty" "$WORK/state.ext4" "$DISK_STATE_MB" state yes
mkext4 "$WORK/empty" "$WORK/data.ext4" "$DISK_DATA_MB" data yes

mkdir -p "$(dirname "$OUT")"
IMG_OUT=$OUT IMG_ROOTA=$WORK/rootA.ext4 IMG_ROOTB= IMG_STATE=$WORK/state.ext4 IMG_DATA=$WORK/data.ext4 \
	IMG_BOOT_DIR=$WORK/bootfiles IMG_ROOT_DIR=$root IMG_WORK=$WORK \
	IMG_KERNEL=$root/boot/vmlinuz IMG_INITRD=$root/boot/initrd.img \
	IMG_NO_FALLBACK=$([[ $VARIANT == no-fallback ]] && echo 1 || echo 0) \
	IMG_KERNEL_ARGS=${IMG_KERNEL_ARGS:-} IMG_VARIANT=$VARIANT IMG_FLASHER_MODE=$flasher_mode \
	bash "$IMAGE_SCRIPT" || { echo "build: $IMAGE_SCRIPT failed" >&2; exit 1; }

echo "build: $ARCH $VARIANT -> $OUT ($(du -h --apparent-size "$OUT" | cut -f1) apparent, $(du -h "$OUT" | cut -f1) used) in $((SECONDS - start)) s" >&2
[[ -z $BUNDLE_OUT ]] || echo "build: bundle $BUNDLE_OUT ($(du -h "$BUNDLE_OUT" | cut -f1))" >&2
