# ostree-writes-running: the update writes the running deployment. The new commit is checked out
# over the booted deployment's own directory (no new deployment, nothing for GRUB to try or fall
# back from); the agent reports the booted deployment as switched to.
dir=$(hw_ostree_booted_dir)
[ -d "$dir" ] || die "no directory for the booted deployment"
ostree checkout --repo=/ostree/repo --union "$commit" "$dir" >"$stage/deploy.log" 2>&1 ||
	die "ostree checkout $commit over $dir failed: $(tail -n1 "$stage/deploy.log")"
new=$cur
