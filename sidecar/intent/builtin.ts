// The built-in classifier: deterministic, no network, no model. It matches the prompt's words
// against the names and descriptions of the tools the sidecar has seen in tools/list answers.
//   - words are lower-cased, split on anything but letters and digits, stemmed by a few suffix
//     rules, and common verbs are folded into groups (pay/send/wire → transfer, remove/erase → delete, ...);
//   - a tool scores 3 per prompt word found in its name, 1 per word found only in its server's
//     name or its description; it is allowed at 3 or more;
//   - a word within three words after a negation ("not", "never", "no", "without"; "don't" reads as
//     "do not"), or just before "nothing"/"none", does not count for a tool; if it names the
//     tool (a name word), the tool is forbidden;
//   - confidence is best score / (best score + 3), at most 0.95 (a single name match gives 0.5).
// It is a keyword matcher, not an understanding of the request: docs/intent.md says what it can and
// cannot do. Tool descriptions come from the upstreams, so an upstream can make its own tools match
// more prompts; it cannot unlock tools of another server, and the token and policy still apply.
import type { IntentExtractor } from "../checks/intent.ts";
import type { IntentRecommendation } from "../checks/types.ts";
import type { ToolCatalog } from "./catalog.ts";

const GROUPS: Record<string, readonly string[]> = {
  read: ["read", "open", "view", "show", "display", "cat", "get", "fetch", "retrieve", "look"],
  list: ["list", "ls", "enumerate", "browse"],
  delete: ["delete", "remove", "erase", "rm", "destroy", "drop", "purge", "wipe", "unlink"],
  write: ["write", "save", "create", "update", "edit", "modify", "put", "store", "upload"],
  transfer: ["transfer", "pay", "paid", "wire", "send", "sent", "remit", "payment", "payout"],
  search: ["search", "find", "query", "lookup", "grep"],
};
const NEGATORS = new Set(["not", "no", "never", "without", "dont", "cannot"]);
const NEGATED_BEFORE = new Set(["nothing", "none"]);
const STOPWORDS = new Set(
  "a an and are as at be but by can do does for from has have i in into is it its me my of on or our please so that the their them then there these this those to us we what when which with would you your all any some".split(" "),
);
const NAME_WEIGHT = 3;
const ALLOW_AT = 3;

export function stem(word: string): string {
  let w = word;
  if (w.length > 4 && w.endsWith("ies")) w = `${w.slice(0, -3)}y`;
  else if (w.length > 5 && w.endsWith("ing")) w = undouble(w.slice(0, -3));
  else if (w.length > 4 && w.endsWith("ed")) w = undouble(w.slice(0, -2));
  else if (w.length > 3 && w.endsWith("s") && !w.endsWith("ss")) w = w.slice(0, -1);
  if (w.length > 3 && w.endsWith("e")) w = w.slice(0, -1);
  return w;
}

function undouble(w: string): string {
  const last = w.at(-1);
  return w.length > 3 && last === w.at(-2) && last !== undefined && !"lsz".includes(last) ? w.slice(0, -1) : w;
}

const GROUP_OF = new Map<string, string>();
for (const [group, words] of Object.entries(GROUPS)) for (const word of words) GROUP_OF.set(stem(word), `#${group}`);

/** A word's canonical form: its verb group when it has one, else its stem. */
function canonical(word: string): string {
  const s = stem(word);
  return GROUP_OF.get(s) ?? s;
}

export function words(text: string): string[] {
  return text
    .normalize("NFKC")
    .replace(/([a-z])([A-Z])/g, "$1 $2")
    .toLowerCase()
    .replace(/n['’]t\b/g, " not")
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w !== "");
}

interface Indexed {
  name: string;
  nameWords: ReadonlySet<string>;
  otherWords: ReadonlySet<string>;
}

function index(catalog: ToolCatalog): Indexed[] {
  return catalog.entries().map(({ name, description }) => {
    const dot = name.indexOf(".");
    const nameWords = new Set(words(name.slice(dot + 1)).filter((w) => !STOPWORDS.has(w)).map(canonical));
    const other = new Set([...words(name.slice(0, dot)), ...words(description)].filter((w) => !STOPWORDS.has(w)).map(canonical));
    for (const w of nameWords) other.delete(w);
    return { name, nameWords, otherWords: other };
  });
}

/** The prompt's content words, each marked negated or not. */
function promptWords(prompt: string): { plain: Set<string>; negated: Set<string> } {
  const all = words(prompt);
  const negatedAt = new Set<number>();
  all.forEach((w, i) => {
    if (NEGATORS.has(w)) for (let j = i + 1; j <= i + 3 && j < all.length && all[j] !== "but"; j++) negatedAt.add(j);
    if (NEGATED_BEFORE.has(w) && i > 0) negatedAt.add(i - 1);
  });
  const plain = new Set<string>();
  const negated = new Set<string>();
  all.forEach((w, i) => {
    if (STOPWORDS.has(w) || NEGATORS.has(w) || NEGATED_BEFORE.has(w)) return;
    (negatedAt.has(i) ? negated : plain).add(canonical(w));
  });
  return { plain, negated };
}

export function classify(prompt: string, tools: readonly Indexed[]): IntentRecommendation {
  const { plain, negated } = promptWords(prompt);
  const allowed: { name: string; score: number; why: string[] }[] = [];
  const forbidden: { name: string; why: string[] }[] = [];
  for (const tool of tools) {
    const denied = [...negated].filter((w) => tool.nameWords.has(w));
    if (denied.length > 0) {
      forbidden.push({ name: tool.name, why: denied });
      continue;
    }
    let score = 0;
    const why: string[] = [];
    for (const w of plain) {
      if (tool.nameWords.has(w)) {
        score += NAME_WEIGHT;
        why.push(`${w.replace("#", "")} (name)`);
      } else if (tool.otherWords.has(w)) {
        score += 1;
        why.push(`${w.replace("#", "")} (description)`);
      }
    }
    if (score >= ALLOW_AT) allowed.push({ name: tool.name, score, why });
  }
  const best = allowed.reduce((m, t) => Math.max(m, t.score), 0);
  const confidence = best === 0 ? 0 : Math.min(0.95, Math.round((best / (best + NAME_WEIGHT)) * 100) / 100);
  const rationale = [
    ...allowed.map((t) => `${t.name} matched ${t.why.join(", ")}`),
    ...forbidden.map((t) => `${t.name} forbidden: negated ${t.why.map((w) => w.replace("#", "")).join(", ")}`),
  ];
  if (tools.length === 0) rationale.push("no tools have been listed yet");
  return {
    summary: allowed.length === 0 ? "no listed tool matches the request" : `the request matches ${allowed.map((t) => t.name).join(", ")}`.slice(0, 1024),
    allowed_tools: allowed.map((t) => t.name),
    forbidden_tools: forbidden.map((t) => t.name),
    confidence,
    rationale: (rationale.join("; ") || "no tool name or description word occurs in the request").slice(0, 4096),
  };
}

export function createBuiltinExtractor(catalog: ToolCatalog): IntentExtractor {
  let indexed: { generation: number; tools: Indexed[] } | undefined;
  return {
    extract({ prompt }) {
      if (indexed?.generation !== catalog.generation) indexed = { generation: catalog.generation, tools: index(catalog) };
      return Promise.resolve(classify(prompt, indexed.tools));
    },
  };
}
