# shellcheck shell=bash
# The OSTree variants (os/README.md, "OSTree variant"), sourced by os/build.sh once it has parsed
# its arguments, set up WORK and sourced os/lib/*.sh. The root tree is the reference OS's, laid out
# as an OSTree commit (/usr/etc, the kernel and initramfs in /usr/lib/modules/KVER), committed into
# a build repository; the disk's sysroot is made with `ostree admin init-fs`, `os-init` and
# `deploy` on a directory (root, or a user namespace mapping the builder to root: nothing is
# mounted), then packed with mkfs.ext4 -d like the other partitions.
#
# Outputs: OUT, the disk (v1 deployed); with --bundle-out FILE, the bundles (update to v2) FILE and,
# beside it, FILE's name with -unbootable-update and -health-fails before its extension: each a
# tar of bundle.conf (commit=, from=, version=) and an inline static delta from v1, with .sha256.
#
# Variants: ostree; sabotaged (each must fail the update-rollback suite): ostree-no-fallback (GRUB
# counts trial boots but never falls back), ostree-noswitch (the agent installs, the old deployment
# stays the default), ostree-writes-running (the agent checks the commit out over the booted one).

OSTREE_DIR=$OS_DIR/ostree
OSTREE_OS=hwtest
OSTREE_SYSROOT_MB=192
[[ $ARCH == x86_64 ]] || die "the OSTree variants are built for x86_64 only (GRUB on qemu-x86-64)"
for tool in ostree unshare tar; do
	command -v "$tool" >/dev/null || die "$tool not found (run npm run setup)"
done

# ostree writes the sysroot as root (bare repository, file owners): as root, or as the root of a
# user namespace that maps to the builder (the files then belong to the builder, as in a non-root
# build of the reference OS).
ostree_root() {
	if ((EUID == 0)); then "$@"; else unshare --map-root-user -- "$@"; fi
}

# The ostree CLI and ostree-prepare-root from Debian's packages, with their libraries.
ostree_bins() {
	local root=$1 debs lockfd
	exec {lockfd}>"$HW_CACHE/.lock-$DEB_ARCH"
	flock "$lockfd" || die "cannot lock $HW_CACHE/.lock-$DEB_ARCH"
	debs=$(deb_fetch ostree ostree-boot) || die "fetching the ostree packages failed"
	SYSROOT=$(_rootfs_sysroot <<<"$debs") || die "extracting the ostree packages failed"
	exec {lockfd}>&-
	_rootfs_elf "$root" usr/bin/ostree
	_rootfs_elf "$root" usr/lib/ostree/ostree-prepare-root
}

# The initramfs: the reference one (busybox, modules), then a second cpio archive the kernel
# unpacks over it: our /init and ostree-prepare-root with its libraries.
ostree_initramfs() {
	local root=$1 out=$2 extra=$WORK/initramfs-ostree lib
	initramfs_build "$root" "$WORK/initramfs-base.img"
	rm -rf "$extra" && mkdir -p "$extra/usr/lib/ostree" "$extra/sysroot" "$extra/run"
	cp "$OSTREE_DIR/initramfs-init" "$extra/init"
	chmod 755 "$extra/init"
	cp "$root/usr/lib/ostree/ostree-prepare-root" "$extra/usr/lib/ostree/"
	# Its NEEDED closure, from the root tree (_rootfs_elf put it there).
	while read -r lib; do
		mkdir -p "$extra/$(dirname "$lib")"
		cp -L "$root/$lib" "$extra/$lib"
	done < <(ostree_needed "$root" usr/lib/ostree/ostree-prepare-root | sort -u)
	(cd "$extra" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -6 -n) >"$WORK/initramfs-extra.img"
	cat "$WORK/initramfs-base.img" "$WORK/initramfs-extra.img" >"$out"
}

