// Server-sent events, event by event: splits a byte stream into whole events (keeping each event's
// original text so it can be relayed unchanged), with a cap on the size of one event.

export interface SseEvent {
  /** The event's original text, including the blank line that ended it. */
  raw: string;
  event: string | undefined;
  data: string | undefined;
  id: string | undefined;
}

export class SseEventTooLarge extends Error {}

export class SseSplitter {
  readonly #maxEventBytes: number;
  readonly #decoder = new TextDecoder("utf-8");
  #buffer = "";
  #eventStart = 0;
  #scan = 0;
  #event: string | undefined;
  #data: string[] = [];
  #id: string | undefined;

  constructor(maxEventBytes: number) {
    this.#maxEventBytes = maxEventBytes;
  }

  /** Feeds bytes; returns the events completed by them. Throws SseEventTooLarge past the cap. */
  push(chunk: Uint8Array): SseEvent[] {
    this.#buffer += this.#decoder.decode(chunk, { stream: true });
    const events: SseEvent[] = [];
    for (;;) {
      const line = this.#nextLine();
      if (line === undefined) break;
      if (line === "") {
        const raw = this.#buffer.slice(this.#eventStart, this.#scan);
        if (raw.trim() !== "") {
          events.push({ raw, event: this.#event, data: this.#data.length > 0 ? this.#data.join("\n") : undefined, id: this.#id });
        } else if (raw !== "") {
          events.push({ raw, event: undefined, data: undefined, id: undefined });
        }
        this.#event = undefined;
        this.#data = [];
        this.#id = undefined;
        this.#eventStart = this.#scan;
      } else {
        this.#field(line);
      }
    }
    this.#buffer = this.#buffer.slice(this.#eventStart);
    this.#scan -= this.#eventStart;
    this.#eventStart = 0;
    if (Buffer.byteLength(this.#buffer) > this.#maxEventBytes) throw new SseEventTooLarge(`an event exceeds ${this.#maxEventBytes} bytes`);
    return events;
  }

  /** Text that did not complete an event (relayed as-is when the stream ends). */
  rest(): string {
    return this.#buffer + this.#decoder.decode();
  }

  #nextLine(): string | undefined {
    const text = this.#buffer;
    for (let i = this.#scan; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 0x0a || c === 0x0d) {
        if (c === 0x0d && i + 1 === text.length) return undefined; // may be the first half of \r\n
        const line = text.slice(this.#scan, i);
        this.#scan = c === 0x0d && text.charCodeAt(i + 1) === 0x0a ? i + 2 : i + 1;
        return line;
      }
    }
    return undefined;
  }

  #field(line: string): void {
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const name = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (name === "data") this.#data.push(value);
    else if (name === "event") this.#event = value;
    else if (name === "id") this.#id = value;
  }
}

export function formatSseEvent(data: string, event = "message"): string {
  return `event: ${event}\ndata: ${data.split(/\r\n|\r|\n/).join("\ndata: ")}\n\n`;
}
