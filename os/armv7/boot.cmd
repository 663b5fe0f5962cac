# hw-test reference OS: A/B boot with boot counting (U-Boot 2023.01, qemu_arm).
# Compiled by os/image-armv7.sh with `mkimage -T script`; found by distro boot
# (scan_dev_for_scripts) on the first partition, which sets devtype/devnum/distro_bootpart.
#
# The bootloader variables live in two CRC-protected copies on the FAT boot
# partition (uboot.env, then uboot2.env; format of `env export -c`, the same the
# Linux side writes with /usr/sbin/bootenv).  Keeping them on the disk image, not
# in pflash, makes a re-flash of the "SD card" reset the board completely.
# Copy 1 is always written first, so whenever it is valid it is the newest.

# image-armv7.sh rewrites this line to 0 for the no-fallback variant.
setenv hwt_fallback 1

setenv hwt_vars "active_slot upgrade_available bootcount bootlimit rollback_altboot"
setenv hwt_env_addr 0x48000000
setenv hwt_env_size 0x4000
if test -z "${devtype}"; then setenv devtype virtio; setenv devnum 0; fi
if test -z "${distro_bootpart}"; then setenv distro_bootpart 1; fi
setenv hwt_bootdev "${devtype} ${devnum}:${distro_bootpart}"

# A variable left over from a copy that only lacks one name must not leak in.
setenv active_slot
setenv upgrade_available
setenv bootcount
setenv bootlimit
setenv rollback_altboot

setenv hwt_env1_ok 0
setenv hwt_env2_ok 0
if load ${hwt_bootdev} ${hwt_env_addr} uboot.env; then
  if env import -c ${hwt_env_addr} ${filesize} ${hwt_vars}; then setenv hwt_env1_ok 1; fi
fi
if test "${hwt_env1_ok}" = "0"; then
  echo "hw-test: uboot.env unreadable, trying uboot2.env"
  if load ${hwt_bootdev} ${hwt_env_addr} uboot2.env; then
    if env import -c ${hwt_env_addr} ${filesize} ${hwt_vars}; then setenv hwt_env2_ok 1; fi
  fi
else
  # Only its validity matters: it decides which copy is safe to overwrite first.
  if load ${hwt_bootdev} ${hwt_env_addr} uboot2.env; then
    if env import -c ${hwt_env_addr} ${filesize} hwt_none; then setenv hwt_env2_ok 1; fi
  fi
fi

# Missing or damaged variables: boot slot A rather than refuse to boot.
if test "${active_slot}" != "A" -a "${active_slot}" != "B"; then setenv active_slot A; fi
if test "${upgrade_available}" != "1"; then setenv upgrade_available 0; fi
if test -z "${bootcount}"; then setenv bootcount 0; fi
if test -z "${bootlimit}"; then setenv bootlimit 3; fi
if test -z "${rollback_altboot}"; then setenv rollback_altboot 0; fi

setenv hwt_save 0
if test "${upgrade_available}" = "1"; then
  # setexpr only does hex; count in decimal by table (saturates at 32).
  setenv hwt_next
  setenv hwt_prev 0
  for n in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32; do
    if test "${hwt_prev}" = "${bootcount}"; then setenv hwt_next ${n}; fi
    setenv hwt_prev ${n}
  done
  if test -n "${hwt_next}"; then setenv bootcount ${hwt_next}; fi
  setenv hwt_save 1
  if test "${hwt_fallback}" = "1" && test ${bootcount} -gt ${bootlimit}; then
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

if test "${hwt_save}" = "1"; then
  # Never overwrite the only valid copy first: a power cut during that write
  # would leave no valid copy at all.
  if env export -c -s ${hwt_env_size} ${hwt_env_addr} ${hwt_vars}; then
    if test "${hwt_env1_ok}" = "1" -a "${hwt_env2_ok}" = "0"; then
      fatwrite ${hwt_bootdev} ${hwt_env_addr} uboot2.env ${hwt_env_size}
      fatwrite ${hwt_bootdev} ${hwt_env_addr} uboot.env ${hwt_env_size}
    else
      fatwrite ${hwt_bootdev} ${hwt_env_addr} uboot.env ${hwt_env_size}
      fatwrite ${hwt_bootdev} ${hwt_env_addr} uboot2.env ${hwt_env_size}
    fi
  else
    echo "hw-test: env export failed, boot counting not persisted"
  fi
fi

if test "${active_slot}" = "B"; then setenv hwt_rootpart 3; else setenv hwt_rootpart 2; fi

echo "hw-test: bootloader slot=${active_slot} bootcount=${bootcount} upgrade_available=${upgrade_available}"

setenv bootargs "console=ttyAMA0,115200 root=/dev/vda${hwt_rootpart} rootfstype=ext4 ro rootwait panic=5 hwtest.slot=${active_slot}"

# On failure fall through: the kernel of a broken slot must not be retried
# forever without counting, so reset and let the next boot count again.
if load ${devtype} ${devnum}:${hwt_rootpart} ${kernel_addr_r} /boot/vmlinuz; then
  if load ${devtype} ${devnum}:${hwt_rootpart} ${ramdisk_addr_r} /boot/initrd.img; then
    # QEMU's virt machine hands U-Boot its generated DTB; pass that on.
    bootz ${kernel_addr_r} ${ramdisk_addr_r}:${filesize} ${fdtcontroladdr}
  fi
fi
echo "hw-test: boot of slot ${active_slot} failed, resetting"
sleep 1
reset
