/**
 * A typed, in-process event bus. Lower layers report upward through it (the directory tells the registrar an
 * extension's credentials changed; the engine will tell the contact center a call ended). A listener that throws
 * is caught and reported to the bus's error sink: it can never crash the publisher or starve other listeners.
 */
import type { DomainEvents } from './types.ts';

type Listener<P> = (payload: P) => void | Promise<void>;

export class EventBus<Events extends { [K in keyof Events]: object }> {
  private readonly listeners = new Map<keyof Events, Set<Listener<never>>>();

  constructor(private readonly onListenerError: (err: unknown, event: keyof Events) => void = () => {}) {}

  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener as Listener<never>);
    return () => this.off(event, listener);
  }

  off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): void {
    this.listeners.get(event)?.delete(listener as Listener<never>);
  }

  /** Calls every listener of the event; an error or rejected promise of one is reported, never thrown. */
  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        const result = (listener as Listener<Events[K]>)(payload);
        if (result instanceof Promise) result.catch((err: unknown) => this.onListenerError(err, event));
      } catch (err) {
        this.onListenerError(err, event);
      }
    }
  }

  listenerCount(event: keyof Events): number {
    return this.listeners.get(event)?.size ?? 0;
  }

  removeAllListeners(): void {
    this.listeners.clear();
  }
}

export type PbxEventBus = EventBus<DomainEvents>;
