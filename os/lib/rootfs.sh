# shellcheck shell=bash
# Root filesystem and initramfs builder shared by every arch. Sourced by os/build.sh
# after it has set:
#   OS_DIR      the os/ folder
#   ARCH        x86_64 | armv7 (selects os/<ARCH>/overlay and the package list)
#   DEB_ARCH    amd64 | armhf
#   KFLAVOUR    amd64 | armmp
#   TRIPLET     x86_64-linux-gnu | arm-linux-gnueabihf
#   CONSOLE     ttyS0 | ttyAMA0
#   BOOTLOADER  grub | uboot (which /usr/lib/hw-test/bootenv-* backend bootenv uses)
#   DEB_CACHE   ~/.cache/hw-test/debs/<DEB_ARCH>
#   WORK        scratch dir, removed by the caller
# Nothing here needs root: mkfs.ext4 -d and cpio take the ownership from the
# staging tree, and the initramfs needs no device nodes (its init mounts devtmpfs).

HW_CACHE=${HW_CACHE:-$HOME/.cache/hw-test}

# Modules the initramfs loads, in this order, with their dependencies. Names the
# kernel does not have (built in, or other arch) are skipped.
ROOTFS_MODULES=(
	virtio_pci virtio_mmio virtio_blk virtio_net
	crc32c_generic ext4 vfat nls_cp437 nls_ascii nls_utf8
	mmc_block mmci
	af_packet virtio_rng
)
# Modules copied into the root but not loaded at boot: the kernel or the system loads them when
# the hardware appears (modprobe, or the kernel's request_module for the crypto). The virtual
# boards' WiFi radio is mac80211_hwsim, which the rig loads as it "plugs the radio in"; WPA2's
# CCMP and the management-frame ciphers come from the crypto modules.
ROOTFS_MODULES_ON_DEMAND=(mac80211_hwsim ccm ctr gcm cmac)

# Package -> files taken from it. Libraries come from the NEEDED closure.
ROOTFS_PKGS=(busybox-static dropbear-bin avahi-daemon wpasupplicant iw zstd)
ROOTFS_BINS=(
	usr/sbin/dropbear usr/bin/dropbearkey
	usr/sbin/avahi-daemon
	sbin/wpa_supplicant sbin/wpa_cli sbin/iw
	usr/bin/zstd
)
# armv7 writes the U-Boot environment from Linux with libubootenv's tools.
ROOTFS_EXTRA_PKGS=()
ROOTFS_EXTRA_BINS=()
if [[ $ARCH == armv7 ]]; then
	ROOTFS_EXTRA_PKGS=(libubootenv-tool)
	ROOTFS_EXTRA_BINS=(usr/bin/fw_printenv usr/bin/fw_setenv)
fi

die() { echo "build: $*" >&2; exit 1; }

# Extracts every .deb given on stdin into one tree, cached by the list of names.
_rootfs_sysroot() {
	local debs key dir deb
	debs=$(cat)
	key=$(printf '%s\n' "$debs" | xargs -n1 basename | sort | sha256sum | cut -c1-16)
	dir="$HW_CACHE/sysroot/$DEB_ARCH/$key"
	if [[ ! -f $dir/.done ]]; then
		rm -rf "$dir" && mkdir -p "$dir"
		while read -r deb; do
			dpkg-deb -x "$deb" "$dir" || die "cannot extract $deb"
		done <<<"$debs"
		touch "$dir/.done"
	fi
	echo "$dir"
}

