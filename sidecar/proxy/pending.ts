// The requests a response may answer: each forwarded request's id, answered at most once, plus
// what to do with its answer (filter a tools/list, note a negotiated protocol version).
import type { JsonRpcId } from "../mcp/jsonrpc.ts";

export interface PendingRequest {
  method: string;
  /** For tools/list: which tool names the caller may see. */
  visible?: (toolName: string) => boolean;
  /** For tools/list: told the result's `tools` array as the upstream sent it (before filtering). */
  listed?: (tools: readonly unknown[]) => void;
  /** For an allowed tools/call: told how the upstream answered it (for the outcome audit record). */
  answered?: (outcome: AnswerOutcome) => void;
  /**
   * For an allowed tools/call kept for a session's stream: told when no answer will come (expired,
   * evicted, session ended: `no_answer`; the upstream refused the POST that carried it: `http_<status>`).
   */
  abandoned?: (outcome?: string) => void;
}

/** A result, a result with `isError: true`, or a JSON-RPC error. */
export type AnswerOutcome = "ok" | "tool_error" | "rpc_error";

export const idKey = (id: JsonRpcId): string => (typeof id === "string" ? `s:${id}` : `n:${id}`);

/** Where an answer looks up the request it answers. */
export interface AnswerSet {
  take(id: unknown): PendingRequest | undefined;
}

/** Where nothing can be answered: a stream with no forwarded request behind it. */
export const NO_ANSWERS: AnswerSet = { take: () => undefined };

export class PendingRequests implements AnswerSet {
  readonly #byId = new Map<string, PendingRequest>();

  add(id: JsonRpcId, request: PendingRequest): void {
    this.#byId.set(idKey(id), request);
  }

  get size(): number {
    return this.#byId.size;
  }

  /** Returns and forgets the request an answer belongs to; undefined when it answers nothing we sent. */
  take(id: unknown): PendingRequest | undefined {
    if (typeof id !== "string" && typeof id !== "number") return undefined;
    const key = idKey(id);
    const found = this.#byId.get(key);
    this.#byId.delete(key);
    return found;
  }

  /** The `idKey` of every request not answered yet. */
  keys(): string[] {
    return [...this.#byId.keys()];
  }

  /** Returns and forgets every request not answered yet (keyed by `idKey`). */
  drain(): Array<[string, PendingRequest]> {
    const left = [...this.#byId];
    this.#byId.clear();
    return left;
  }
}
