/**
 * A small per-process cache of credential look-ups (misses included, so
 * guessing costs no query per attempt while an entry lives). Entries live
 * `ttlMs`; beyond `max` entries the cache starts over.
 */
export class TtlCache<V> {
  readonly #entries = new Map<string, { value: V; until: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly max = 10_000,
  ) {}

  /** `{ value }` when a fresh entry exists (value may be undefined: a cached miss), else undefined. */
  get(key: string, now = Date.now()): { value: V } | undefined {
    const e = this.#entries.get(key);
    return e && e.until >= now ? e : undefined;
  }

  set(key: string, value: V, now = Date.now()): void {
    if (this.#entries.size >= this.max) this.#entries.clear();
    this.#entries.set(key, { value, until: now + this.ttlMs });
  }

  clear(): void {
    this.#entries.clear();
  }
}

/** Records a credential's last use at most once a minute per process (a write per request would be a write per request). */
export class UseRecorder {
  readonly #touched = new Map<string, number>();
  constructor(private readonly intervalMs = 60_000) {}

  /** Whether `id`'s use should be written now (and remember that it was). */
  due(id: string, now = Date.now()): boolean {
    if (now - (this.#touched.get(id) ?? 0) <= this.intervalMs) return false;
    if (this.#touched.size >= 10_000) this.#touched.clear();
    this.#touched.set(id, now);
    return true;
  }

  /** Whether a write would be due, without recording one. */
  isDue(id: string, now = Date.now()): boolean {
    return now - (this.#touched.get(id) ?? 0) > this.intervalMs;
  }
}
