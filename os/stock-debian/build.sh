#!/usr/bin/env bash
# A stock Debian 12 image: the worked example of docs/your-os.md, and the CI fixture that proves
# the suites run on an OS that is not ours with a profile alone (os/profiles/debian-12.yaml).
#
#   bash os/stock-debian/build.sh --out FILE
#
# What a user downloads or builds with debootstrap, kept small: minbase with systemd, udev,
# OpenSSH, avahi, systemd-networkd + systemd-resolved, the Debian kernel and its initramfs
# (initramfs-tools), no documentation. Predictable interface names (ens3 on qemu-x86-64).
# The disk is GPT with an ext4 root and no FAT partition at all:
#
#   1  bios-boot    1 MiB   BIOS boot partition (GRUB's core.img, no filesystem)
#   2  debian-root  ext4    label debian-root, everything (/boot included)
#
# GRUB (BIOS, i386-pc) comes from the host's grub-pc-bin, installed by writing boot.img and
# core.img ourselves, as os/image-x86_64.sh does; its grub.cfg is in the root's /boot/grub.
# Root: debootstrap runs in a chroot (it mounts /proc and /sys there while packages configure).
# The image itself is assembled without loop devices or mounts (mkfs.ext4 -d, dd).
# Its root password is in os/profiles/debian-12.yaml (console.password): a test fixture's.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "stock-debian: $*" >&2; exit 1; }
usage() { echo "usage: os/stock-debian/build.sh --out FILE" >&2; exit 2; }

OUT=
while (($#)); do
	case $1 in
	--out) OUT=${2:-}; shift 2 || usage ;;
	*) usage ;;
	esac
done
[[ -n $OUT ]] || usage
[[ $(id -u) -eq 0 ]] || die "debootstrap needs root (run npm run setup as root)"
GRUB_DIR=${GRUB_DIR:-/usr/lib/grub/i386-pc}
for tool in debootstrap mkfs.ext4 sfdisk grub-mkimage chroot; do
	command -v "$tool" >/dev/null || die "$tool not found (run npm run setup)"
done
[[ -f $GRUB_DIR/boot.img ]] || die "$GRUB_DIR/boot.img missing (install grub-pc-bin)"

