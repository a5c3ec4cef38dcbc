// DNS-rebinding protection. A page on evil.example can point its own name at 127.0.0.1 and make the
// browser send requests to a sidecar listening on loopback; those requests name evil.example in Host
// (and in Origin). On a connection that arrived on a loopback address, every request must name
// loopback in Host, and in Origin when it sends one; anything else is refused before it is routed,
// parsed or forwarded. Connections on other addresses are not judged here: which names reach the
// sidecar there depends on the deployment.
import type { IncomingMessage } from "node:http";
import { isIPv4 } from "node:net";
import { HttpError } from "./http-error.ts";

/** True for an address the local host only can reach: 127.0.0.0/8, ::1 and 127.x mapped into IPv6. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.toLowerCase().startsWith("::ffff:") ? address.slice(7) : address;
  if (isIPv4(v4)) return v4.startsWith("127.");
  return address === "::1" || address === "0:0:0:0:0:0:0:1";
}

/** True for a URL hostname (as `new URL` gives it) that names loopback: localhost, 127.x.y.z, [::1]. */
export function isLoopbackHostname(hostname: string): boolean {
  if (hostname === "localhost") return true;
  if (hostname.startsWith("[") && hostname.endsWith("]")) {
    const inner = hostname.slice(1, -1);
    // new URL() writes ::ffff:127.0.0.1 as ::ffff:7f00:1.
    return inner === "::1" || /^::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(inner);
  }
  return isIPv4(hostname) && hostname.startsWith("127.");
}

/** The usual loopback Host values, accepted without parsing a URL (this runs on every request). */
const PLAIN_LOOPBACK_HOST = /^(?:localhost|127\.0\.0\.1|\[::1\])(?::\d{1,5})?$/;

function hostnameOf(url: string): string | undefined {
  try {
    return new URL(url).hostname;
  } catch {
    return undefined;
  }
}

/** The refusal for a request on a loopback connection that names another host; undefined when it may go on. */
export function localOriginRefusal(req: IncomingMessage): HttpError | undefined {
  if (!isLoopbackAddress(req.socket.localAddress)) return undefined;
  const host = req.headers.host;
  if (host !== undefined && PLAIN_LOOPBACK_HOST.test(host) && req.headers.origin === undefined) return undefined;
  const hostname = host === undefined || host === "" || /[/?#@\\]/.test(host) ? undefined : hostnameOf(`http://${host}`);
  if (hostname === undefined || !isLoopbackHostname(hostname)) {
    return new HttpError(403, "host_not_allowed", `Host ${JSON.stringify(host ?? "")} does not name this loopback gateway (DNS rebinding protection)`);
  }
  const origin = req.headers.origin;
  if (origin !== undefined) {
    const originHost = hostnameOf(origin);
    if (originHost === undefined || !isLoopbackHostname(originHost)) {
      return new HttpError(403, "origin_not_allowed", `Origin ${JSON.stringify(origin)} is not a loopback origin (DNS rebinding protection)`);
    }
  }
  return undefined;
}
