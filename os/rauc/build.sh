# shellcheck shell=bash
# RAUC variants of the reference OS (os/README.md, "RAUC"): the same A/B disk, but the update
# system is RAUC from Debian's packages (`rauc install` through its D-Bus service), with RAUC's own
# bootloader integration: its GRUB backend (grubenv ORDER, A_OK/A_TRY) on x86_64 and its U-Boot
# backend (BOOT_ORDER, BOOT_x_LEFT through fw_setenv/fw_printenv) on armv7. Bundles are built and
# signed on the host with `rauc bundle`, by a test CA made at build time.
#
# Sourced by os/build.sh, which calls, for a rauc* variant:
#   rauc_setup              before rootfs_build: packages, binaries and modules of the root
#   rauc_rootfs ROOT        after it: the RAUC overlay, system.conf, keyring, machine id
#   rauc_bundle ROOT OUT    the update bundle (v2, signed) instead of the plain root image
#   rauc_image_env          exports IMG_BOOTLOADER_SCRIPT and IMG_BOOTENV_SCRIPT for image-<arch>.sh
#
# Variants (each a v1 disk + a v2 bundle, all signed by the same CA, so any bundle installs on any
# RAUC disk of the same arch):
#   rauc                 the good one
#   rauc-noactivate      system.conf says activate-installed=false: installs, never switches
#   rauc-no-fallback     the bootloader script never counts a failed try: a bad slot boots forever
#   rauc-writes-running  its bundle's install hook writes the running slot instead of the target
RAUC_VARIANTS="rauc rauc-noactivate rauc-no-fallback rauc-writes-running"
RAUC_DIR=$OS_DIR/rauc

rauc_setup() {
	command -v rauc >/dev/null || die "rauc not found on the host (run npm run setup): it builds and signs the bundles"
	command -v mksquashfs >/dev/null || die "mksquashfs not found (squashfs-tools; run npm run setup)"
	command -v openssl >/dev/null || die "openssl not found (run npm run setup)"
	# The service's D-Bus policy is in overlay/ (Debian's rauc-service package is arch "all").
	ROOTFS_EXTRA_PKGS+=(rauc dbus-daemon)
	ROOTFS_EXTRA_BINS+=(usr/bin/rauc usr/bin/dbus-daemon)
	if [[ $ARCH == x86_64 ]]; then
		ROOTFS_EXTRA_PKGS+=(grub-common)
		ROOTFS_EXTRA_BINS+=(usr/bin/grub-editenv)
	fi
	# Plain bundles are squashfs images that RAUC loop-mounts.
	ROOTFS_MODULES+=(loop squashfs)
}

# The test CA, shared by every RAUC variant built from this os/ tree (both arches): a disk's keyring
# must verify any RAUC variant's bundle. Made once, under a lock, in the cache.
rauc_ca() {
	local key dir lockfd
	key=$(cd "$OS_DIR" && find . -type f ! -path './profiles/*' ! -name '*.md' -print0 | LC_ALL=C sort -z |
		xargs -0 sha256sum | sha256sum | cut -c1-16)
	dir=$HW_CACHE/rauc-ca/$key
	mkdir -p "$HW_CACHE/rauc-ca"
	exec {lockfd}>"$HW_CACHE/rauc-ca/.lock"
	flock "$lockfd" || die "cannot lock $HW_CACHE/rauc-ca/.lock"
	if [[ ! -f $dir/.done ]]; then
		rm -rf "$dir" && mkdir -p "$dir"
		bash "$RAUC_DIR/make-ca.sh" "$dir" >&2 || die "making the RAUC test CA failed"
		touch "$dir/.done"
	fi
	exec {lockfd}>&-
	RAUC_CA=$dir
}

# The slot table, bootloader backend and keyring; the noactivate variant's one misconfiguration.
rauc_rootfs() {
	local root=$1 backend=grub
	[[ $ARCH == armv7 ]] && backend=uboot
	rauc_ca
	cp -a "$RAUC_DIR/overlay/." "$root/"
	mkdir -p "$root/etc/rauc"
	sed -e "s|@COMPATIBLE@|hw-test-ref-$ARCH|" -e "s|@BOOTLOADER@|$backend|" \
		"$RAUC_DIR/system.conf" >"$root/etc/rauc/system.conf"
	[[ $backend == grub ]] || sed -i '/^grubenv=/d' "$root/etc/rauc/system.conf"
	if [[ $VARIANT == rauc-noactivate ]]; then
		sed -i 's/^\[system\]$/&\nactivate-installed=false/' "$root/etc/rauc/system.conf"
	fi
	[[ $backend == uboot ]] && cp "$RAUC_DIR/fw_env.config" "$root/etc/fw_env.config"
	cp "$RAUC_CA/ca.cert.pem" "$root/etc/rauc/ca.cert.pem"
	# dbus-daemon wants a machine id; the roots are read-only and a test OS needs no unique one.
	printf '%s\n' "$(printf 'hw-test-rauc-%s' "$ARCH" | sha256sum | cut -c1-32)" >"$root/etc/machine-id"
	sed -i "s/^ID=hwtest-ref$/&\nHW_TEST_UPDATE=rauc/" "$root/etc/os-release"
	chmod 755 "$root"/usr/sbin/* "$root"/etc/hw-test/boot.d/* "$root"/etc/hw-test/up.d/*
}

# A signed RAUC bundle holding the v2 root (with the writes-running variant's install hook).
rauc_bundle() {
	local root=$1 out=$2 new=$WORK/rauc-v2 dir=$WORK/rauc-bundle
	rm -rf "$new" "$dir" && mkdir -p "$dir"
	cp -a "$root" "$new"
	sed -i -e 's/^VERSION_ID=.*/VERSION_ID=v2/' -e 's/^VERSION=.*/VERSION="v2"/' \
		-e 's/^PRETTY_NAME=.*/PRETTY_NAME="hw-test reference OS v2"/' "$new/etc/os-release"
	mkext4 "$new" "$dir/rootfs.ext4" "$DISK_ROOT_MB" rootfs no
	sed -e "s|@COMPATIBLE@|hw-test-ref-$ARCH|" "$RAUC_DIR/manifest.raucm" >"$dir/manifest.raucm"
	if [[ $VARIANT == rauc-writes-running ]]; then
		cp "$RAUC_DIR/hook-writes-running.sh" "$dir/hook.sh"
		chmod 755 "$dir/hook.sh"
		sed -i -e 's/^\[image.rootfs\]$/&\nhooks=install/' "$dir/manifest.raucm"
		printf '\n[hooks]\nfilename=hook.sh\n' >>"$dir/manifest.raucm"
	fi
	mkdir -p "$(dirname "$out")"
	rm -f "$out"
	rauc bundle --cert="$RAUC_CA/signing.cert.pem" --key="$RAUC_CA/signing.key.pem" \
		--keyring="$RAUC_CA/ca.cert.pem" "$dir" "$out" >"$WORK/rauc-bundle.log" 2>&1 ||
		die "rauc bundle failed: $(tail -n3 "$WORK/rauc-bundle.log")"
	(cd "$(dirname "$out")" && sha256sum "$(basename "$out")") >"$out.sha256"
}

rauc_image_env() {
	if [[ $ARCH == x86_64 ]]; then
		export IMG_BOOTLOADER_SCRIPT=$RAUC_DIR/grub.cfg
	else
		export IMG_BOOTLOADER_SCRIPT=$RAUC_DIR/boot.cmd
	fi
	export IMG_BOOTENV_SCRIPT=$RAUC_DIR/bootenv-init.sh
}
