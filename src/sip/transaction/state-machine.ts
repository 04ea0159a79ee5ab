/**
 * What transactions (and the calls above them) share: a state from a written-down table of legal moves, timers
 * that die with the machine, and listeners told once when it reaches its final state. An illegal move throws
 * {@link InvalidStateError}.
 */
export class InvalidStateError extends Error {
  override readonly name = 'InvalidStateError';
}

export abstract class StateMachine<S extends string> {
  private readonly timers = new Set<NodeJS.Timeout>();
  private finalListeners: Array<() => void> = [];

  protected constructor(
    public state: S,
    private readonly legal: Record<S, readonly S[]>,
    private readonly finalState: S,
    private readonly what: string,
  ) {}

  protected moveTo(next: S): void {
    if (!this.legal[this.state].includes(next)) throw new InvalidStateError(`${this.what} cannot go from ${this.state} to ${next}`);
    this.state = next;
    if (next === this.finalState) {
      this.clearTimers();
      const listeners = this.finalListeners;
      this.finalListeners = [];
      for (const l of listeners) l();
    }
  }

  /** Runs `fire` after `ms` unless the machine has ended by then. */
  protected after(ms: number, fire: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (this.state !== this.finalState) fire();
    }, ms);
    t.unref();
    this.timers.add(t);
  }

  protected clearTimers(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  /** Told once, when the final state is reached (at once if it already has been). */
  onTerminated(listener: () => void): void {
    if (this.state === this.finalState) listener();
    else this.finalListeners.push(listener);
  }

  /** Ends the machine at once, from any state (every table allows it). */
  terminate(): void {
    if (this.state !== this.finalState) this.moveTo(this.finalState);
  }
}