# Paths (in ROOT) of the interpreter and libraries ELF file $2 needs, recursively.
ostree_needed() {
	local root=$1 rel=$2 interp lib dir
	interp=$(readelf -l "$root/$rel" 2>/dev/null | sed -n 's/.*Requesting program interpreter: \/\(.*\)]/\1/p')
	[[ -z $interp ]] || echo "$interp"
	for lib in $(readelf -d "$root/$rel" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
		for dir in lib/$TRIPLET usr/lib/$TRIPLET lib usr/lib; do
			if [[ -e $root/$dir/$lib ]]; then
				echo "$dir/$lib"
				ostree_needed "$root" "$dir/$lib"
				break
			fi
		done
	done
}

# Lays the reference root tree out as an OSTree commit: /etc in /usr/etc, os-release in /usr/lib,
# kernel, initramfs and modules in /usr/lib/modules/KVER, /sysroot and /ostree for the deployment.
ostree_layout() {
	local root=$1
	rm -f "$root/usr/sbin/os-update"
	cp -a "$OSTREE_DIR/overlay/." "$root/"
	chmod 755 "$root/usr/sbin/ostree-update" "$root/usr/sbin/hw-test-health" "$root/usr/lib/ostree/ostree-grub-generator"
	# libostree's grub2 backend runs grub-mkconfig (Debian's path) unless OSTREE_GRUB2_EXEC is set.
	ln -s ../lib/ostree/ostree-grub-generator "$root/usr/sbin/grub-mkconfig"
	echo '. /usr/lib/hw-test/ostree.sh' >>"$root/usr/lib/hw-test/common.sh"
	case $VARIANT in
	ostree-noswitch) ostree_sabotage "$root/usr/sbin/ostree-update" noswitch ;;
	ostree-writes-running) ostree_sabotage "$root/usr/sbin/ostree-update" writes-running ;;
	esac
	ostree_initramfs "$root" "$WORK/initramfs.img"
	mkdir -p "$root/usr/lib/modules"
	mv "$root/lib/modules/$KVER" "$root/lib/modules/load.order" "$root/usr/lib/modules/"
	rmdir "$root/lib/modules"
	ln -s ../usr/lib/modules "$root/lib/modules"
	mv "$root/boot/vmlinuz" "$root/usr/lib/modules/$KVER/vmlinuz"
	cp "$WORK/initramfs.img" "$root/usr/lib/modules/$KVER/initramfs.img"
	rm -rf "${root:?}/boot" && mkdir "$root/boot"
	mkdir "$root/sysroot"
	ln -s sysroot/ostree "$root/ostree"
	mv "$root/etc/os-release" "$root/usr/lib/os-release"
	ln -s ../usr/lib/os-release "$root/etc/os-release"
	mv "$root/etc" "$root/usr/etc"
}

# Replaces the agent's deploy block (# BEGIN deploy ... # END deploy) by os/ostree/sabotage/NAME.sh.
ostree_sabotage() {
	local agent=$1 name=$2
	grep -q '^# BEGIN deploy' "$agent" && grep -q '^# END deploy' "$agent" ||
		die "$agent has no # BEGIN deploy / # END deploy block for the $name sabotage"
	awk -v f="$OSTREE_DIR/sabotage/$name.sh" '
		/^# BEGIN deploy/ { while ((getline l < f) > 0) print l; skip = 1; next }
		/^# END deploy/ { skip = 0; next }
		!skip' "$agent" >"$WORK/agent"
	cat "$WORK/agent" >"$agent"
}

# Commits TREE to BRANCH of the build repository with version VERSION.
ostree_commit() {
	local branch=$1 tree=$2 version=$3
	ostree --repo="$WORK/repo" commit --branch="$branch" --tree=dir="$tree" --owner-uid=0 --owner-gid=0 \
		--no-xattrs --add-metadata-string=version="$version" -s "hw-test reference OS $version" >/dev/null ||
		die "ostree commit of $branch failed"
}