SUITE=bookworm
MIRROR=${HW_TEST_DEBIAN_MIRROR:-http://deb.debian.org/debian}
HW_CACHE=${HW_CACHE:-$HOME/.cache/hw-test}
DEB_CACHE=$HW_CACHE/debs/debootstrap-$SUITE-amd64
ROOT_PASSWORD=debian-hw-test
# Fixed identifiers, so that a rebuild from the same inputs boots the same way.
DISK_GUID=68777465-7374-4465-6269-616e31320000
ROOT_PARTUUID=68777465-7374-4465-6269-616e31320002
ROOT_FS_UUID=68777465-7374-4465-6269-616e31320012
BIOS_START=2048 BIOS_SECTORS=2048 ROOT_START=4096
PACKAGES=systemd-sysv,udev,dbus,openssh-server,avahi-daemon,systemd-resolved,iproute2,iputils-ping,linux-image-amd64,initramfs-tools,zstd

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hw-test-stock-debian.XXXXXX")
ROOT=$WORK/root
cleanup() {
	# debootstrap unmounts what it mounted; a build killed half way may leave them.
	for m in proc sys dev/pts dev; do mountpoint -q "$ROOT/$m" 2>/dev/null && umount -l "$ROOT/$m"; done
	rm -rf "$WORK"
}
trap cleanup EXIT
start=$SECONDS
mkdir -p "$DEB_CACHE"

# Two stages, so that the initramfs and network settings are in place before the packages'
# maintainer scripts run (the kernel's builds the initramfs once, already small).
echo "stock-debian: debootstrap $SUITE (minbase + $PACKAGES) from $MIRROR" >&2
debootstrap --foreign --arch=amd64 --variant=minbase --cache-dir="$DEB_CACHE" \
	--include="$PACKAGES" "$SUITE" "$ROOT" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
	{ tail -5 "$WORK/debootstrap.log" >&2; die "debootstrap (first stage) failed"; }
echo "stock-debian: first stage done in $((SECONDS - start)) s" >&2
cp -a "$HERE/overlay/." "$ROOT/"
# No fsync per file while the packages unpack (a build that dies is thrown away anyway): the
# second stage is I/O bound, and far more so on a shared CI disk. Removed from the image after.
echo force-unsafe-io >"$ROOT/etc/dpkg/dpkg.cfg.d/hw-test-build-unsafe-io"
chroot "$ROOT" /debootstrap/debootstrap --second-stage >>"$WORK/debootstrap.log" 2>&1 ||
	{ tail -5 "$WORK/debootstrap.log" >&2; die "debootstrap (second stage) failed"; }
rm -f "$ROOT/etc/dpkg/dpkg.cfg.d/hw-test-build-unsafe-io"
echo "stock-debian: debootstrap done in $((SECONDS - start)) s" >&2

# The system's own settings, as an installer would make them.
echo debian >"$ROOT/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tdebian\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$ROOT/etc/hosts"
printf 'PARTUUID=%s\t/\text4\terrors=remount-ro\t0\t1\n' "$ROOT_PARTUUID" >"$ROOT/etc/fstab"
echo "root:$ROOT_PASSWORD" | chroot "$ROOT" chpasswd
chroot "$ROOT" systemctl -q enable systemd-networkd systemd-resolved
ln -sf ../run/systemd/resolve/stub-resolv.conf "$ROOT/etc/resolv.conf"
# Empty: the first boot makes the machine id (and with it the DHCP client id) of this board.
: >"$ROOT/etc/machine-id"
rm -f "$ROOT/var/lib/dbus/machine-id"

# Size: no docs, no package lists or caches, and only the kernel modules a virtual or a common
# board needs (the initramfs is built already; depmod again for what is left).
rm -rf "$ROOT"/usr/share/{doc,man,info}/* "$ROOT"/var/cache/apt/* "$ROOT"/var/lib/apt/lists/* \
	"$ROOT"/var/log/*.log "$ROOT/debootstrap"
find "$ROOT/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
kver=$(basename "$(ls -d "$ROOT"/lib/modules/*)")
mods=$ROOT/lib/modules/$kver/kernel
for d in sound drivers/gpu drivers/media drivers/net/wireless drivers/net/ethernet drivers/infiniband \
	drivers/staging drivers/usb drivers/bluetooth drivers/hid drivers/iio drivers/isdn drivers/mtd \
	drivers/scsi drivers/input drivers/video drivers/hwmon drivers/platform drivers/nfc drivers/net/can \
	drivers/target drivers/misc drivers/mmc drivers/leds drivers/thunderbolt drivers/firewire \
	net/bluetooth net/wireless net/mac80211 fs/ocfs2 fs/xfs fs/btrfs fs/gfs2 fs/nfs fs/smb fs/ceph; do
	rm -rf "${mods:?}/$d"
done
chroot "$ROOT" depmod -a "$kver"

# GRUB's configuration, in the root filesystem (GRUB reads ext4 itself).
vmlinuz=$(cd "$ROOT/boot" && ls vmlinuz-*)
initrd=$(cd "$ROOT/boot" && ls initrd.img-*)
mkdir -p "$ROOT/boot/grub"
cat >"$ROOT/boot/grub/grub.cfg" <<CFG
serial --unit=0 --speed=115200 --word=8 --parity=no --stop=1
terminal_input serial
terminal_output serial
set timeout=1
menuentry 'Debian GNU/Linux 12 (bookworm)' {
	echo 'Loading Linux $kver ...'
	linux /boot/$vmlinuz root=PARTUUID=$ROOT_PARTUUID ro console=ttyS0,115200 loglevel=6 panic=5 no_timer_check
	echo 'Loading initial ramdisk ...'
	initrd /boot/$initrd
}
CFG

# The root filesystem: its content plus 160 MiB free (a run writes keys, logs, a 10 MiB transfer).
used_mb=$(du -sm "$ROOT" | cut -f1)
root_mb=$((used_mb + used_mb / 5 + 160))
mkfs.ext4 -q -F -L debian-root -U "$ROOT_FS_UUID" -d "$ROOT" "$WORK/root.ext4" "${root_mb}M" ||
	die "mkfs.ext4 -d failed"
root_sectors=$((root_mb * 2048))
total=$((ROOT_START + root_sectors + 2048))
rm -f "$OUT"
truncate -s $((total * 512)) "$OUT"
sfdisk -q --no-reread --no-tell-kernel "$OUT" <<EOF >/dev/null || die "sfdisk failed on $OUT"
label: gpt
label-id: $DISK_GUID
unit: sectors

start=$BIOS_START, size=$BIOS_SECTORS, type=21686148-6449-6E6F-744E-656564454649, name="bios-boot"
start=$ROOT_START, size=$root_sectors, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=$ROOT_PARTUUID, name="debian-root"
EOF
dd if="$WORK/root.ext4" of="$OUT" bs=1M seek=$((ROOT_START / 2048)) conv=notrunc,sparse status=none

# GRUB in the BIOS boot partition: core.img there, boot.img in the protective MBR's code area.
cat >"$WORK/early.cfg" <<'CFG'
set root=(hd0,gpt2)
set prefix=(hd0,gpt2)/boot/grub
CFG
grub-mkimage -O i386-pc -d "$GRUB_DIR" -o "$WORK/core.img" -c "$WORK/early.cfg" -p '(hd0,gpt2)/boot/grub' \
	biosdisk part_gpt ext2 linux normal serial terminal terminfo echo test configfile sleep reboot halt ||
	die "grub-mkimage failed"
core_sectors=$((($(stat -c %s "$WORK/core.img") + 511) / 512))
((core_sectors <= BIOS_SECTORS)) || die "core.img does not fit in the BIOS boot partition"
patch() { printf "$2" | dd of="$OUT" bs=1 seek=$(($1)) conv=notrunc status=none; }
le16() { printf '\\x%02x\\x%02x' $(($1 & 255)) $(($1 >> 8)); }
le32() { printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 & 255)) $((($1 >> 8) & 255)) $((($1 >> 16) & 255)) $(($1 >> 24)); }
dd if="$GRUB_DIR/boot.img" of="$OUT" bs=440 count=1 conv=notrunc status=none
# boot.img's kernel_sector (0x5c, u64): where core.img starts; the drive check (0x66) NOPed.
patch 0x5c "$(le32 $BIOS_START)\\x00\\x00\\x00\\x00"
patch 0x66 '\x90\x90'
dd if="$WORK/core.img" of="$OUT" bs=512 seek=$BIOS_START conv=notrunc status=none
# diskboot.img's blocklist (end of core.img's first sector): the rest of core.img.
patch $((BIOS_START * 512 + 0x200 - 12)) "$(le32 $((BIOS_START + 1)))\\x00\\x00\\x00\\x00$(le16 $((core_sectors - 1)))$(le16 0x820)"

echo "stock-debian: $OUT: ${root_mb} MiB root (${used_mb} MiB used), built in $((SECONDS - start)) s" >&2
