/** A minimal typed event emitter: the training loop emits, listeners (progress bar, storage, live stream) listen. */
export class TypedEmitter<Events extends { [K in keyof Events]: unknown }> {
  private readonly handlers = new Map<keyof Events, Array<(payload: never) => void>>();

  on<K extends keyof Events>(event: K, handler: (payload: Events[K]) => void): this {
    const list = this.handlers.get(event) ?? [];
    list.push(handler as (payload: never) => void);
    this.handlers.set(event, list);
    return this;
  }

  off<K extends keyof Events>(event: K, handler: (payload: Events[K]) => void): this {
    const list = this.handlers.get(event);
    if (list) this.handlers.set(event, list.filter((h) => h !== handler));
    return this;
  }

  protected emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    for (const handler of this.handlers.get(event) ?? []) (handler as (p: Events[K]) => void)(payload);
  }
}
