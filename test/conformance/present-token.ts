// Preloaded into the conformance suite's process (node --import) by conformance.test.ts. The suite
// has no option for extra request headers (its CLI takes --url, --scenario, --suite,
// --expected-failures, -o, --spec-version and --verbose; it reads no environment variable for
// headers), so this module does what an agent's HTTP client does: it presents a capability token,
// `Authorization: Bearer <token>`, on every request the suite makes with fetch (the SDK client's
// transport and the suite's own raw requests both use the global fetch). Requests that already
// carry an Authorization header keep theirs. The token comes from INTENTGATE_CONFORMANCE_TOKEN.
const token = process.env["INTENTGATE_CONFORMANCE_TOKEN"];
if (token === undefined || token === "") throw new Error("present-token: INTENTGATE_CONFORMANCE_TOKEN is not set");

const originalFetch = globalThis.fetch;
globalThis.fetch = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
  const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
  if (!headers.has("authorization")) headers.set("authorization", `Bearer ${token}`);
  return originalFetch(input, { ...init, headers });
};
