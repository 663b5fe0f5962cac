#!/bin/bash
# Throwaway armv7 root fs (busybox + armmp kernel + our initramfs) so that the
# bootloader side can be tested without the shared rootfs builder.
#   minimal-rootfs.sh OUTDIR [VERSION] [--no-init]
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
out=$1
version=${2:-v1}
noinit=${3:-}
debs=${HWTEST_DEBS:-$HOME/.cache/hw-test/debs}
mkdir -p "$debs"

fetch() {
	local pkg=$1
	ls "$debs"/"${pkg%%:*}"_*_armhf.deb >/dev/null 2>&1 || (cd "$debs" && apt-get download "$pkg" >/dev/null)
	ls "$debs"/"${pkg%%:*}"_*_armhf.deb | tail -n 1
}

kpkg=$(apt-cache depends linux-image-armmp:armhf 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { sub(":armhf", "", $2); print $2; exit }')
kdeb=$(fetch "$kpkg:armhf")
bbdeb=$(fetch busybox-static:armhf)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dpkg-deb -x "$kdeb" "$work/k"
dpkg-deb -x "$bbdeb" "$work/bb"

rm -rf "$out"
mkdir -p "$out"/{bin,sbin,etc,proc,sys,dev,tmp,run,boot,root,mnt/boot,mnt/state,mnt/data,usr/sbin}
install -m 0755 "$work/bb/bin/busybox" "$out/bin/busybox"
# The root is mounted read-only, so the applet links must exist beforehand; the
# host's busybox-static is the same version and lists the same applets.
for a in $(busybox --list); do [ -e "$out/bin/$a" ] || ln -s busybox "$out/bin/$a"; done
[ "$noinit" = --no-init ] || ln -s ../bin/busybox "$out/sbin/init"
install -m 0644 "$work/k"/boot/vmlinuz-* "$out/boot/vmlinuz"
bash "$here/mkinitramfs.sh" --kernel-root "$work/k" --busybox "$work/bb/bin/busybox" --out "$out/boot/initrd.img"
install -m 0755 "$here/bootenv-uboot" "$out/usr/sbin/bootenv"

printf 'ID=hwtest-ref\nVERSION_ID=%s\n' "$version" >"$out/etc/os-release"
echo hwtest >"$out/etc/hostname"
# password: hwtest
echo 'root:$5$hwtest$E1.ff.MX0SwXPPbvBFZHlkd32AHDpOt5YwEGN80WbHA:19000:0:99999:7:::' >"$out/etc/shadow"
echo 'root:x:0:0:root:/root:/bin/sh' >"$out/etc/passwd"
echo 'root:x:0:' >"$out/etc/group"
cat >"$out/etc/inittab" <<'EOT'
::sysinit:/etc/rcS
ttyAMA0::respawn:/bin/getty -L 115200 ttyAMA0 vt100
::ctrlaltdel:/bin/reboot
EOT
cat >"$out/etc/rcS" <<'EOT'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t vfat /dev/vda1 /mnt/boot
hostname -F /etc/hostname
. /etc/os-release
slot=$(sed -n 's/.*hwtest\.slot=\([AB]\).*/\1/p' /proc/cmdline)
echo "hw-test: userspace up version=$VERSION_ID slot=$slot"
EOT
chmod 0755 "$out/etc/rcS"
