/**
 * The one list of what the server has opened, in the order it closes: each part is added as it is started and the
 * list closes in reverse, so a start that fails half way closes what it opened exactly as a stop does.
 *
 * A part that must outlive one started before it, because it takes what that one's close produces, is added
 * `after` it and closes right after it instead of before: the contact center writes the calls the engine's close
 * ends, and the recordings file what the relay's close finishes.
 *
 * Every close is awaited, one at a time; a close that fails is logged and the rest still close. Closing twice
 * closes once.
 */
import type { Logger } from 'pino';

interface Closer {
  name: string;
  close: () => Promise<unknown> | unknown;
}

export class Closers {
  /** In closing order: the first closes first. */
  private readonly list: Closer[] = [];
  private closing: Promise<unknown[]> | undefined;

  constructor(private readonly logger: Logger) {}

  /**
   * Adds a part just started, to close before everything added so far, or right after `options.after` (a part
   * already added) when it must outlive that one.
   */
  add(name: string, close: () => Promise<unknown> | unknown, options: { after?: string } = {}): void {
    if (this.closing) throw new Error(`Closers.add: ${name} was started while the server closes`);
    if (this.list.some((c) => c.name === name)) throw new Error(`Closers.add: ${name} is already added`);
    if (options.after === undefined) {
      this.list.unshift({ name, close });
      return;
    }
    const at = this.list.findIndex((c) => c.name === options.after);
    if (at < 0) throw new Error(`Closers.add: ${name} is to close after ${options.after}, which was not added`);
    this.list.splice(at + 1, 0, { name, close });
  }

  /** The parts in the order they close. */
  get names(): string[] {
    return this.list.map((c) => c.name);
  }

  /** Closes every part once, in order; answers the errors of those that failed (each already logged). */
  close(): Promise<unknown[]> {
    this.closing ??= (async () => {
      const failures: unknown[] = [];
      for (const { name, close } of this.list) {
        const started = performance.now();
        try {
          await close();
          const ms = Math.round(performance.now() - started);
          // A stop that a process manager may cut short says which part held it up.
          if (ms >= 2000) this.logger.warn({ part: name, ms }, 'server:close slow');
          else this.logger.debug({ part: name, ms }, 'server:closed');
        } catch (err) {
          failures.push(err);
          this.logger.error({ err, part: name }, 'server:close failed');
        }
      }
      return failures;
    })();
    return this.closing;
  }
}
