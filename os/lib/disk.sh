# shellcheck shell=bash
# MBR layout shared by every arch (os/README.md, "Disk layout"). Sourced by the
# image scripts. Sizes in 512-byte sectors; every start is MiB-aligned so that
# partitions can be copied with dd bs=1M.
DISK_BOOT_START=2048;    DISK_BOOT_SIZE=$((32 * 2048))
DISK_ROOTA_START=67584;  DISK_ROOT_SIZE=$((96 * 2048))
DISK_ROOTB_START=264192
DISK_EXT_START=460800
DISK_STATE_START=462848; DISK_STATE_SIZE=$((16 * 2048))
DISK_DATA_START=497664;  DISK_DATA_SIZE=$((32 * 2048))
DISK_SECTORS=$((DISK_DATA_START + DISK_DATA_SIZE))
DISK_LABEL_ID=0x68777465
DISK_BOOT_MB=32 DISK_ROOT_MB=96 DISK_STATE_MB=16 DISK_DATA_MB=32

# disk_fat OUT DIR: a FAT boot partition image holding DIR's content.
disk_fat() {
	local out=$1 dir=$2
	rm -f "$out"
	mkfs.vfat -C -n BOOT -i 68777465 "$out" $((DISK_BOOT_MB * 1024)) >/dev/null ||
		{ echo "build: mkfs.vfat failed for $out" >&2; return 1; }
	if compgen -G "$dir/*" >/dev/null; then
		MTOOLS_SKIP_CHECK=1 mcopy -s -o -i "$out" "$dir"/* ::/ ||
			{ echo "build: mcopy into $out failed" >&2; return 1; }
	fi
}

# disk_assemble OUT BOOT ROOTA ROOTB STATE DATA: partition a sparse image and copy
# the partition images in (ROOTB may be "" for an empty slot).
disk_assemble() {
	local out=$1 boot=$2 rootA=$3 rootB=$4 state=$5 data=$6
	rm -f "$out"
	truncate -s $((DISK_SECTORS * 512)) "$out"
	sfdisk -q --no-reread --no-tell-kernel "$out" <<-EOF >/dev/null || { echo "build: sfdisk failed on $out" >&2; return 1; }
		label: dos
		label-id: $DISK_LABEL_ID
		unit: sectors

		start=$DISK_BOOT_START, size=$DISK_BOOT_SIZE, type=c, bootable
		start=$DISK_ROOTA_START, size=$DISK_ROOT_SIZE, type=83
		start=$DISK_ROOTB_START, size=$DISK_ROOT_SIZE, type=83
		start=$DISK_EXT_START, size=$((DISK_SECTORS - DISK_EXT_START)), type=5
		start=$DISK_STATE_START, size=$DISK_STATE_SIZE, type=83
		start=$DISK_DATA_START, size=$DISK_DATA_SIZE, type=83
	EOF
	_disk_put "$out" "$boot" $DISK_BOOT_START $DISK_BOOT_SIZE
	_disk_put "$out" "$rootA" $DISK_ROOTA_START $DISK_ROOT_SIZE
	[[ -z $rootB ]] || _disk_put "$out" "$rootB" $DISK_ROOTB_START $DISK_ROOT_SIZE
	_disk_put "$out" "$state" $DISK_STATE_START $DISK_STATE_SIZE
	_disk_put "$out" "$data" $DISK_DATA_START $DISK_DATA_SIZE
}

_disk_put() {
	local out=$1 img=$2 start=$3 size=$4
	(($(stat -c %s "$img") <= size * 512)) || { echo "build: $img is larger than its partition" >&2; return 1; }
	dd if="$img" of="$out" bs=1M seek=$((start / 2048)) conv=notrunc,sparse status=none ||
		{ echo "build: copying $img into $out failed" >&2; return 1; }
}
