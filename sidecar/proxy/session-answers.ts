// Requests forwarded by POST on a Streamable HTTP session whose own response ended before their
// answer came: the server may still answer them on the session's GET stream (a stream resumed with
// Last-Event-ID replays them, or the standalone GET stream carries them). They are kept per session
// (the mcp-session-id header), bounded and for a limited time, so that answers on a GET stream are
// checked like answers on a POST stream: a response must answer a request forwarded in that session.
import { LRUCache } from "lru-cache";
import { idKey, type AnswerSet, type PendingRequest, type PendingRequests } from "./pending.ts";

export interface SessionAnswersLimits {
  maxSessions: number;
  maxPerSession: number;
  ttlMs: number;
}

export const DEFAULT_SESSION_ANSWERS: SessionAnswersLimits = { maxSessions: 10_000, maxPerSession: 1_000, ttlMs: 10 * 60_000 };

type Parked = LRUCache<string, PendingRequest>;

export class SessionAnswers {
  readonly #limits: SessionAnswersLimits;
  readonly #sessions: LRUCache<string, Parked>;

  constructor(limits: SessionAnswersLimits = DEFAULT_SESSION_ANSWERS) {
    this.#limits = limits;
    // A session dropped (evicted, expired, ended) takes its unanswered requests with it.
    this.#sessions = new LRUCache<string, Parked>({ max: limits.maxSessions, ttl: limits.ttlMs, updateAgeOnGet: true, dispose: (parked) => abandonAll(parked) });
  }

  /** Keeps what `pending` has not been answered yet (moved out of it) for the session's GET stream. */
  park(sessionId: string, pending: PendingRequests): void {
    const left = pending.drain();
    if (left.length === 0) return;
    let parked = this.#sessions.get(sessionId);
    if (parked === undefined) {
      parked = new LRUCache<string, PendingRequest>({
        max: this.#limits.maxPerSession,
        ttl: this.#limits.ttlMs,
        ttlAutopurge: true,
        // Answered ("delete") is not abandoned; evicted, expired or replaced by a reused id is.
        dispose: (request, _key, reason) => {
          if (reason !== "delete") request.abandoned?.();
        },
      });
      this.#sessions.set(sessionId, parked);
    }
    for (const [key, request] of left) parked.set(key, request);
  }

  /** The requests of a session an answer on its GET stream may answer (looked up at each answer). */
  answersFor(sessionId: string): AnswerSet {
    return {
      take: (id: unknown): PendingRequest | undefined => {
        if (typeof id !== "string" && typeof id !== "number") return undefined;
        const parked = this.#sessions.get(sessionId);
        const key = idKey(id);
        const found = parked?.get(key);
        if (found !== undefined) parked?.delete(key);
        return found;
      },
    };
  }

  /** Takes these requests (by `idKey`) out of the session unanswered, returning those still waiting. */
  forget(sessionId: string, keys: readonly string[]): PendingRequest[] {
    const parked = this.#sessions.get(sessionId);
    const found: PendingRequest[] = [];
    for (const key of keys) {
      const request = parked?.get(key);
      if (request === undefined) continue;
      parked?.delete(key);
      found.push(request);
    }
    return found;
  }

  /** The session ended (DELETE): its unanswered requests will not be answered. */
  end(sessionId: string): void {
    this.#sessions.delete(sessionId);
  }
}

function abandonAll(parked: Parked): void {
  const requests = [...parked.values()];
  parked.clear();
  for (const request of requests) request.abandoned?.();
}
