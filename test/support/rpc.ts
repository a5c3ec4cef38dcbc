// Raw JSON-RPC over HTTP for tests that need many calls or exact bytes rather than an SDK client.

export const toolCall = (id: number | string, name: string, args: object = {}, meta?: object): object => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name, arguments: args, ...(meta ? { _meta: meta } : {}) },
});

export interface RpcReply {
  status: number;
  body: any;
}

export async function postRpc(url: string, message: object, token?: string, headers: Record<string, string> = {}): Promise<RpcReply> {
  const res = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: JSON.stringify(message),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** The refusal code of a tools/call answer, or "allowed" when it was not refused by the gateway. */
export function outcomeOf(reply: RpcReply): string {
  const decision = reply.body?.result?._meta?.["dev.intentgate/decision"] as { code?: string } | undefined;
  return decision?.code ?? (reply.status === 200 ? "allowed" : `http_${reply.status}`);
}

/** Retries `probe` until it returns true or the deadline passes (for state that reloads in the background). */
export async function eventually(probe: () => Promise<boolean>, deadlineMs = 5000): Promise<boolean> {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    if (await probe()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
}
