/** A value that tells its subscribers when it changes: the tiny reactive core of the app. */
export class Observable<T> {
  private listeners = new Set<(value: T) => void>();

  constructor(private current: T) {}

  /** The value now. */
  get(): T {
    return this.current;
  }

  /** Replace the value and notify subscribers (nothing happens when it is the same object). */
  set(value: T): void {
    if (Object.is(value, this.current)) return;
    this.current = value;
    for (const listener of [...this.listeners]) listener(value);
  }

  /** Call `listener` on every change; returns the unsubscribe function. */
  subscribe(listener: (value: T) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
