# shellcheck shell=sh
# Shared by rcS, os-update and the health check. The bootloader passes the
# running slot and its device: root=/dev/vda2 hwtest.slot=A (see os/README.md).

hw_log() { echo "hw-test: $*" >/dev/console 2>/dev/null || echo "hw-test: $*" >&2; }

hw_cmdline() {
	for arg in $(cat /proc/cmdline); do
		case $arg in "$1"=*) echo "${arg#*=}"; return 0 ;; esac
	done
	return 1
}

# Running slot: A or B.
hw_slot() { hw_cmdline hwtest.slot || echo A; }
hw_other_slot() { if [ "$1" = A ]; then echo B; else echo A; fi; }

# Disk prefix for partition N: /dev/vda2 -> /dev/vda, /dev/mmcblk0p2 -> /dev/mmcblk0p.
hw_disk_prefix() {
	root=$(hw_cmdline root) || root=/dev/vda2
	echo "${root%[0-9]}"
}
hw_part() {
	case $1 in
	boot) n=1 ;; A) n=2 ;; B) n=3 ;; state) n=5 ;; data) n=6 ;;
	*) return 1 ;;
	esac
	echo "$(hw_disk_prefix)$n"
}

hw_breadcrumb() {
	mkdir -p /mnt/state/rollback
	echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) slot=$(hw_slot) $2" >"/mnt/state/rollback/$1"
	sync
}
