// Collects a stream's bytes up to a limit with plain 'data'/'end' events: async iteration over a
// stream costs several promises per chunk, and this runs twice on every call (request and answer).
import type { Readable } from "node:stream";

/**
 * `overflow`: "destroy" drops the stream (an upstream answer); "discard" reads and drops the rest, so
 * an error answer can still be written on the same connection (an agent's request).
 */
export function collectLimited(stream: Readable, maxBytes: number, tooLarge: () => Error, overflow: "destroy" | "discard" = "destroy"): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (error: Error | undefined, value?: Buffer): void => {
      if (settled) return;
      settled = true;
      stream.off("data", onData);
      stream.off("end", onEnd);
      stream.off("error", onError);
      stream.off("close", onClose);
      if (error === undefined) resolve(value as Buffer);
      else reject(error);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        finish(tooLarge());
        if (overflow === "destroy") stream.destroy();
        else stream.resume();
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => finish(undefined, chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    const onError = (error: Error): void => finish(error);
    const onClose = (): void => finish(new Error("stream closed before its end"));
    stream.on("data", onData);
    stream.once("end", onEnd);
    stream.once("error", onError);
    stream.once("close", onClose);
  });
}
