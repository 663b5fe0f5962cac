# hw-test reference OS: A/B boot with boot counting (U-Boot 2023.01, qemu_arm).
# Compiled by os/image-armv7.sh with `mkimage -T script`; found by distro boot
# (scan_dev_for_scripts) on the first partition, which sets devtype/devnum/distro_bootpart.
#
# The bootloader variables live in two CRC-protected copies on the FAT boot
# partition (uboot.env, then uboot2.env; format of `env export -c`, the same the
# Linux side writes with /usr/sbin/bootenv).  Keeping them on the disk image, not
# in pflash, makes a re-flash of the "SD card" reset the board completely.
# Copy 1 is always written first, so whenever it is valid it is the newest.

# Filled in by image-armv7.sh: 0 for the no-fallback variant (count, never switch).
setenv hb_fallback @FALLBACK@

# The standard variables always round-trip; hwtest_vars (kept by the Linux side)
# names any others that were set with bootenv, so a U-Boot write keeps them too.
setenv hb_std "active_slot upgrade_available bootcount bootlimit rollback_altboot"
setenv hb_env_addr 0x48000000
setenv hb_env_size 0x4000
if test -z "${devtype}"; then setenv devtype virtio; setenv devnum 0; fi
if test -z "${distro_bootpart}"; then setenv distro_bootpart 1; fi
setenv hb_bootdev "${devtype} ${devnum}:${distro_bootpart}"

# A variable must only come from the copy that is used.
setenv active_slot
setenv upgrade_available
setenv bootcount
setenv bootlimit
setenv rollback_altboot
setenv hwtest_vars

setenv hb_env1_ok 0
setenv hb_env2_ok 0
if load ${hb_bootdev} ${hb_env_addr} uboot.env; then
  if env import -c ${hb_env_addr} ${filesize} hwtest_vars; then
    setenv hb_env1_ok 1
    env import -c ${hb_env_addr} ${filesize} ${hb_std} ${hwtest_vars}
  fi
fi
if test "${hb_env1_ok}" = "0"; then
  echo "hw-test: uboot.env unreadable, trying uboot2.env"
  if load ${hb_bootdev} ${hb_env_addr} uboot2.env; then
    if env import -c ${hb_env_addr} ${filesize} hwtest_vars; then
      setenv hb_env2_ok 1
      env import -c ${hb_env_addr} ${filesize} ${hb_std} ${hwtest_vars}
    fi
  fi
else
  # Only its validity matters: it decides which copy is safe to overwrite first.
  if load ${hb_bootdev} ${hb_env_addr} uboot2.env; then
    if env import -c ${hb_env_addr} ${filesize} hb_none; then setenv hb_env2_ok 1; fi
  fi
fi

# Missing or damaged variables: boot slot A rather than refuse to boot.
if test "${active_slot}" != "A" -a "${active_slot}" != "B"; then setenv active_slot A; fi
if test "${upgrade_available}" != "1"; then setenv upgrade_available 0; fi
if test -z "${bootcount}"; then setenv bootcount 0; fi
if test -z "${bootlimit}"; then setenv bootlimit 3; fi
if test -z "${rollback_altboot}"; then setenv rollback_altboot 0; fi

setenv hb_save 0
if test "${upgrade_available}" = "1"; then
  # setexpr only does hex; count in decimal by table (saturates at 32).
  setenv hb_next
  setenv hb_prev 0
  for n in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32; do
    if test "${hb_prev}" = "${bootcount}"; then setenv hb_next ${n}; fi
    setenv hb_prev ${n}
  done
  if test -n "${hb_next}"; then setenv bootcount ${hb_next}; fi
  setenv hb_save 1
  if test "${hb_fallback}" = "1" && test ${bootcount} -gt ${bootlimit}; then
    if test "${active_slot}" = "B"; then
      setenv active_slot A
      echo "hw-test: rollback-altboot slot=B->A"
    else
      setenv active_slot B
      echo "hw-test: rollback-altboot slot=A->B"
    fi
    setenv upgrade_available 0
    setenv bootcount 0
    setenv rollback_altboot 1
  fi
fi

if test "${hb_save}" = "1"; then
  # Never overwrite the only valid copy first: a power cut during that write
  # would leave no valid copy at all.
  if test -n "${hwtest_vars}"; then
    setenv hb_export "${hb_std} hwtest_vars ${hwtest_vars}"
  else
    setenv hb_export "${hb_std}"
  fi
  if env export -c -s ${hb_env_size} ${hb_env_addr} ${hb_export}; then
    if test "${hb_env1_ok}" = "1" -a "${hb_env2_ok}" = "0"; then
      fatwrite ${hb_bootdev} ${hb_env_addr} uboot2.env ${hb_env_size}
      fatwrite ${hb_bootdev} ${hb_env_addr} uboot.env ${hb_env_size}
    else
      fatwrite ${hb_bootdev} ${hb_env_addr} uboot.env ${hb_env_size}
      fatwrite ${hb_bootdev} ${hb_env_addr} uboot2.env ${hb_env_size}
    fi
  else
    echo "hw-test: env export failed, boot counting not persisted"
  fi
fi

if test "${active_slot}" = "B"; then setenv hb_rootpart 3; else setenv hb_rootpart 2; fi

echo "hw-test: bootloader slot=${active_slot} bootcount=${bootcount} upgrade_available=${upgrade_available}"

# image-armv7.sh adds panic=5: a panic becomes a reset, which boot counting sees.
setenv bootargs "console=ttyAMA0,115200 root=/dev/vda${hb_rootpart} ro hwtest.slot=${active_slot} @KERNEL_ARGS@"

# A slot without a kernel (e.g. an empty slot B) resets, so the next boot counts
# again instead of stopping at a prompt.
if load ${devtype} ${devnum}:${hb_rootpart} ${kernel_addr_r} /boot/vmlinuz; then
  if load ${devtype} ${devnum}:${hb_rootpart} ${ramdisk_addr_r} /boot/initrd.img; then
    # QEMU's virt machine hands U-Boot its generated DTB; pass that on.
    bootz ${kernel_addr_r} ${ramdisk_addr_r}:${filesize} ${fdtcontroladdr}
  fi
fi
echo "hw-test: boot of slot ${active_slot} failed, resetting"
sleep 1
reset
