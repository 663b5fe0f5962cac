#!/bin/sh
# A broken bundle, on purpose (the rauc-writes-running variant): its install hook writes the
# image onto the slot the board is running from, not onto the target RAUC gives it. RAUC then
# activates the target, which holds whatever it held before. The update-rollback suite must fail.
case $1 in
slot-install)
	root=$(sed -n 's/.*root=\([^ ]*\).*/\1/p' /proc/cmdline)
	echo "hook-writes-running: writing $RAUC_IMAGE_NAME to the running root $root, not $RAUC_SLOT_DEVICE" >&2
	dd if="$RAUC_IMAGE_NAME" of="$root" bs=1M conv=fsync 2>/dev/null
	;;
*) exit 1 ;;
esac
