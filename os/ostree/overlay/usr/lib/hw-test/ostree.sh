# shellcheck shell=sh
# OSTree variant: sourced at the end of common.sh (os/ostree/build.sh appends the line). The
# "slot" of the reference OS is the booted deployment here, named <commit:12>.<serial> (the first
# 12 hex digits of the commit `ostree admin status` shows, and the deployment serial); GRUB passes
# it as hwtest.slot= so hw_slot needs no change.

HW_OSTREE_OS=hwtest

# The deployments, newest (the default) first, one id per line.
hw_ostree_deployments() {
	ostree admin status 2>/dev/null |
		sed -n "s/^[* ] \{1,\}$HW_OSTREE_OS \([0-9a-f]\{12\}\)[0-9a-f]\{52\}\(\.[0-9]\{1,\}\).*/\1\2/p"
}

# The booted deployment, as ostree itself sees it (not what the bootloader said).
hw_ostree_booted() {
	ostree admin status 2>/dev/null |
		sed -n "s/^\* \{1,\}$HW_OSTREE_OS \([0-9a-f]\{12\}\)[0-9a-f]\{52\}\(\.[0-9]\{1,\}\).*/\1\2/p"
}

# Index of deployment $1 in the list (0 = default), empty when absent.
hw_ostree_index() {
	hw_ostree_deployments | awk -v id="$1" '$0 == id { print NR - 1; exit }'
}

# The booted deployment's directory in the sysroot.
hw_ostree_booted_dir() {
	ostree admin status 2>/dev/null |
		sed -n "s|^\* \{1,\}$HW_OSTREE_OS \([0-9a-f]\{64\}\.[0-9]\{1,\}\).*|/sysroot/ostree/deploy/$HW_OSTREE_OS/deploy/\1|p"
}
