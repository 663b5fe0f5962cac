import { InputError } from '../errors.js';
import { overlaps } from '../net/subnet.js';

/**
 * The board's access point in the lab file (`boards.<name>.wifi`). Either the rig's own
 * (`apInterface`: hostapd with an SSID and passphrase made for each run, on `band`/`channel`, in
 * `countryCode`'s regulatory domain), or the lab's (`ssid`: fixed mode, passphrase from
 * HW_TEST_WIFI_PSK, on `subnet` where this host is `rigAddress`). A virtual board's AP radio is
 * always simulated in the board: it takes `ssid` (to play the lab's AP) or nothing. Its keys are
 * in boards/schema/lab.base.schema.json (not a driver: the rig runs the same AP whatever powers
 * the board).
 */
export interface WifiSpec {
  apInterface?: string;
  countryCode?: string;
  band?: '2.4GHz' | '5GHz';
  channel?: number;
  ssid?: string;
  bssid?: string;
  subnet?: string;
  rigAddress?: string;
}

/** Channels by band (IEEE 802.11: 2.4 GHz 1-14, 5 GHz 32-177). */
const CHANNELS = { '2.4GHz': [1, 14], '5GHz': [32, 177] } as const;

/**
 * The rules across the entry's keys the schema cannot say in one line. `virtual`: the board is a
 * simulated one (its power driver stands for a whole simulated board).
 */
export function checkWifi(o: {
  file: string;
  name: string;
  wifi: WifiSpec;
  virtual: boolean;
  docs: string;
}): void {
  const { file, wifi: w, virtual } = o;
  const at = `boards.${o.name}.wifi`;
  const bad = (field: string, why: string) =>
    new InputError(`${file}: ${at}.${field}: ${why}; see ${o.docs}`, { file, field: `${at}.${field}` });
  const own = (['apInterface', 'countryCode', 'band', 'channel'] as const).filter((k) => w[k] !== undefined);
  const lab = (['ssid', 'bssid', 'subnet', 'rigAddress'] as const).filter((k) => w[k] !== undefined);
  if (w.apInterface && w.ssid)
    throw bad('ssid', "give apInterface (the rig's own AP) or ssid (the lab's AP), not both");
  if (virtual && own.length)
    throw bad(
      own[0],
      "a virtual board's AP radio is simulated in the board itself: drop it (or give ssid to play a lab's AP)",
    );
  if (virtual && w.bssid)
    throw bad('bssid', "a virtual board's simulated AP has its radio's own BSSID: drop it");
  if (!virtual && !w.apInterface && !w.ssid)
    throw bad('apInterface', "name the rig's WiFi interface for hostapd, or give ssid for the lab's own AP");
  if (w.apInterface && lab.length)
    throw bad(lab[0], "only for the lab's own AP (ssid), not with apInterface");
  if (w.ssid && own.length) throw bad(own[0], "only for the rig's own AP (apInterface), not with ssid");
  if (w.ssid && (!w.subnet || !w.rigAddress))
    throw bad(
      w.subnet ? 'rigAddress' : 'subnet',
      "the lab's AP needs its subnet and this host's address on it",
    );
  if (w.subnet && w.rigAddress && !overlaps(w.subnet, w.rigAddress))
    throw bad('rigAddress', `${w.rigAddress} is not in ${w.subnet}`);
  // The world regulatory domain allows no access point on 5 GHz: hostapd needs the country.
  if (w.band === '5GHz' && !w.countryCode)
    throw bad(
      'countryCode',
      'a 5GHz access point needs the regulatory domain: give the country code, e.g. DE',
    );
  if (w.channel !== undefined) {
    const [lo, hi] = CHANNELS[w.band ?? '2.4GHz'];
    if (w.channel < lo || w.channel > hi)
      throw bad('channel', `${w.channel} is not a ${w.band ?? '2.4GHz'} channel (${lo} to ${hi})`);
  }
}
