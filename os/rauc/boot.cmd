# hw-test reference OS, RAUC variant, armv7 (U-Boot 2023.01, qemu_arm): RAUC's U-Boot boot
# selection (contrib/uboot.sh of RAUC's sources). RAUC's uboot backend writes BOOT_ORDER and
# BOOT_<slot>_LEFT with fw_setenv; this script boots the first slot of BOOT_ORDER with attempts
# left, counting one down before booting it, and Linux marks it good after its health check
# (`rauc status mark-good`: BOOT_<slot>_LEFT back to 3). A slot whose attempts ran out is skipped.
#
# The variables are libubootenv's redundant environment: uboot.env and uboot2.env on the FAT boot
# partition (os/rauc/fw_env.config), each [CRC32 of the data][flags byte][data], 16 KiB. The copy
# in use is the valid one with the newer flags (flags+1 wins, 0 after 255); a write goes to the
# other copy with flags+1, so a power cut during it leaves the one in use intact.
# (Compiled by os/image-armv7.sh with `mkimage -T script`, found by distro boot on partition 1.)

setenv hb_fallback @FALLBACK@
setenv hb_bootdev "${devtype} ${devnum}:${distro_bootpart}"
if test -z "${devtype}"; then setenv hb_bootdev "virtio 0:1"; fi
setenv hb_a1 0x48000000
setenv hb_a2 0x48010000
setenv hb_tmp 0x48020000
setenv hb_out 0x48030000

setenv BOOT_ORDER
setenv BOOT_A_LEFT
setenv BOOT_B_LEFT

# hb_check ADDR: hb_ok=1 when the copy at ADDR has a valid CRC; its flags byte in hb_flags.
# env import -c wants [CRC][data] together: the CRC is copied next to the data at hb_tmp.
setenv hb_check 'setenv hb_ok 0; setexpr hb_p ${hb_addr} + 4; setexpr.b hb_flags *${hb_p}; cp.b ${hb_addr} ${hb_tmp} 4; setexpr hb_p ${hb_addr} + 5; setexpr hb_q ${hb_tmp} + 4; cp.b ${hb_p} ${hb_q} 0x3ffb; if env import -c ${hb_tmp} 0x3fff hb_none; then setenv hb_ok 1; fi'

setenv hb_ok1 0
setenv hb_ok2 0
if load ${hb_bootdev} ${hb_a1} uboot.env; then setenv hb_addr ${hb_a1}; run hb_check; setenv hb_ok1 ${hb_ok}; setenv hb_f1 ${hb_flags}; fi
if load ${hb_bootdev} ${hb_a2} uboot2.env; then setenv hb_addr ${hb_a2}; run hb_check; setenv hb_ok2 ${hb_ok}; setenv hb_f2 ${hb_flags}; fi

# Which copy is in use: copy 2 when it alone is valid, or both are and its flags are copy 1's + 1.
setenv hb_cur 1
if test "${hb_ok1}" = "0" -a "${hb_ok2}" = "1"; then setenv hb_cur 2; fi
if test "${hb_ok1}" = "1" -a "${hb_ok2}" = "1"; then
  setexpr hb_next ${hb_f1} + 1
  if test "${hb_next}" = "100"; then setenv hb_next 0; fi
  if test "${hb_f2}" = "${hb_next}"; then setenv hb_cur 2; fi
fi
if test "${hb_ok1}" = "0" -a "${hb_ok2}" = "0"; then
  echo "hw-test: rauc: no valid environment copy, using defaults"
  setenv hb_cur 0
  setenv hb_fcur 0
else
  if test "${hb_cur}" = "1"; then setenv hb_addr ${hb_a1}; setenv hb_fcur ${hb_f1}; else setenv hb_addr ${hb_a2}; setenv hb_fcur ${hb_f2}; fi
  run hb_check
  env import -c ${hb_tmp} 0x3fff BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT
fi

