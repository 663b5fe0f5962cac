import { InfraError } from '../errors.js';
import { logger } from '../log.js';
import { throwIfAborted } from '../util/abort.js';
import type { MuxState, SdMux } from '../sdmux/sd-mux.js';

const log = logger('sdmux:card-slot');

/**
 * The mux of a virtual flasher board without a lab file: the card (a disk image file) is in the
 * board's slot, on the host, or out. QEMU reads `cardIn` at each power on, as a board reads its
 * slot at reset; moving the card under a running board is refused, as a real mux's power rule.
 */
export class VirtualCardSlot implements SdMux {
  #state: MuxState = 'off';

  constructor(
    readonly name: string,
    /** The card: the image file the flasher writes while the card is on the host. */
    readonly hostDevice: string,
    private readonly boardRunning: () => boolean,
  ) {}

  get cardIn(): boolean {
    return this.#state === 'board';
  }

  #move(to: MuxState, signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    if (to !== this.#state && this.boardRunning()) {
      return Promise.reject(
        new InfraError(`${this.name}: the board is running; power it off before moving the card to ${to}`, {
          device: this.hostDevice,
        }),
      );
    }
    this.#state = to;
    log('%s: card -> %s', this.name, to);
    return Promise.resolve();
  }

  toHost(signal?: AbortSignal): Promise<void> {
    return this.#move('host', signal);
  }

  toBoard(signal?: AbortSignal): Promise<void> {
    return this.#move('board', signal);
  }

  off(signal?: AbortSignal): Promise<void> {
    return this.#move('off', signal);
  }

  state(): Promise<MuxState> {
    return Promise.resolve(this.#state);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
