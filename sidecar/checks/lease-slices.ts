// The slices this process holds of one budget key, and the one request for more that may be in
// flight. Calls take from a slice synchronously; only a call that finds none waits, on the single
// refill of its key, so the controller sees one request per key at a time however many calls wait.
// Slices go back once the key has been idle a moment, and a refusal while other replicas still hold
// slices is retried for a moment, so calls parked in one replica reach the replicas that need them.
import type { LeasePort } from "./lease-budget.ts";

export interface Refill {
  leases: LeasePort;
  holder: string;
  sliceCalls: number;
  useFor: number;
  /** Slices of a key not taken from for this long are given back. */
  idleReturnMs: number;
  /** A ceiling refusal while other holders hold live slices is asked again for up to this long. */
  waitForReturnsMs: number;
  clock: () => number;
  onReturnError: (error: Error) => void;
}

export type Taken = { ok: true; release(): void };

const RETRY_MS = 100;
type Outcome = { ok: true } | { ok: false; code: string; message: string; minCost: number; shared: boolean };

class Slice {
  readonly id: string;
  calls: number;
  cost: number | null;
  usedCalls = 0;
  usedCost = 0;
  readonly usableUntil: number;
  timer: NodeJS.Timeout | undefined;
  given = false;

  constructor(id: string, calls: number, cost: number | null, usableUntil: number) {
    this.id = id;
    this.calls = calls;
    this.cost = cost;
    this.usableUntil = usableUntil;
  }

  serves(cost: number, now: number): boolean {
    return !this.given && now < this.usableUntil && this.calls >= 1 && (this.cost === null || this.cost >= cost);
  }
}

export class KeySlices {
  readonly #budget: string;
  readonly #key: string;
  readonly #refill: Refill;
  #slices: Slice[] = [];
  #pending: Promise<Outcome> | undefined;
  readonly #returning = new Set<Promise<void>>();
  #idle: NodeJS.Timeout | undefined;
  #closed = false;
  #token: string | undefined;

  constructor(budget: string, key: string, refill: Refill) {
    this.#budget = budget;
    this.#key = key;
    this.#refill = refill;
  }

  /** `token`: the capability token carrying a token ceiling; the latest one presented goes with the next request. */
  async take(cost: number, token?: string): Promise<Taken | { ok: false; code: string; message: string }> {
    if (token !== undefined) this.#token = token;
    for (;;) {
      const now = this.#refill.clock();
      const slice = this.#slices.find((s) => s.serves(cost, now));
      if (slice !== undefined) return this.#takeFrom(slice, cost);
      if (this.#closed) return { ok: false, code: "budget_unavailable", message: "the budget check is closed" };
      const joined = this.#pending !== undefined;
      const outcome = await (this.#pending ??= this.#ask(cost).finally(() => (this.#pending = undefined)));
      // A refusal answers every call that waited on it, unless it was for a dearer call than this one.
      if (!outcome.ok && (!joined || outcome.shared || cost >= outcome.minCost)) return outcome;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#idle);
    await this.#pending;
    for (const slice of [...this.#slices]) this.#giveBack(slice);
    await Promise.all(this.#returning);
  }

  #takeFrom(slice: Slice, cost: number): Taken {
    this.#touch();
    slice.calls--;
    slice.usedCalls++;
    if (slice.cost !== null) slice.cost -= cost;
    slice.usedCost += cost;
    return {
      ok: true,
      release: () => {
        if (slice.given) return; // already reported as used: it counts, which is only conservative
        slice.calls++;
        slice.usedCalls--;
        if (slice.cost !== null) slice.cost += cost;
        slice.usedCost -= cost;
      },
    };
  }

  /** (Re)arms the idle timer: a key nobody takes from gives its slices back to the other replicas. */
  #touch(): void {
    if (this.#idle !== undefined) {
      this.#idle.refresh();
      return;
    }
    this.#idle = setTimeout(() => {
      this.#idle = undefined;
      if (this.#pending === undefined) for (const slice of [...this.#slices]) this.#giveBack(slice);
    }, this.#refill.idleReturnMs);
    this.#idle.unref();
  }

  async #ask(cost: number): Promise<Outcome> {
    const now = this.#refill.clock();
    // Slices that cannot serve this call go back now: their unused part is worth more to the others.
    for (const slice of [...this.#slices]) if (!slice.serves(cost, now)) this.#giveBack(slice);
    const { sliceCalls, holder } = this.#refill;
    const waitUntil = now + this.#refill.waitForReturnsMs;
    let answer;
    for (;;) {
      try {
        const ask = { budget: this.#budget, key: this.#key, holder, calls: sliceCalls, cost: cost * sliceCalls, minCost: cost };
        answer = await this.#refill.leases.grant(this.#token === undefined ? ask : { ...ask, token: this.#token });
      } catch (error) {
        return { ok: false, code: "budget_unavailable", message: `budget lease unavailable for ${this.#budget}: ${(error as Error).message}`, minCost: cost, shared: true };
      }
      // Other replicas may be about to give back what they do not use: ask again shortly, within bounds.
      if (answer.ok || !answer.othersHolding || this.#closed || this.#refill.clock() >= waitUntil) break;
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
    if (!answer.ok) return { ok: false, code: answer.refusal, message: answer.message, minCost: cost, shared: !answer.refusal.endsWith("_cost") };
    // Measured from before the request: the controller's lease began after this instant.
    const usableMs = answer.slice.leaseMs * this.#refill.useFor;
    const slice = new Slice(answer.slice.id, answer.slice.calls, answer.slice.cost, now + usableMs);
    slice.timer = setTimeout(() => this.#giveBack(slice), Math.max(0, slice.usableUntil - this.#refill.clock()));
    slice.timer.unref();
    this.#slices.push(slice);
    if (this.#closed) this.#giveBack(slice);
    return { ok: true };
  }

  #giveBack(slice: Slice): void {
    if (slice.given) return;
    slice.given = true;
    clearTimeout(slice.timer);
    this.#slices = this.#slices.filter((s) => s !== slice);
    const done = this.#refill.leases
      .giveBack(slice.id, { calls: slice.usedCalls, cost: slice.usedCost })
      .catch((error: unknown) => this.#refill.onReturnError(error as Error))
      .finally(() => this.#returning.delete(done));
    this.#returning.add(done);
  }
}
