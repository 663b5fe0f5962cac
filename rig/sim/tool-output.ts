/**
 * What the rig's tools print, success and failure, replayed by the driver tests through a
 * fake spawner (rig/sim/spawner.ts). Each text is taken from the tool's source (cited) or its documentation.
 */

/** linux-automation/usbsdmux usbsdmux/__main__.py: `get` prints ctl.get_mode(); switching prints nothing. */
export const USBSDMUX = {
  getHost: 'host\n',
  getDut: 'dut\n',
  getOff: 'off\n',
  /** usbsdmux/usbsdmux.py autoselect_driver + __main__.py, for a /dev/sg that is no mux. */
  notAMux:
    'Could not determine type of USB-SD-Mux. Does /sys/class/scsi_generic/sg9/device/model exist?\n' +
    'Does /dev/sg9 really point to a USB-SD-Mux?\n',
  /** __main__.py: `except PermissionError as perr: error_msg = str(perr)` */
  permission: "[Errno 13] Permission denied: '/dev/sg2'\n",
  /** Debian bookworm's usbsdmux 0.2.1, run on this machine: a missing /dev/sg, and a path that is no SCSI device. */
  missingSg: "[Errno 2] No such file or directory: '/dev/sg9'\n",
  notScsi: "[Errno 25] Inappropriate ioctl for device\nDoes '/dev/null' really point to an USB-SD-Mux?\n",
};

/** tizen sd-mux src/main.cpp (showStatus, openDevice); status text as in Dasharo's SDWire docs. */
export const SDMUX_CTRL = {
  statusTs: 'SD connected to: TS\n',
  statusDut: 'SD connected to: DUT\n',
  /** A fork's wording (gilatoes/sd-mux-ctrl src/main.cpp). */
  statusHostFork: 'SD connected to: Host\n',
  /** libftdi's ftdi_usb_open_desc_index returns -3 "device not found" for an unknown serial. */
  notFound: 'Unable to open ftdi device: -3 (device not found)\n',
};

/** mvp/uhubctl uhubctl.c main(), print_port_status(); hub description from get_device_description(). */
export const UHUBCTL = {
  hub: '1-1.3',
  desc: '2109:2817 VIA Labs, Inc. USB2.0 Hub, USB 2.10, 4 ports, ppps',
  status(port: number, on: boolean): string {
    return `Current status for hub ${this.hub} [${this.desc}]\n  Port ${port}: ${on ? '0503 power highspeed enable connect [0bda:8153 Realtek USB 10/100/1000 LAN 000001]' : '0000 off'}\n`;
  },
  switched(port: number, from: boolean, to: boolean): string {
    return (
      this.status(port, from) +
      `Sent power ${to ? 'on' : 'off'} request\n` +
      `New status for hub ${this.hub} [${this.desc}]\n  Port ${port}: ${to ? '0101 power connect [0bda:8153 Realtek USB 10/100/1000 LAN 000001]' : '0000 off'}\n`
    );
  },
  /** A port the hub does not have: uhubctl prints the hub header and no port line, exit 0. */
  noPort: 'Current status for hub 1-1.3 [2109:2817 VIA Labs, Inc. USB2.0 Hub, USB 2.10, 4 ports, ppps]\n',
  /** No hub at the location (uhubctl.c main, usb_find_hubs() <= 0), exit 1. */
  noHub: 'No compatible devices detected at location 1-9!\nRun with -h to get usage info.\n',
};

/** brgl/libgpiod tools (gpioget.c, gpioset.c, tools-common.c) for v2; v1 texts from the v1.6 tools. */
export const GPIOD = {
  versionV1:
    'gpioget (libgpiod) v1.6.3\nCopyright (C) 2017-2018 Bartosz Golaszewski\nLicense: LGPLv2.1\nThis is free software: you are free to change and redistribute it.\nThere is NO WARRANTY, to the extent permitted by law.\n',
  versionV2:
    'gpioget (libgpiod) v2.1.3\nCopyright (C) 2017-2023 Bartosz Golaszewski\nLicense: GPL-2.0-or-later\nThis is free software: you are free to change and redistribute it.\nThere is NO WARRANTY, to the extent permitted by law.\n',
  busyV1Set: 'gpioset: error setting the GPIO line values: Device or resource busy\n',
  busyV1Get: 'gpioget: error reading GPIO values: Device or resource busy\n',
  /** Debian's gpiod 1.6.3 on a host with no /dev/gpiochip0 (run on this machine). */
  noChipV1Set: 'gpioset: error setting the GPIO line values: No such file or directory\n',
  busyV2Set: 'gpioset: unable to request lines: Device or resource busy\n',
  outOfRangeV2: "gpioget: offset 99 is out of range on chip 'gpiochip0'\n",
  valueV2: '"17"=active\n',
  bannerV2: "Setting line '17'...\n",
};
