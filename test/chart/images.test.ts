// The Dockerfiles, read as text: no Docker engine runs where these tests run, so the images are not built here
// (the bundle they copy is built and run by test/e2e/bundle.test.ts, the redirect script by
// test/e2e/redirect-netns.test.ts). What can drift silently is checked instead: base images pinned by digest,
// non-root users, and the paths, commands, ports and opa version the chart and the injector rely on.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { buildRedirectContainer, buildSidecarContainer } from "../../controller/webhook/containers.ts";
import type { InjectorSettings } from "../../controller/webhook/inject.ts";
import { find, renderCase } from "./manifests.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const dockerfile = (name: string): string => readFileSync(join(ROOT, `Dockerfile.${name}`), "utf8");
const settings = { image: "s", redirectImage: "r", proxyUid: 1337, ports: { mcp: 7070, admin: 7071 }, controllerUrl: "https://c", controllerNamespace: "n", defaultMode: "env", allowRedirect: true } as unknown as InjectorSettings;

/** The image references every FROM can resolve to: literal ones and the ARG defaults they name. */
function baseImages(text: string): string[] {
  const args = new Map([...text.matchAll(/^ARG (\w+)=(\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
  return [...text.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]!.replace(/^\$\{(\w+)\}$/, (_, name: string) => args.get(name) ?? `unset ${name}`));
}

const stages = (text: string): string[] => text.split(/^FROM /m);
const lastStage = (text: string): string => stages(text).at(-1)!;

test("every base image is pinned by a sha256 digest", () => {
  for (const name of ["sidecar", "controller", "redirect"]) {
    const images = baseImages(dockerfile(name)).filter((i) => !/^(opa|build)$/.test(i));
    assert.ok(images.length > 0, name);
    for (const image of images) assert.match(image, /@sha256:[0-9a-f]{64}$/, `Dockerfile.${name}: ${image}`);
  }
});

test("the sidecar and controller images run as a non-root user, with the bundle where the chart and injector run it", () => {
  const controller = find(renderCase("default"), "Deployment").spec.template.spec.containers[0];
  const sidecar = buildSidecarContainer(settings, "env");
  for (const [name, command] of [["controller", controller.command as string[]], ["sidecar", sidecar.command!]] as const) {
    const final = lastStage(dockerfile(name));
    assert.match(final, /^USER 65532:65532$/m, `Dockerfile.${name} runs as distroless nonroot`);
    assert.match(final, /^COPY --from=build \/src\/dist\/ \/app\/$/m, `Dockerfile.${name} puts the bundle in /app`);
    assert.match(final, /^ENV PATH=\/nodejs\/bin:/m, `Dockerfile.${name} has node on PATH`);
    assert.deepEqual(command.slice(0, 2), ["node", "/app/intentgate.mjs"]);
    assert.equal(command[2], name);
  }
});

test("the ports each image exposes are the ones the chart and the injector use", () => {
  const ports = (name: string): number[] => (/^EXPOSE (.+)$/m.exec(dockerfile(name))?.[1] ?? "").split(" ").map(Number).sort();
  const controller = find(renderCase("default"), "Deployment").spec.template.spec.containers[0];
  assert.deepEqual(ports("controller"), (controller.ports as Array<{ containerPort: number }>).map((p) => p.containerPort).sort());
  assert.deepEqual(ports("sidecar"), buildSidecarContainer(settings, "env").ports!.map((p) => p.containerPort).sort());
});

test("the controller image builds the opa version the tests compile policies with", () => {
  const toolchain = /^OPA_VERSION=(\S+)$/m.exec(readFileSync(join(ROOT, "scripts/toolchain.sh"), "utf8"))?.[1];
  assert.ok(toolchain);
  assert.match(dockerfile("controller"), new RegExp(`^ARG OPA_VERSION=${toolchain.replaceAll(".", "\\.")}$`, "m"));
  const controller = find(renderCase("default"), "Deployment").spec.template.spec.containers[0];
  const opa = (controller.env as Array<{ name: string; value?: string }>).find((e) => e.name === "INTENTGATE_OPA")?.value;
  assert.match(lastStage(dockerfile("controller")), new RegExp(`^COPY --from=opa /out/opa ${opa}$`, "m"));
});

test("the redirect image holds the script the injector runs, at the path it runs it from", () => {
  const command = buildRedirectContainer(settings, []).command!;
  assert.match(dockerfile("redirect"), new RegExp(`^COPY --chmod=0755 images/redirect/intentgate-redirect.sh ${command[0]}$`, "m"));
  readFileSync(join(ROOT, "images/redirect/intentgate-redirect.sh"));
});
