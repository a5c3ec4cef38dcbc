// Reads a request body within a byte limit; anything over it is refused before it is parsed.
import type { IncomingMessage } from "node:http";
import { collectLimited } from "./collect.ts";
import { HttpError } from "./http-error.ts";

export async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > maxBytes) {
    throw new HttpError(413, "body_too_large", `request body is larger than ${maxBytes} bytes`);
  }
  return collectLimited(req, maxBytes, () => new HttpError(413, "body_too_large", `request body is larger than ${maxBytes} bytes`), "discard");
}
