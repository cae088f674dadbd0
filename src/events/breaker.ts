/**
 * A circuit breaker per webhook endpoint, in each worker process. A receiver
 * that hangs (accepts the connection and never answers, or never completes
 * it) keeps its delivery slots busy for WEBHOOK_TIMEOUT_MS per attempt, for
 * as long as it has a backlog. After BREAKER_THRESHOLD attempts in a row that
 * timed out the circuit opens: the endpoint gets no slot for a cool-down
 * (30 s, doubling up to 5 min while it stays broken); then one probe goes out
 * (half-open), and the first attempt that does not time out closes it again.
 * Deliveries wait meanwhile; nothing is dropped, and no attempt is spent
 * against the retry schedule. Failures that come back at once (connection
 * refused, 5xx) hold no slot for long; the retry schedule paces those.
 */
export const BREAKER_THRESHOLD = 5;
export const BREAKER_COOLDOWN_MS = 30_000;
export const BREAKER_MAX_COOLDOWN_MS = 5 * 60_000;

interface State {
  failures: number;
  openUntil: number;
  cooldownMs: number;
}

export type BreakerChange = 'opened' | 'closed' | undefined;

export class EndpointBreakers {
  readonly #states = new Map<string, State>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Record whether an attempt timed out. Returns 'opened' when this attempt opened the circuit and 'closed' when it closed it. */
  record(endpointId: string, timedOut: boolean): BreakerChange {
    const s = this.#states.get(endpointId);
    if (!timedOut) {
      if (!s) return undefined;
      this.#states.delete(endpointId);
      return s.openUntil ? 'closed' : undefined;
    }
    const state = s ?? { failures: 0, openUntil: 0, cooldownMs: 0 };
    this.#states.set(endpointId, state);
    state.failures++;
    // A failed probe (half-open) reopens at once with a longer cool-down; otherwise open at the threshold.
    if (state.openUntil ? this.now() >= state.openUntil : state.failures >= BREAKER_THRESHOLD) {
      state.cooldownMs = state.cooldownMs ? Math.min(state.cooldownMs * 2, BREAKER_MAX_COOLDOWN_MS) : BREAKER_COOLDOWN_MS;
      state.openUntil = this.now() + state.cooldownMs;
      return 'opened';
    }
    return undefined;
  }

  /** Delivery slots the endpoint may use now: `cap` when closed, 0 while open, 1 (a probe) once the cool-down is over. */
  slots(endpointId: string, cap: number): number {
    const s = this.#states.get(endpointId);
    if (!s?.openUntil) return cap;
    return this.now() < s.openUntil ? 0 : 1;
  }

  /** Endpoints with an open or half-open circuit (their slots differ from the cap). */
  *limited(): Iterable<string> {
    for (const [id, s] of this.#states) if (s.openUntil) yield id;
  }

  get openCount(): number {
    let n = 0;
    for (const s of this.#states.values()) if (s.openUntil && this.now() < s.openUntil) n++;
    return n;
  }
}