# A copy of TREE for version v2 of the OS (what the bundles carry).
ostree_v2_tree() {
	local tree=$1 out=$2
	cp -a "$tree" "$out"
	sed -i -e 's/^VERSION_ID=.*/VERSION_ID=v2/' -e 's/^VERSION=.*/VERSION="v2"/' \
		-e 's/^PRETTY_NAME=.*/PRETTY_NAME="hw-test reference OS v2"/' "$out/usr/lib/os-release"
}

# bundle OUT BRANCH: tar of bundle.conf and the inline static delta from the image's commit (v1)
# to BRANCH's (no fallback objects: every object the device lacks is in the file), with OUT.sha256.
# The image's sysroot keeps v1 under a ref, so the delta applies whatever the board runs since.
ostree_bundle() {
	local out=$1 branch=$2 dir=$WORK/bundle-$RANDOM commit from version
	mkdir -p "$dir"
	commit=$(ostree --repo="$WORK/repo" rev-parse "$branch") || die "no commit for $branch"
	from=$(ostree --repo="$WORK/repo" rev-parse "$OSTREE_OS/v1") || die "no commit for $OSTREE_OS/v1"
	version=$(ostree --repo="$WORK/repo" show "$commit" | sed -n 's/^ *Version: //p')
	ostree --repo="$WORK/repo" static-delta generate --from="$from" --to="$commit" --inline \
		--min-fallback-size=0 --filename="$dir/delta" >"$dir/generate.log" 2>&1 ||
		die "static-delta generate for $branch failed: $(tail -n3 "$dir/generate.log")"
	printf 'commit=%s\nfrom=%s\nversion=%s\nos=%s\n' "$commit" "$from" "$version" "$OSTREE_OS" >"$dir/bundle.conf"
	mkdir -p "$(dirname "$out")"
	rm -f "$dir/generate.log"
	tar -cf "$out" -C "$dir" --owner=0 --group=0 --numeric-owner bundle.conf delta || die "tar of $out failed"
	(cd "$(dirname "$out")" && sha256sum "$(basename "$out")") >"$out.sha256"
	rm -rf "$dir"
}

# The sysroot directory SR with BRANCH deployed; prints the deployment's id.
ostree_sysroot() {
	local sr=$1 branch=$2
	mkdir -p "$sr"
	ostree_root bash -euo pipefail -c '
		sr=$1 repo=$2 branch=$3 os=$4 gen=$5
		ostree admin init-fs --modern "$sr" >/dev/null
		ostree --repo="$sr/ostree/repo" config set sysroot.bootloader grub2
		ostree --repo="$sr/ostree/repo" config set sysroot.readonly true
		ostree admin --sysroot="$sr" os-init "$os" >/dev/null
		ostree --repo="$sr/ostree/repo" pull-local "$repo" "$branch" >/dev/null
		# No immutable bit on the deployment: mkfs.ext4 -d would not copy it, and rm -rf of WORK
		# could not remove it.
		OSTREE_GRUB2_EXEC=$gen OSTREE_SYSROOT_DEBUG=mutable-deployments \
			ostree admin --sysroot="$sr" deploy --os="$os" --karg=root=/dev/vda2 --karg=rw "$branch" >/dev/null
	' _ "$sr" "$WORK/repo" "$branch" "$OSTREE_OS" "$OSTREE_DIR/overlay/usr/lib/ostree/ostree-grub-generator" ||
		die "creating the OSTree sysroot failed"
	sed -n "s/^set ostree_id_0='\(.*\)'$/\1/p" "$sr/boot/loader/grub.cfg"
}

# Logs how long the build has taken so far, after step $1.
ostree_step() { echo "build: ostree: $1 done at $((SECONDS - start)) s" >&2; }

