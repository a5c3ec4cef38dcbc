// Inputs of the capability-token vectors, with the outcome each one is meant to have written out by hand.
// build-token-vectors.ts computes bytes, tags and tokens from these and refuses to write a vector whose
// computed outcome differs from the one intended here.
import type { Caveat, CoverageErrorCode, KeyFile, TokenErrorCode, TokenHeader, ToolCall } from "../../wire/index.ts";
import { promptSha256 } from "../../wire/index.ts";

export const T0 = 1767225600; // 2026-01-01T00:00:00Z
const CREATED = "2026-01-01T00:00:00.000Z";

// Fixed secrets: bytes 0x00..0x1f and 0xa0..0xbf. Test keys only; never use them anywhere else.
const SECRET_A = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
const SECRET_B = "oKGio6SlpqeoqaqrrK2ur7CxsrO0tba3uLm6u7y9vr8";

/** "rotated": k2026-a was rotated out of active use but still verifies; "retired": k2026-a removed. */
export const MASTER_KEY_FILES: Record<string, KeyFile> = {
  rotated: {
    version: 1,
    active: "k2026-b",
    keys: [
      { kid: "k2026-a", scope: "master", secret: SECRET_A, created_at: CREATED },
      { kid: "k2026-b", scope: "master", secret: SECRET_B, created_at: CREATED },
    ],
  },
  retired: { version: 1, active: "k2026-b", keys: [{ kid: "k2026-b", scope: "master", secret: SECRET_B, created_at: CREATED }] },
};
/** A third key file, "acme_only", is KeyRing.exportTenant("acme") of "rotated": tenant-scoped derived keys. */
export const EXPORTED_TENANT = "acme";
export const EXPORTED_AT = CREATED;

export const HKDF_TENANTS = ["acme", "soci\u00e9t\u00e9-g\u00e9n\u00e9rale", "\u79df\u6237-\u6771\u4eac"];

export const PAYMENT_PROMPT = "Paie la facture de Zo\u00eb \u00c5ngstr\u00f6m : 1 250,00 \u20ac \ud83d\udcb6";
const BENEFICIARY = "Zo\u00eb \u00c5ngstr\u00f6m-\u0141ukasiewicz";
const IBAN = "FR7630006000011234567890189";

export interface VerifyInput {
  token_index: number;
  key_file: string;
  now: number;
  skew_seconds?: number;
  revoked_ids?: string[];
  expect: "ok" | TokenErrorCode;
}
export interface CoverageInput {
  name: string;
  call: ToolCall;
  expect: "ok" | CoverageErrorCode;
}
export interface TokenCaseInput {
  name: string;
  header: TokenHeader;
  caveats: Caveat[];
  hops: { id: string; caveats: Caveat[] }[];
  /** verify[0] must verify the last token successfully: coverage runs on its effective constraints. */
  verify: VerifyInput[];
  coverage: CoverageInput[];
}

const header = (kid: string, id: string, tenant: string, subject: string, issuer = "intentgate"): TokenHeader => ({
  version: 1, kid, id, issuer, tenant, subject, issued_at: T0,
});

const minimal: TokenCaseInput = {
  name: "minimal: header only, minted with the rotated-out key",
  header: header("k2026-a", "tok-minimal-0001", "acme", "agent-7"),
  caveats: [],
  hops: [],
  verify: [
    { token_index: 0, key_file: "rotated", now: T0 + 60, expect: "ok" },
    { token_index: 0, key_file: "acme_only", now: T0 + 60, expect: "ok" },
    { token_index: 0, key_file: "retired", now: T0 + 60, expect: "unknown_kid" },
    { token_index: 0, key_file: "rotated", now: T0 - 31, expect: "not_yet_valid" },
    { token_index: 0, key_file: "rotated", now: T0 - 30, expect: "ok" },
  ],
  coverage: [
    { name: "any call by the bound agent", call: { server: "fs", tool: "read_file", arguments: {}, agent: "agent-7" }, expect: "ok" },
    { name: "another agent", call: { server: "fs", tool: "read_file", arguments: {}, agent: "agent-8" }, expect: "agent_mismatch" },
  ],
};

