/** Event name → the arguments its listeners get (an interface like `{ message: [m: Message] }`). */
export type EventMap<E> = { [K in keyof E]: unknown[] };
export type Listener<A extends unknown[]> = (...args: A) => void;

/**
 * A minimal typed event emitter that runs in browsers and Node alike (`on`, `once`, `off`).
 * Listeners run synchronously in the order they were added. A listener that throws never
 * reaches the caller of `emit` (which is a socket handler): the exception goes to `onThrow`,
 * and the remaining listeners still run.
 */
export class Emitter<E extends EventMap<E>> {
  private readonly listeners = new Map<keyof E, Set<Listener<any>>>();

  constructor(private readonly onThrow: (err: unknown, event: keyof E) => void) {}

  on<K extends keyof E>(event: K, fn: Listener<E[K]>): this {
    let set = this.listeners.get(event);
    if (set === undefined) this.listeners.set(event, (set = new Set()));
    set.add(fn);
    return this;
  }

  /** Like `on`, removed after its first call. `off(event, fn)` with the same `fn` removes it before that. */
  once<K extends keyof E>(event: K, fn: Listener<E[K]>): this {
    const wrapped: Listener<E[K]> & { inner?: Listener<E[K]> } = (...args) => {
      this.off(event, wrapped);
      fn(...args);
    };
    wrapped.inner = fn;
    return this.on(event, wrapped);
  }

  off<K extends keyof E>(event: K, fn: Listener<E[K]>): this {
    const set = this.listeners.get(event);
    if (set === undefined) return this;
    if (!set.delete(fn)) {
      for (const l of set) if ((l as { inner?: unknown }).inner === fn) set.delete(l);
    }
    return this;
  }

  /** Calls every listener of `event`; returns whether there was one. Never throws. */
  emit<K extends keyof E>(event: K, ...args: E[K]): boolean {
    const set = this.listeners.get(event);
    if (set === undefined || set.size === 0) return false;
    for (const fn of [...set]) {
      try {
        fn(...args);
      } catch (err) {
        this.onThrow(err, event);
      }
    }
    return true;
  }
}
