// The store against real files in a temp dir, with the committed bundles: swaps are atomic, bad
// bundles never replace a good one, and both fs.watch and the stat fallback pick up changes.
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { PolicyStore, type PolicyReloadEvent, type PolicyStoreOptions } from "./store.ts";
import { bundleFiles, call, manifestSha256 } from "./test-support.ts";

const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

function workDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "intentgate-store-"));
  dirs.push(dir);
  return dir;
}

/** Replaces a file the way deployers should: write beside it, then rename over it. */
function install(from: string | Uint8Array, to: string): void {
  const temp = `${to}.tmp`;
  if (typeof from === "string") copyFileSync(from, temp);
  else writeFileSync(temp, from);
  renameSync(temp, to);
}

/** Opens a store and records its events; `next()` waits for the next one (or fails the test). */
async function openRecording(options: Omit<PolicyStoreOptions, "onReload">) {
  const events: PolicyReloadEvent[] = [];
  const waiters: ((e: PolicyReloadEvent) => void)[] = [];
  const store = await PolicyStore.open({
    ...options,
    onReload: (e) => { events.push(e); waiters.shift()?.(e); },
  });
  const next = (): Promise<PolicyReloadEvent> =>
    new Promise<PolicyReloadEvent>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no reload event within 5 s")), 5000);
      waiters.push((e) => { clearTimeout(timer); resolve(e); });
    });
  return { store, events, next };
}

const version = (name: string) => manifestSha256(name).slice(0, 12);
const decisionOf = (store: PolicyStore, tool: string) => {
  const verdict = store.current()?.evaluate(call("crm", tool));
  return verdict?.ok ? verdict.decision : verdict?.code;
};

void test("opens the bundle, reports it, and swaps to a new one when the file is replaced", async () => {
  const dir = workDir();
  const path = join(dir, "policy.wasm");
  install(bundleFiles("default").wasmPath, path);
  const { store, events, next } = await openRecording({ bundle: path });
  try {
    assert.deepEqual(events, [{ ok: true, version: version("default"), dataVersion: null, previousVersion: undefined }]);
    assert.equal(store.version, version("default"));
    const before = store.current();
    assert.equal(decisionOf(store, "update_deal"), "allow");

    const swapped = next();
    install(bundleFiles("read-only").wasmPath, path);
    assert.deepEqual(await swapped, { ok: true, version: version("read-only"), dataVersion: null, previousVersion: version("default") });
    assert.equal(decisionOf(store, "update_deal"), "block");
    // A request that read the engine before the swap finishes on the policy it started with.
    const verdict = before?.evaluate(call("crm", "update_deal"));
    assert.ok(verdict?.ok && verdict.decision === "allow");
  } finally {
    store.close();
  }
});

void test("while a reload is in flight, current() is the old engine, never a half-loaded one", async () => {
  const dir = workDir();
  const path = join(dir, "policy.wasm");
  install(bundleFiles("default").wasmPath, path);
  const { store } = await openRecording({ bundle: path, watch: false, pollMs: 60_000 });
  try {
    const old = store.current();
    install(bundleFiles("read-only").wasmPath, path);
    const pending = store.reload();
    assert.equal(store.current(), old);
    assert.equal(decisionOf(store, "update_deal"), "allow");
    const result = await pending;
    assert.ok(result.ok && !("unchanged" in result));
    assert.notEqual(store.current(), old);
    assert.equal(decisionOf(store, "update_deal"), "block");
  } finally {
    store.close();
  }
});

void test("a corrupt wasm on reload is reported and the old engine keeps enforcing", async () => {
  const dir = workDir();
  const path = join(dir, "policy.wasm");
  install(bundleFiles("read-only").wasmPath, path);
  const { store, next } = await openRecording({ bundle: path });
  try {
    const old = store.current();
    const rejected = next();
    install(new TextEncoder().encode("\0asm garbage, not a module"), path);
    const event = await rejected;
    assert.equal(event.ok, false);
    if (!event.ok) {
      assert.equal(event.code, "policy_bundle_invalid");
      assert.equal(event.keptVersion, version("read-only"));
    }
    assert.equal(store.current(), old);
    assert.equal(decisionOf(store, "update_deal"), "block");
    assert.equal(decisionOf(store, "get_deal"), "allow");
  } finally {
    store.close();
  }
});