const transfer = (amount: unknown, iban: string, name: string | undefined, prompt: string | undefined): ToolCall => ({
  server: "banque",
  tool: "virement",
  arguments: { montant: { valeur: amount, devise: "EUR" }, "b\u00e9n\u00e9ficiaire": { iban, ...(name === undefined ? {} : { nom: name }) } },
  agent: "agent-paiements",
  ...(prompt === undefined ? {} : { prompt }),
});

const payment: TokenCaseInput = {
  name: "payment: non-ASCII tenant, tools, argument paths and values, prompt binding, two hops",
  header: header("k2026-b", "tok-paiement-0001", "soci\u00e9t\u00e9-g\u00e9n\u00e9rale", "agent-paiements"),
  caveats: [
    { type: "tools", allow: ["banque.virement", "donn\u00e9es.*"] },
    { type: "servers", allow: ["banque", "donn\u00e9es"] },
    { type: "expires", at: T0 + 86400 },
    { type: "arg", tools: ["banque.virement"], path: "/montant/valeur", op: "le", value: 1500 },
    { type: "arg", tools: ["banque.virement"], path: "/b\u00e9n\u00e9ficiaire/iban", op: "eq", value: IBAN },
    { type: "arg", tools: ["banque.virement"], path: "/b\u00e9n\u00e9ficiaire/nom", op: "eq", value: BENEFICIARY },
    { type: "prompt", sha256: promptSha256(PAYMENT_PROMPT) },
  ],
  hops: [
    {
      id: "hop-paiement-0001",
      caveats: [
        { type: "tools", allow: ["banque.virement"] },
        { type: "expires", at: T0 + 7200 },
        { type: "arg", tools: ["banque.*"], path: "/montant/valeur", op: "lt", value: 1300 },
      ],
    },
    { id: "hop-paiement-0002", caveats: [{ type: "agent", id: "agent-paiements" }, { type: "calls", max: 3 }, { type: "not_before", at: T0 + 60 }] },
  ],
  verify: [
    { token_index: 2, key_file: "rotated", now: T0 + 600, expect: "ok" },
    { token_index: 2, key_file: "rotated", now: T0 + 7230, expect: "ok" },
    { token_index: 2, key_file: "rotated", now: T0 + 7231, expect: "expired" },
    { token_index: 2, key_file: "rotated", now: T0 + 7500, skew_seconds: 300, expect: "ok" },
    { token_index: 2, key_file: "rotated", now: T0 + 7501, skew_seconds: 1000, expect: "expired" },
    { token_index: 2, key_file: "rotated", now: T0 + 29, expect: "not_yet_valid" },
    { token_index: 2, key_file: "rotated", now: T0 + 30, expect: "ok" },
    { token_index: 2, key_file: "rotated", now: T0 + 600, revoked_ids: ["hop-paiement-0002"], expect: "revoked" },
    { token_index: 1, key_file: "rotated", now: T0 + 600, revoked_ids: ["hop-paiement-0002"], expect: "ok" },
    { token_index: 2, key_file: "rotated", now: T0 + 600, revoked_ids: ["hop-paiement-0001"], expect: "revoked" },
    { token_index: 0, key_file: "rotated", now: T0 + 600, revoked_ids: ["hop-paiement-0001"], expect: "ok" },
    { token_index: 1, key_file: "rotated", now: T0 + 600, revoked_ids: ["tok-paiement-0001"], expect: "revoked" },
    { token_index: 2, key_file: "rotated", now: T0 + 600, revoked_ids: ["tok-paiement-0001"], expect: "revoked" },
    { token_index: 2, key_file: "acme_only", now: T0 + 600, expect: "wrong_tenant" },
  ],
  coverage: [
    { name: "the bound transfer", call: transfer(1250, IBAN, BENEFICIARY, PAYMENT_PROMPT), expect: "ok" },
    { name: "amount at the hop's strict limit", call: transfer(1300, IBAN, BENEFICIARY, PAYMENT_PROMPT), expect: "argument_violation" },
    { name: "amount as a string", call: transfer("1250", IBAN, BENEFICIARY, PAYMENT_PROMPT), expect: "argument_violation" },
    { name: "another IBAN", call: transfer(1250, "DE89370400440532013000", BENEFICIARY, PAYMENT_PROMPT), expect: "argument_violation" },
    {
      name: "beneficiary in NFD (e + combining diaeresis): no normalisation",
      call: transfer(1250, IBAN, "Zoe\u0308 A\u030angstro\u0308m-\u0141ukasiewicz", PAYMENT_PROMPT),
      expect: "argument_violation",
    },
    { name: "beneficiary name missing", call: transfer(1250, IBAN, undefined, PAYMENT_PROMPT), expect: "argument_violation" },
    { name: "no prompt presented", call: transfer(1250, IBAN, BENEFICIARY, undefined), expect: "prompt_missing" },
    { name: "another prompt", call: transfer(1250, IBAN, BENEFICIARY, PAYMENT_PROMPT.replace("1 250", "9 250")), expect: "prompt_mismatch" },
    {
      name: "data tool removed by the first hop",
      call: { server: "donn\u00e9es", tool: "lire", arguments: {}, agent: "agent-paiements", prompt: PAYMENT_PROMPT },
      expect: "tool_not_allowed",
    },
    { name: "server not listed", call: { ...transfer(1250, IBAN, BENEFICIARY, PAYMENT_PROMPT), server: "autre" }, expect: "server_not_allowed" },
    { name: "another agent", call: { ...transfer(1250, IBAN, BENEFICIARY, PAYMENT_PROMPT), agent: "agent-x" }, expect: "agent_mismatch" },
  ],
};