ostree_build() {
	local root=$WORK/root tree=$WORK/tree v2=$WORK/tree-v2 bad sr=$WORK/sysroot id
	rootfs_build "$root" v1
	echo "HW_TEST_VARIANT=$VARIANT" >>"$root/etc/os-release"
	ostree_bins "$root"
	ostree_layout "$root"
	mv "$root" "$tree"
	ostree_step "root tree"

	# bare-user-only: nothing compressed, no owners or xattrs to keep (--owner-uid=0 names them).
	ostree --repo="$WORK/repo" init --mode=bare-user-only || die "ostree init failed"
	ostree_commit "$OSTREE_OS/v1" "$tree" v1
	ostree_step "commit v1"
	if [[ -n $BUNDLE_OUT ]]; then
		ostree_v2_tree "$tree" "$v2"
		ostree_commit "$OSTREE_OS/v2" "$v2" v2
		# Cannot boot: GRUB rejects the kernel ("invalid magic number"), the attempt reboots.
		bad=$WORK/tree-unbootable
		cp -a "$v2" "$bad"
		head -c 4096 /dev/zero >"$bad/usr/lib/modules/$KVER/vmlinuz"
		ostree_commit "$OSTREE_OS/unbootable-update" "$bad" v2
		bad=$WORK/tree-health-fails
		cp -a "$v2" "$bad"
		printf '#!/bin/sh\necho "health hook: this build is broken on purpose" >&2\nexit 1\n' \
			>"$bad/usr/etc/hw-test/health.d/50-broken"
		chmod 755 "$bad/usr/etc/hw-test/health.d/50-broken"
		ostree_commit "$OSTREE_OS/health-fails" "$bad" v2
		local base=${BUNDLE_OUT%.*} ext=${BUNDLE_OUT##*.}
		[[ $base != "$BUNDLE_OUT" ]] || ext=bundle
		ostree_bundle "$BUNDLE_OUT" "$OSTREE_OS/v2"
		ostree_bundle "$base-unbootable-update.$ext" "$OSTREE_OS/unbootable-update"
		ostree_bundle "$base-health-fails.$ext" "$OSTREE_OS/health-fails"
		rm -rf "$v2" "$WORK/tree-unbootable" "$WORK/tree-health-fails"
		ostree_step "bundles"
	fi

	id=$(ostree_sysroot "$sr" "$OSTREE_OS/v1")
	[[ $id =~ ^[0-9a-f]{12}\.[0-9]+$ ]] || die "no deployment in the generated $sr/boot/loader/grub.cfg"
	ostree_step "sysroot"
	rm -f "$WORK/sysroot.ext4"
	mkfs.ext4 -q -F -L sysroot -m 0 -i 8192 -E root_owner=0:0,lazy_itable_init=0 -d "$sr" \
		"$WORK/sysroot.ext4" "${OSTREE_SYSROOT_MB}M" || die "mkfs.ext4 failed for the sysroot"
	mkdir -p "$WORK/empty"
	mkext4 "$WORK/empty" "$WORK/state.ext4" "$DISK_STATE_MB" state yes
	mkext4 "$WORK/empty" "$WORK/data.ext4" "$DISK_DATA_MB" data yes
	mkdir -p "$(dirname "$OUT")"
	IMG_OUT=$OUT IMG_SYSROOT=$WORK/sysroot.ext4 IMG_STATE=$WORK/state.ext4 IMG_DATA=$WORK/data.ext4 \
		IMG_WORK=$WORK IMG_DEPLOYMENT=$id IMG_KERNEL_ARGS=${IMG_KERNEL_ARGS:-} \
		IMG_NO_FALLBACK=$([[ $VARIANT == ostree-no-fallback ]] && echo 1 || echo 0) \
		bash "$OSTREE_DIR/image.sh" || die "os/ostree/image.sh failed"
	echo "build: $ARCH $VARIANT -> $OUT ($(du -h --apparent-size "$OUT" | cut -f1) apparent, $(du -h "$OUT" | cut -f1) used) in $((SECONDS - start)) s" >&2
	[[ -z $BUNDLE_OUT ]] || echo "build: bundles $BUNDLE_OUT ($(du -h "$BUNDLE_OUT" | cut -f1)) and its -unbootable-update, -health-fails" >&2
}

ostree_build
