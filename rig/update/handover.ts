import type { BootSession } from '../suite-api/contracts.js';
import type { BoardType } from '../catalog/board.js';
import { failurePatterns } from '../catalog/board.js';
import type { Console, ConsoleLine } from '../console/console.js';

/**
 * Hands the boots this suite follows over to the boot session. The session matches its stage
 * markers from the console's cursor, and `expectReboot` moves that cursor to the end of what was
 * received: called at a reset line it can be too late (on U-Boot boards the next banner follows the
 * kernel's "Restarting system" within milliseconds). So the session is armed *before* a boot that
 * is expected to end (when the update switches slots, at each attempt of a slot that is not the
 * one awaited), and the final boot is checked: if the session would first meet a stale bootloader
 * marker or a failure of an earlier boot, the board is power-cycled for a clean boot instead.
 */
export class BootHandover {
  /** Console line index from which the session is known to watch. */
  #armedAt: number | undefined;
  readonly #bootloader: RegExp;
  readonly #fatal: RegExp[];

  constructor(
    private readonly console: Pick<Console, 'lines'>,
    private readonly boot: Pick<BootSession, 'expectReboot'>,
    type: Pick<BoardType, 'markers' | 'failurePatterns'>,
  ) {
    this.#bootloader = new RegExp(type.markers.bootloader, 'm');
    this.#fatal = failurePatterns(type as BoardType)
      .filter((p) => p.severity === 'fatal')
      .map((p) => p.pattern);
  }

  /** Arms the session for the next boot; whatever was received so far is behind it. */
  arm(): void {
    // The unfinished line (not in `lines` yet) is skipped too: count it as lost.
    this.#armedAt = this.console.lines.length + 1;
    this.boot.expectReboot();
  }

  /**
   * Whether the session, armed earlier, will meet this boot's stages first: its first bootloader
   * marker after the arm point belongs to the final boot (after `prevEnd`, the last line of the
   * boot before), with no fatal failure in between.
   */
  aligned(prevEnd: number, finalAttempt: number): boolean {
    if (this.#armedAt === undefined) return false;
    const lines: readonly ConsoleLine[] = this.console.lines;
    for (let i = this.#armedAt; i <= finalAttempt && i < lines.length; i++) {
      const text = lines[i].text;
      if (this.#fatal.some((p) => p.test(text))) return false;
      if (this.#bootloader.test(text)) return i > prevEnd;
    }
    return false;
  }
}