void test("a bundle that loads but cannot decide the smoke input is refused", async () => {
  const dir = workDir();
  const path = join(dir, "policy.wasm");
  install(bundleFiles("default").wasmPath, path);
  const { store } = await openRecording({ bundle: path, watch: false, pollMs: 60_000 });
  try {
    install(bundleFiles("testdata/decision-set").wasmPath, path); // a set of decisions for every call
    const result = await store.reload();
    assert.equal(result.ok, false);
    if (!result.ok) assert.match(`${result.code} ${result.error}`, /^policy_smoke_failed /);
    assert.equal(store.version, version("default"));
  } finally {
    store.close();
  }
});

void test("the stat fallback picks up a change with fs.watch off", async () => {
  const dir = workDir();
  const path = join(dir, "policy.wasm");
  install(bundleFiles("default").wasmPath, path);
  const { store, next } = await openRecording({ bundle: path, watch: false, pollMs: 20 });
  try {
    const swapped = next();
    install(bundleFiles("read-only").wasmPath, path);
    assert.equal((await swapped).ok, true);
    assert.equal(store.version, version("read-only"));
  } finally {
    store.close();
  }
});

void test("a missing bundle at start leaves no engine, then the first good bundle is taken", async () => {
  const dir = workDir();
  const path = join(dir, "policy.wasm");
  const { store, events, next } = await openRecording({ bundle: path, pollMs: 20 });
  try {
    assert.equal(store.current(), undefined);
    assert.equal(events[0]?.ok === false && events[0].code, "policy_unreadable");
    const loaded = next();
    install(bundleFiles("default").wasmPath, path);
    assert.equal((await loaded).ok, true);
    assert.equal(decisionOf(store, "update_deal"), "allow");
  } finally {
    store.close();
  }
});

void test("a data.json change reloads the same wasm with the new data", async () => {
  const dir = workDir();
  const bundle = join(dir, "policy.wasm");
  const data = join(dir, "data.json");
  const { wasmPath, dataPath } = bundleFiles("finance");
  install(wasmPath, bundle);
  install(dataPath ?? assert.fail("finance has data"), data);
  const { store, next } = await openRecording({ bundle, data });
  const gbTransfer = call("payments", "transfer", { arguments: { amount: 50, currency: "EUR", iban: "GB29NWBK60161331926819" } });
  try {
    const before = store.current()?.evaluate(gbTransfer);
    assert.ok(before?.ok && before.decision === "block");
    const oldDataVersion = store.current()?.dataVersion;
    const reloaded = next();
    install(new TextEncoder().encode('{"finance": {"allowed_iban_countries": ["GB"]}}'), data);
    const event = await reloaded;
    assert.ok(event.ok);
    assert.equal(event.version, version("finance"));
    assert.equal(event.dataVersion, store.current()?.dataVersion);
    assert.notEqual(event.dataVersion, oldDataVersion);
    const after = store.current()?.evaluate(gbTransfer);
    assert.ok(after?.ok && after.decision === "allow");

    const rejected = next();
    install(new TextEncoder().encode("{not json"), data);
    const bad = await rejected;
    assert.equal(bad.ok === false && bad.code, "policy_data_invalid");
    assert.equal(store.current()?.evaluate(gbTransfer).ok, true);
  } finally {
    store.close();
  }
});

void test("identical bytes are not a reload; after close() nothing changes", async () => {
  const dir = workDir();
  const path = join(dir, "policy.wasm");
  install(bundleFiles("default").wasmPath, path);
  const { store, events } = await openRecording({ bundle: path, pollMs: 20 });
  install(bundleFiles("default").wasmPath, path); // new inode and mtime, same bytes
  assert.deepEqual(await store.reload(), { ok: true, unchanged: true, version: version("default") });
  store.close();
  install(bundleFiles("read-only").wasmPath, path);
  await sleep(200); // ten poll periods: a live store would have swapped by now
  assert.equal(store.version, version("default"));
  assert.equal(events.length, 1);
});
