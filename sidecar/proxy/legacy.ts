// The legacy HTTP+SSE transport (MCP 2024-11-05): the agent holds a GET stream and POSTs to the
// endpoint the server announces on it. The sidecar announces its own endpoint (a session id of its
// own, never the upstream's URL), forwards POSTs to the upstream's endpoint, and delivers refusals
// on the stream where the agent expects every answer. The requests forwarded in a session wait for
// their answers on its stream within the limits of a Streamable HTTP session's (bounded, for a
// limited time); an allowed call still unanswered when it is dropped or the stream ends records no_answer.
import { randomUUID } from "node:crypto";
import type { ServerResponse } from "node:http";
import type { Dispatcher } from "undici";
import { formatSseEvent } from "../mcp/sse.ts";
import type { AnswerSet, PendingRequests } from "./pending.ts";
import { rewriteEvent, streamEvents, write } from "./relay.ts";
import { DEFAULT_SESSION_ANSWERS, SessionAnswers, type SessionAnswersLimits } from "./session-answers.ts";
import type { Upstream } from "./upstream.ts";

export interface LegacySession {
  id: string;
  upstream: Upstream;
  /** Path and query of the upstream's message endpoint, once announced. */
  endpoint: string | undefined;
  res: ServerResponse;
}

export class LegacySessions {
  readonly #sessions = new Map<string, LegacySession>();
  readonly #answers: SessionAnswers;

  constructor(limits: SessionAnswersLimits = DEFAULT_SESSION_ANSWERS) {
    this.#answers = new SessionAnswers(limits);
  }

  get(id: string | null): LegacySession | undefined {
    return id === null ? undefined : this.#sessions.get(id);
  }

  /** Relays an upstream SSE stream (already answered 200) and tracks the session until it ends. */
  async open(upstream: Upstream, up: Dispatcher.ResponseData, res: ServerResponse, maxEventBytes: number, onDropped: (message: string) => void): Promise<void> {
    const session: LegacySession = { id: randomUUID(), upstream, endpoint: undefined, res };
    const origin = upstream.sse?.origin as string;
    const base = `${origin}${upstream.sse?.path ?? "/"}`;
    this.#sessions.set(session.id, session);
    res.on("close", () => {
      this.#sessions.delete(session.id);
      this.#answers.end(session.id);
      up.body.destroy();
    });
    const plan = { pending: this.answersFor(session), onDroppedEvent: onDropped };
    await streamEvents(up, res, maxEventBytes, (event) => {
      if (event.event !== "endpoint") return rewriteEvent(event, plan);
      let target: URL;
      try {
        target = new URL((event.data ?? "").trim(), base);
      } catch {
        onDropped("upstream announced an endpoint that is not a URL");
        return null;
      }
      if (target.origin !== origin) {
        onDropped(`upstream announced an endpoint on another origin (${target.origin}); not followed`);
        return null;
      }
      session.endpoint = `${target.pathname}${target.search}`;
      return formatSseEvent(`/mcp/${upstream.name}/messages?session=${session.id}`, "endpoint");
    });
  }

  /**
   * Keeps a POST's requests (moved out of `pending`) for their answers on the session's stream, if
   * it is still open; returns their keys (none when the stream had ended and they were abandoned).
   */
  expect(session: LegacySession, pending: PendingRequests): string[] {
    if (this.#sessions.get(session.id) !== session) {
      for (const [, request] of pending.drain()) request.abandoned?.();
      return [];
    }
    const keys = pending.keys();
    this.#answers.park(session.id, pending);
    return keys;
  }

  /** The upstream refused the POST that carried these requests: no answer will come for them. */
  refused(session: LegacySession, keys: readonly string[], outcome: string): void {
    for (const request of this.#answers.forget(session.id, keys)) request.abandoned?.(outcome);
  }

  /** The requests of a session an answer may answer. */
  answersFor(session: LegacySession): AnswerSet {
    return this.#answers.answersFor(session.id);
  }

  /** Delivers sidecar-made answers on the session's stream. */
  async deliver(session: LegacySession, messages: readonly object[]): Promise<void> {
    for (const message of messages) await write(session.res, formatSseEvent(JSON.stringify(message)));
  }
}
