# shellcheck shell=sh
# OSTree variant: sourced by rcS once /run, /mnt/boot and /mnt/state are mounted (os/ostree/build.sh
# inserts the line), before the rollback breadcrumb and the health check.

# ostree-prepare-root flagged the boot in the initramfs's /run; rcS mounted a fresh one. Without
# the flag, ostree does not know it runs on a deployment (no booted deployment, no /sysroot remount).
: >/run/ostree-booted

# After a rollback (GRUB's boot counting, or a failed health check, set fallback=1) the bootloader
# boots the committed deployment while the failed one is still the default. Remove the failed ones
# (those before the booted one); only then clear fallback: a power cut in between boots the
# committed deployment again, and this runs again.
if [ "$(bootenv get fallback 2>/dev/null)" = 1 ]; then
	booted=$(hw_ostree_booted)
	if [ -n "$booted" ] && [ "$booted" = "$(bootenv get ok_deployment 2>/dev/null)" ]; then
		idx=$(hw_ostree_index "$booted")
		while [ -n "$idx" ] && [ "$idx" -gt 0 ]; do
			failed=$(hw_ostree_deployments | head -n1)
			ostree admin undeploy 0 >/dev/null 2>&1 || { hw_log "ostree: cannot undeploy $failed"; break; }
			hw_log "ostree: removed the failed deployment $failed"
			idx=$(hw_ostree_index "$booted")
		done
		# In place for GRUB (it does not replay ext4's journal) before fallback is cleared.
		sync
		[ "$idx" = 0 ] && bootenv set fallback=0
	else
		hw_log "ostree: fallback pending but the booted deployment ${booted:-?} is not the committed one"
	fi
fi
