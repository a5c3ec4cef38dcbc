// The controller's registry: its own series and the Node process's, as SREs scrape them.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ControllerMetrics } from "./metrics.ts";

void test("the controller exports its own metrics and the process's (memory, CPU, event-loop lag)", async () => {
  const text = await new ControllerMetrics().registry.metrics();
  for (const name of ["intentgate_controller_leader", "intentgate_process_process_resident_memory_bytes", "intentgate_process_process_cpu_seconds_total", "intentgate_process_nodejs_eventloop_lag_p99_seconds"]) {
    assert.match(text, new RegExp(`^# TYPE ${name} `, "m"), name);
  }
});