const search = (args: Record<string, unknown>, tool = "\u641c\u7d22"): ToolCall => ({
  server: "\u5de5\u5177", tool, arguments: { mode: "user", ...args }, agent: "\u4ee3\u7406-1",
});
const folder = (tool: string, path: unknown): ToolCall => ({
  server: "\ud83d\udcc1", tool, arguments: { mode: "user", "\u8def\u5f84": path }, agent: "\u4ee3\u7406-1",
});
const goodSearch = { "\u8bed\u8a00": "\u65e5\u672c\u8a9e", limit: 10, "\u7c7b\u522b": "\u65b0\u95fb" };

const cjk: TokenCaseInput = {
  name: "CJK and emoji: tool globs, deny list, every argument operator, rate, cost, step-up",
  header: header("k2026-b", "tok-cjk-000001", "\u79df\u6237-\u6771\u4eac", "\u4ee3\u7406-1", "\u63a7\u5236\u5668"),
  caveats: [
    { type: "tools", allow: ["\u5de5\u5177.\u641c*", "\ud83d\udcc1.read_*"] },
    { type: "tools_deny", deny: ["\u5de5\u5177.\u641c\u7d22_\u5185\u90e8"] },
    { type: "arg", tools: ["\ud83d\udcc1.*"], path: "/\u8def\u5f84", op: "under", value: "/\u6570\u636e/\u516c\u5f00" },
    { type: "arg", tools: ["\u5de5\u5177.*"], path: "/\u8bed\u8a00", op: "in", value: ["\u4e2d\u6587", "\u65e5\u672c\u8a9e", "Fran\u00e7ais"] },
    { type: "arg", tools: ["\u5de5\u5177.*"], path: "/\u7c7b\u522b", op: "not_in", value: ["\u673a\u5bc6", "\u5185\u90e8"] },
    { type: "arg", tools: ["\u5de5\u5177.*"], path: "/limit", op: "ge", value: 1 },
    { type: "arg", tools: ["\u5de5\u5177.*"], path: "/limit", op: "le", value: 50 },
    { type: "arg", path: "/mode", op: "ne", value: "admin" },
    { type: "rate", max: 100, window: 3600 },
    { type: "cost", max: 2.5, window: 86400 },
    { type: "step_up" },
    { type: "expires", at: T0 + 3600 },
  ],
  hops: [{ id: "hop-cjk-000001", caveats: [{ type: "tools_deny", deny: ["\ud83d\udcc1.read_secret*"] }] }],
  verify: [{ token_index: 1, key_file: "rotated", now: T0 + 1, expect: "ok" }],
  coverage: [
    { name: "search in Japanese", call: search(goodSearch), expect: "ok" },
    { name: "denied internal search", call: search(goodSearch, "\u641c\u7d22_\u5185\u90e8"), expect: "tool_denied" },
    { name: "tool outside the globs", call: search(goodSearch, "\u5220\u9664"), expect: "tool_not_allowed" },
    { name: "read inside the folder", call: folder("read_file", "/\u6570\u636e/\u516c\u5f00/\u62a5\u544a.pdf"), expect: "ok" },
    { name: "doubled slashes still inside", call: folder("read_file", "//\u6570\u636e//\u516c\u5f00//x"), expect: "ok" },
    { name: ".. climbs out", call: folder("read_file", "/\u6570\u636e/\u516c\u5f00/../\u79c1\u5bc6/x"), expect: "argument_violation" },
    { name: "sibling with the same prefix", call: folder("read_file", "/\u6570\u636e/\u516c\u5f00x/y"), expect: "argument_violation" },
    { name: "relative path", call: folder("read_file", "\u6570\u636e/\u516c\u5f00/x"), expect: "argument_violation" },
    { name: "hop denies secrets", call: folder("read_secret_key", "/\u6570\u636e/\u516c\u5f00/k"), expect: "tool_denied" },
    { name: "language not in the list", call: search({ ...goodSearch, "\u8bed\u8a00": "English" }), expect: "argument_violation" },
    { name: "category in the excluded list", call: search({ ...goodSearch, "\u7c7b\u522b": "\u673a\u5bc6" }), expect: "argument_violation" },
    { name: "limit below ge", call: search({ ...goodSearch, limit: 0 }), expect: "argument_violation" },
    { name: "limit above le", call: search({ ...goodSearch, limit: 51 }), expect: "argument_violation" },
    { name: "limit as a string", call: search({ ...goodSearch, limit: "10" }), expect: "argument_violation" },
    { name: "mode equal to the ne value", call: search({ ...goodSearch, mode: "admin" }), expect: "argument_violation" },
  ],
};

