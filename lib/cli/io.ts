/**
 * The process streams a command works with, and the stderr status writer shared by the commands:
 * messages on their own lines, and on a terminal one progress line kept at the bottom.
 */
import type { Readable, Writable } from 'node:stream';

/** The process streams a command uses (passed in, so the commands do not reach for globals). */
export interface CommandIo {
  stdin: Readable & { isTTY?: boolean };
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean };
}

/** ANSI "erase to end of line" (ECMA-48 EL). */
const ERASE_LINE = '\x1b[K';

/**
 * Writes status lines to stderr. On a terminal the progress line is redrawn in place (carriage
 * return, no newline) and erased before any other line; on a pipe or file every progress update
 * is a line of its own, so a log keeps them all and never sees control characters.
 */
export class StatusLine {
  private shown = false;

  constructor(private readonly stderr: CommandIo['stderr'], private readonly quiet: boolean) {}

  /** An informational line, suppressed by --quiet. */
  info(text: string): void {
    if (!this.quiet) this.error(text);
  }

  /** A line that is always shown. */
  error(text: string): void {
    this.clear();
    this.stderr.write(`${text}\n`);
  }

  /** Replaces the progress line (terminal) or adds one (pipe). */
  progress(text: string): void {
    if (this.stderr.isTTY === true) {
      this.stderr.write(`\r${text}${ERASE_LINE}`);
      this.shown = true;
    } else {
      this.stderr.write(`${text}\n`);
    }
  }

  /** Erases the progress line, if one is shown, before other output lands on the terminal. */
  clear(): void {
    if (!this.shown) return;
    this.stderr.write(`\r${ERASE_LINE}`);
    this.shown = false;
  }
}