test -n "${BOOT_ORDER}" || setenv BOOT_ORDER "A B"
test -n "${BOOT_A_LEFT}" || setenv BOOT_A_LEFT 3
test -n "${BOOT_B_LEFT}" || setenv BOOT_B_LEFT 3

setenv hb_slot
setenv hb_altboot
for BOOT_SLOT in "${BOOT_ORDER}"; do
  if test -n "${hb_slot}"; then
    # skip the remaining slots
  elif test "${BOOT_SLOT}" = "A"; then
    if test ${BOOT_A_LEFT} -gt 0; then
      setenv hb_slot A
      # BEGIN fallback (the rauc-no-fallback variant drops this line: no attempt is ever counted)
      setexpr BOOT_A_LEFT ${BOOT_A_LEFT} - 1
      # END fallback
      setenv hb_left ${BOOT_A_LEFT}
    else
      echo "hw-test: rollback-altboot slot=A has no attempts left"
      setenv hb_altboot 1
    fi
  elif test "${BOOT_SLOT}" = "B"; then
    if test ${BOOT_B_LEFT} -gt 0; then
      setenv hb_slot B
      # BEGIN fallback
      setexpr BOOT_B_LEFT ${BOOT_B_LEFT} - 1
      # END fallback
      setenv hb_left ${BOOT_B_LEFT}
    else
      echo "hw-test: rollback-altboot slot=B has no attempts left"
      setenv hb_altboot 1
    fi
  fi
done

if test -z "${hb_slot}"; then
  echo "hw-test: rauc: no slot with attempts left, resetting them to 3"
  setenv BOOT_A_LEFT 3
  setenv BOOT_B_LEFT 3
  setenv hb_slot A
  setexpr BOOT_A_LEFT ${BOOT_A_LEFT} - 1
  setenv hb_left ${BOOT_A_LEFT}
fi

# Save into the copy not in use, with flags + 1: [CRC][flags][data], the CRC over the data.
setexpr hb_fnew ${hb_fcur} + 1
if test "${hb_fnew}" = "100"; then setenv hb_fnew 0; fi
if env export -c -s 0x3fff ${hb_tmp} BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT; then
  cp.b ${hb_tmp} ${hb_out} 4
  setexpr hb_p ${hb_out} + 4
  mw.b ${hb_p} ${hb_fnew} 1
  setexpr hb_p ${hb_out} + 5
  setexpr hb_q ${hb_tmp} + 4
  cp.b ${hb_q} ${hb_p} 0x3ffb
  if test "${hb_cur}" = "1"; then
    fatwrite ${hb_bootdev} ${hb_out} uboot2.env 0x4000
  else
    fatwrite ${hb_bootdev} ${hb_out} uboot.env 0x4000
  fi
else
  echo "hw-test: env export failed, the attempt is not counted"
fi

if test "${hb_slot}" = "B"; then setenv hb_rootpart 3; else setenv hb_rootpart 2; fi
setenv hb_altbootarg
if test -n "${hb_altboot}"; then setenv hb_altbootarg hwtest.altboot=1; fi
echo "hw-test: bootloader slot=${hb_slot} trial=1 left=${hb_left} order=${BOOT_ORDER}"
setenv bootargs "console=ttyAMA0,115200 root=/dev/vda${hb_rootpart} ro rauc.slot=${hb_slot} hwtest.slot=${hb_slot} ${hb_altbootarg} @KERNEL_ARGS@"

if load ${devtype} ${devnum}:${hb_rootpart} ${kernel_addr_r} /boot/vmlinuz; then
  if load ${devtype} ${devnum}:${hb_rootpart} ${ramdisk_addr_r} /boot/initrd.img; then
    bootz ${kernel_addr_r} ${ramdisk_addr_r}:${filesize} ${fdtcontroladdr}
  fi
fi
echo "hw-test: boot of slot ${hb_slot} failed, resetting"
sleep 1
reset