const widening: TokenCaseInput = {
  name: "widening attempt: a hop asks for every tool, more servers and a later expiry",
  header: header("k2026-a", "tok-widen-00001", "acme", "agent-7"),
  caveats: [{ type: "tools", allow: ["fs.read_*"] }, { type: "expires", at: T0 + 600 }],
  hops: [{ id: "hop-widen-00001", caveats: [{ type: "tools", allow: ["*"] }, { type: "servers", allow: ["fs", "shell"] }, { type: "expires", at: T0 + 86400 }] }],
  verify: [
    { token_index: 1, key_file: "rotated", now: T0 + 60, expect: "ok" },
    { token_index: 1, key_file: "rotated", now: T0 + 631, expect: "expired" },
    { token_index: 1, key_file: "acme_only", now: T0 + 60, expect: "ok" },
  ],
  coverage: [
    { name: "still covered", call: { server: "fs", tool: "read_file", arguments: {}, agent: "agent-7" }, expect: "ok" },
    { name: "wider tool stays refused", call: { server: "fs", tool: "write_file", arguments: {}, agent: "agent-7" }, expect: "tool_not_allowed" },
    { name: "new server stays refused", call: { server: "shell", tool: "exec", arguments: {}, agent: "agent-7" }, expect: "tool_not_allowed" },
  ],
};

export const TOKEN_CASES: TokenCaseInput[] = [minimal, payment, cjk, widening];
