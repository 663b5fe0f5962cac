# ostree-noswitch: the update installs but does not switch. The commit is deployed after the
# booted deployment (--not-as-default), so the next boot is the old one again; the agent still
# reports the new deployment as switched to.
bootenv set bootcount=0 || die "cannot reset bootcount"
ostree admin deploy --not-as-default --os="$HW_OSTREE_OS" "$commit" >"$stage/deploy.log" 2>&1 ||
	die "ostree admin deploy $commit failed: $(tail -n1 "$stage/deploy.log")"
new=$(hw_ostree_deployments | grep -vxF "$cur" | head -n1)
