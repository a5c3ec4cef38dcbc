// What the controller reads back from a token it minted (held in a grant's Secret).
import { decodeToken, type Caveat } from "../../wire/index.ts";

export function tokenIdOf(token: string): string {
  const d = decodeToken(token);
  return d.ok ? d.token.header.id : "";
}

export function caveatsOf(token: string): Caveat[] | undefined {
  const d = decodeToken(token);
  return d.ok ? (d.token.caveats as Caveat[]) : undefined;
}

export function expiryOf(token: string): number {
  let at = Infinity;
  for (const c of caveatsOf(token) ?? []) if (c.type === "expires") at = Math.min(at, c.at);
  return at === Infinity ? 0 : at;
}

export function issuedAtOf(token: string): number {
  const d = decodeToken(token);
  return d.ok ? d.token.header.issued_at : 0;
}