# The kernel package, its modules' dependency data generated once (the .deb ships
# no modules.dep: depmod runs at install time on Debian).
rootfs_kernel() {
	local deb name dir
	deb=$(compgen -G "$DEB_CACHE/linux-image-[0-9]*-${KFLAVOUR}_*_${DEB_ARCH}.deb" | sort -V | tail -n1 || true)
	if [[ -z $deb ]]; then
		name=$(apt-cache depends "linux-image-$KFLAVOUR:$DEB_ARCH" |
			awk '$1 == "Depends:" { sub(/:.*/, "", $2); print $2; exit }')
		[[ -n $name ]] || die "cannot resolve linux-image-$KFLAVOUR:$DEB_ARCH"
		deb=$(deb_fetch "$name" | head -n1)
	fi
	dir="$HW_CACHE/kernel/$(basename "$deb" .deb)"
	if [[ ! -f $dir/.done ]]; then
		rm -rf "$dir" && mkdir -p "$dir"
		dpkg-deb -x "$deb" "$dir" || die "cannot extract $deb"
		KVER=$(basename "$dir"/lib/modules/*)
		depmod -b "$dir" "$KVER" || die "depmod failed for $deb"
		touch "$dir/.done"
	fi
	KDIR=$dir
	KVER=$(basename "$dir"/lib/modules/*)
	KDEB=$deb
}

# Copies the listed modules and their dependencies into ROOT/lib/modules and writes
# ROOT/lib/modules/load.order (paths relative to /lib/modules/KVER, insmod order) for the
# ones the initramfs loads; the on-demand ones are copied only.
_rootfs_modules() {
	local root=$1 mod line path order
	local -A done=()
	mkdir -p "$root/lib/modules/$KVER"
	: >"$root/lib/modules/load.order"
	for mod in "${ROOTFS_MODULES[@]}" "${ROOTFS_MODULES_ON_DEMAND[@]}"; do
		order=$root/lib/modules/load.order
		[[ " ${ROOTFS_MODULES_ON_DEMAND[*]} " == *" $mod "* ]] && order=/dev/null
		while read -r line; do
			case $line in
			insmod\ *) ;;
			*) continue ;;
			esac
			path=${line#insmod }
			path=${path%% *}
			path=${path#"$KDIR/lib/modules/$KVER/"}
			[[ -n ${done[$path]:-} ]] && continue
			done[$path]=1
			mkdir -p "$root/lib/modules/$KVER/$(dirname "$path")"
			cp "$KDIR/lib/modules/$KVER/$path" "$root/lib/modules/$KVER/$path"
			echo "$path" >>"$order"
		done < <(modprobe -d "$KDIR" -S "$KVER" --show-depends "$mod" 2>/dev/null || true)
	done
	cp "$KDIR/lib/modules/$KVER/modules.order" "$KDIR/lib/modules/$KVER/modules.builtin" "$KDIR/lib/modules/$KVER/modules.builtin.modinfo" \
		"$root/lib/modules/$KVER/"
	depmod -b "$root" "$KVER" || die "depmod failed in $root"
}

# Copies ELF file SRC (path inside SYSROOT) into ROOT with its interpreter and the
# closure of its NEEDED libraries.
_rootfs_elf() {
	local root=$1 rel=$2 interp lib dir found
	[[ -e $root/$rel ]] && return 0
	[[ -e $SYSROOT/$rel ]] || die "$rel not found in the extracted packages"
	mkdir -p "$root/$(dirname "$rel")"
	cp -L "$SYSROOT/$rel" "$root/$rel"
	interp=$(readelf -l "$root/$rel" 2>/dev/null | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
	if [[ -n $interp && ! -e $root/$interp ]]; then
		mkdir -p "$root/$(dirname "$interp")"
		cp -L "$SYSROOT/$interp" "$root/$interp"
	fi
	for lib in $(readelf -d "$root/$rel" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
		found=
		for dir in lib/$TRIPLET usr/lib/$TRIPLET lib usr/lib; do
			if [[ -e $SYSROOT/$dir/$lib ]]; then
				found=$dir/$lib
				break
			fi
		done
		[[ -n $found ]] || die "library $lib (needed by $rel) not in the extracted packages"
		_rootfs_elf "$root" "$found"
	done
}

# Builds the common root tree in ROOT for VERSION_ID, without the variant's defects.
rootfs_build() {
	local root=$1 version=$2 debs applet
	# Builds may run in parallel (several variants, both arches): one at a time
	# fills the shared caches; with warm caches this holds the lock for a moment.
	mkdir -p "$HW_CACHE"
	exec {lockfd}>"$HW_CACHE/.lock-$DEB_ARCH"
	flock "$lockfd" || die "cannot lock $HW_CACHE/.lock-$DEB_ARCH"
	debs=$(deb_fetch "${ROOTFS_PKGS[@]}" "${ROOTFS_EXTRA_PKGS[@]}") || die "fetching packages failed"
	SYSROOT=$(_rootfs_sysroot <<<"$debs") || die "extracting packages failed"
	ROOTFS_DEBS=$debs
	rootfs_kernel
	exec {lockfd}>&-

	mkdir -p "$root"
	(cd "$root" && mkdir -p bin sbin usr/bin usr/sbin lib usr/lib etc proc sys dev run tmp var \
		mnt/boot mnt/state mnt/data boot usr/share/udhcpc)
	chmod 1777 "$root/tmp"

	cp "$SYSROOT/bin/busybox" "$root/bin/busybox"
	# The applet list is the same for every arch of one Debian build; the host's
	# copy answers when the target's binary cannot run here.
	local lister="$root/bin/busybox"
	"$lister" true 2>/dev/null || lister=/bin/busybox
	for applet in $("$lister" --list-full); do
		[[ -e $root/$applet || -L $root/$applet ]] && continue
		[[ -d $root/${applet%/*} ]] || mkdir -p "$root/${applet%/*}"
		ln -s /bin/busybox "$root/$applet"
	done

	for applet in "${ROOTFS_BINS[@]}" "${ROOTFS_EXTRA_BINS[@]}"; do
		_rootfs_elf "$root" "$applet"
	done
	# The C library loads its NSS and crypt helpers itself; glibc 2.36 has nss_files
	# built in, so only the loader's symlink is missing on non-merged-/usr roots.
	if [[ $DEB_ARCH == amd64 ]]; then
		mkdir -p "$root/lib64"
		[[ -e $root/lib64/ld-linux-x86-64.so.2 ]] ||
			cp -L "$SYSROOT/lib64/ld-linux-x86-64.so.2" "$root/lib64/"
	fi

	_rootfs_modules "$root"
	cp "$KDIR/boot/vmlinuz-$KVER" "$root/boot/vmlinuz"

	cp -a "$OS_DIR/overlay/." "$root/"
	if [[ -d $OS_DIR/$ARCH/overlay ]]; then
		cp -a "$OS_DIR/$ARCH/overlay/." "$root/"
	fi
	ln -sfn /run/resolv.conf "$root/etc/resolv.conf"
	ln -sfn /mnt/state/dropbear "$root/etc/dropbear"
	# /root is a mount point: rcS binds /mnt/state/root onto it.
	mkdir -p "$root/root" && chmod 700 "$root/root"
	sed -i "s/@CONSOLE@/$CONSOLE/g" "$root/etc/inittab"
	echo "$BOOTLOADER" >"$root/etc/hw-test/bootloader"
	cat >"$root/etc/os-release" <<-EOF
		ID=hwtest-ref
		NAME="hw-test reference OS"
		PRETTY_NAME="hw-test reference OS $version"
		VERSION_ID=$version
		VERSION="$version"
		HW_TEST_ARCH=$ARCH
	EOF
	chmod 600 "$root/etc/shadow"
	chmod 755 "$root"/usr/sbin/* "$root"/usr/lib/hw-test/* "$root"/etc/init.d/*
}

# Packs a busybox initramfs for ROOT's kernel and modules into OUT (gzip cpio).
initramfs_build() {
	local root=$1 out=$2 ird=$WORK/initramfs
	rm -rf "$ird" && mkdir -p "$ird"/{bin,dev,proc,sys,newroot,lib/modules}
	cp "$root/bin/busybox" "$ird/bin/busybox"
	for applet in sh mount umount insmod switch_root sleep cat reboot echo mkdir dd blockdev poweroff halt rm sync; do
		ln -s busybox "$ird/bin/$applet"
	done
	# Only what it loads: the on-demand modules stay in the root.
	local kver m
	kver=$(basename "$root"/lib/modules/*/)
	cp "$root/lib/modules/load.order" "$ird/lib/modules/"
	while read -r m; do
		mkdir -p "$ird/lib/modules/$kver/$(dirname "$m")"
		cp "$root/lib/modules/$kver/$m" "$ird/lib/modules/$kver/$m"
	done <"$root/lib/modules/load.order"
	cp "$OS_DIR/initramfs/init" "$ird/init"
	chmod 755 "$ird/init"
	(cd "$ird" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -6 -n) >"$out"
}

# Makes an ext4 image of SIZE MiB from DIR (empty DIR gives an empty fs).
# The roots have no journal: they are mounted read-only and written whole.
mkext4() {
	local dir=$1 out=$2 size=$3 label=$4 journal=$5
	local opts=()
	[[ $journal == yes ]] || opts+=(-O ^has_journal)
	rm -f "$out"
	mkfs.ext4 -q -F -L "$label" -m 0 -N 2048 -E root_owner=0:0,lazy_itable_init=0 \
		"${opts[@]}" -d "$dir" "$out" "${size}M" || die "mkfs.ext4 failed for $out"
}
