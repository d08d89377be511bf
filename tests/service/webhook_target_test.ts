/**
 * Where webhooks may go: the address classification (table), URL spellings of internal addresses,
 * host names that resolve to them, the HYDIT_WEBHOOK_ALLOW allow-list, the check again at delivery
 * (a refused attempt is failed and logged, the receiver gets nothing), and schedule destinations
 * refused at start-up.
 */
import assert from "node:assert/strict";
import { loadConfig } from "../../lib/config.ts";
import { createDeliveryLoop } from "../../lib/jobs/delivery_loop.ts";
import {
  type AddressClass,
  classifyAddress,
  inCidr,
  parseCidr,
  parseIp,
} from "../../lib/jobs/ip_address.ts";
import type { JobRecord } from "../../lib/jobs/job.ts";
import { cancelJob, getJob, submitJob } from "../../lib/jobs/store.ts";
import { checkWebhookTarget, parseWebhookAllow } from "../../lib/jobs/webhook_target.ts";
import { KEY_A, testApp } from "../http/_app.ts";
import { startInProcess } from "./_in_process.ts";
import { fakeGenerator } from "./_fake_generator.ts";
import { testParams } from "./_params.ts";
import { receiver } from "./_receiver.ts";

const NONE = parseWebhookAllow([]);

Deno.test("classifyAddress() sorts addresses by the special-purpose registries", () => {
  const table: [string, AddressClass][] = [
    ["8.8.8.8", "public"],
    ["93.184.215.14", "public"],
    ["0.0.0.0", "unspecified"],
    ["0.1.2.3", "unspecified"],
    ["10.0.0.1", "private"],
    ["100.63.255.255", "public"],
    ["100.64.0.1", "cgnat"],
    ["100.127.255.255", "cgnat"],
    ["127.0.0.1", "loopback"],
    ["127.255.255.254", "loopback"],
    ["169.254.169.254", "link-local"],
    ["172.15.255.255", "public"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["172.32.0.0", "public"],
    ["192.0.0.8", "reserved"],
    ["192.0.2.1", "reserved"],
    ["192.168.1.1", "private"],
    ["198.18.0.1", "reserved"],
    ["198.51.100.7", "reserved"],
    ["203.0.113.9", "reserved"],
    ["224.0.0.251", "multicast"],
    ["239.255.255.250", "multicast"],
    ["240.0.0.1", "reserved"],
    ["255.255.255.255", "reserved"],
    ["2606:4700:4700::1111", "public"],
    ["2a00:1450:4001:82b::200e", "public"],
    ["::", "unspecified"],
    ["::1", "loopback"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["::ffff:10.0.0.1", "private"],
    ["::ffff:8.8.8.8", "public"],
    ["::127.0.0.1", "reserved"],
    ["64:ff9b::7f00:1", "loopback"],
    ["64:ff9b::808:808", "public"],
    ["64:ff9b:1::1", "private"],
    ["2002:a9fe:a9fe::1", "link-local"],
    ["2002:808:808::1", "public"],
    ["2001::1", "reserved"],
    ["2001:db8::1", "reserved"],
    ["3fff::1", "reserved"],
    ["fc00::1", "private"],
    ["fd12:3456::1", "private"],
    ["fe80::1", "link-local"],
    ["febf::1", "link-local"],
    ["fec0::1", "private"],
    ["ff02::1", "multicast"],
    ["100::1", "reserved"],
    ["4000::1", "reserved"],
  ];
  for (const [text, want] of table) {
    const ip = parseIp(text);
    assert.ok(ip, `${text} parses`);
    assert.equal(classifyAddress(ip), want, text);
  }
});

Deno.test("parseIp() takes canonical forms only; parseCidr() and inCidr() match ranges", () => {
  assert.deepEqual([...parseIp("[::ffff:1.2.3.4]")!], [
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    255,
    255,
    1,
    2,
    3,
    4,
  ]);
  assert.deepEqual([...parseIp("1:2:3:4:5:6:7:8")!].slice(14), [0, 8]);
  for (
    const bad of [
      "",
      "1.2.3",
      "1.2.3.4.5",
      "256.0.0.1",
      "01.2.3.4",
      "1.2.3.x",
      "::1::",
      "1:2:3:4:5:6:7:8:9",
      "12345::",
      ":1",
      "1:2:3:4:5:6:7",
      "g::1",
    ]
  ) {
    assert.equal(parseIp(bad), null, bad);
  }
  const ten = parseCidr("10.0.0.0/8")!;
  assert.ok(inCidr(parseIp("10.200.0.1")!, ten));
  assert.ok(!inCidr(parseIp("11.0.0.1")!, ten));
  assert.ok(inCidr(parseIp("::ffff:10.0.0.1")!, ten), "a mapped address matches an IPv4 range");
  assert.ok(inCidr(parseIp("fd00::5")!, parseCidr("fd00::/8")!));
  assert.ok(inCidr(parseIp("127.0.0.1")!, parseCidr("127.0.0.1")!));
  assert.ok(!inCidr(parseIp("127.0.0.2")!, parseCidr("127.0.0.1")!));
  for (const bad of ["10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/a", "host/8"]) {
    assert.equal(parseCidr(bad), null, bad);
  }
});

Deno.test("checkWebhookTarget() refuses every spelling of an internal address, and names that resolve to one", async () => {
  const refused = [
    "http://127.0.0.1/hook",
    "http://2130706433/hook",
    "http://0x7f000001/hook",
    "http://0x7f.1/hook",
    "http://0177.0.0.1/hook",
    "http://127.1/hook",
    "http://%31%32%37.0.0.1/hook",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[::ffff:a9fe:a9fe]/latest/meta-data",
    "http://[64:ff9b::a00:1]/hook",
    "http://[::]:8000/hook",
    "http://0.0.0.0:8000/hook",
    "http://0/hook",
    "http://10.0.0.1/hook",
    "http://169.254.169.254/latest/meta-data",
    "http://100.64.1.1/hook",
    "http://224.0.0.1/hook",
    "http://[fe80::1]/hook",
    "http://[fd00::1]/hook",
    "http://localhost:8000/hook",
    "http://app.localhost/hook",
    "http://no-such-host.invalid/hook",
  ];
  for (const url of refused) {
    const check = await checkWebhookTarget(url, NONE);
    assert.equal(check.ok, false, url);
  }
  const loopback = await checkWebhookTarget("http://2130706433/hook", NONE);
  assert.deepEqual(loopback, {
    ok: false,
    retryable: false,
    reason: "address 127.0.0.1 is not a public address (loopback): webhooks go to public " +
      "addresses, or to hosts and ranges listed in HYDIT_WEBHOOK_ALLOW",
  });
  const unknown = await checkWebhookTarget("http://no-such-host.invalid/hook", NONE);
  assert.equal(unknown.ok === false && unknown.retryable, true, "DNS may come back");
  for (const url of ["http://8.8.8.8/hook", "https://[2606:4700:4700::1111]/hook"]) {
    assert.deepEqual(await checkWebhookTarget(url, NONE), { ok: true }, url);
  }
  const creds = await checkWebhookTarget("http://u:p@8.8.8.8/hook", NONE);
  assert.equal(creds.ok, false);
});

Deno.test("HYDIT_WEBHOOK_ALLOW lets named hosts and ranges through, and nothing else", async () => {
  const allow = parseWebhookAllow(["127.0.0.1", "10.0.0.0/8", "hooks.internal", "fd00::/8"]);
  for (
    const url of [
      "http://127.0.0.1:9999/h",
      "http://[::ffff:127.0.0.1]/h",
      "http://10.9.8.7/h",
      "http://hooks.internal/h",
      "http://HOOKS.internal./h",
      "http://[fd00::1]/h",
    ]
  ) {
    assert.deepEqual(await checkWebhookTarget(url, allow), { ok: true }, url);
  }
  for (const url of ["http://127.0.0.2/h", "http://192.168.0.1/h", "http://[::1]/h"]) {
    assert.equal((await checkWebhookTarget(url, allow)).ok, false, url);
  }
  for (const bad of ["a b", "10.0.0.0/33", "http://x", "host/path"]) {
    assert.throws(() => parseWebhookAllow([bad]), /HYDIT_WEBHOOK_ALLOW/, bad);
    assert.throws(
      () => loadConfig([], (n) => (n === "HYDIT_WEBHOOK_ALLOW" ? bad : undefined)),
      /HYDIT_WEBHOOK_ALLOW/,
    );
  }
});

Deno.test("POST /v1/jobs refuses an internal webhook_url with a 400 naming the field; the allow-list admits it", async () => {
  const t = await testApp({ HYDIT_WEBHOOK_SECRET: "s" });
  const body = { prompt: "a cat", size: "64x64" };
  for (const url of ["http://2130706433/h", "http://[::ffff:7f00:1]/h", "http://localhost/h"]) {
    const res = await t.call("POST", "/v1/jobs", {
      key: KEY_A,
      body: { ...body, webhook_url: url },
    });
    assert.equal(res.status, 400, url);
    const { error } = await res.json();
    assert.deepEqual([error.code, error.field], ["webhook_refused", "webhook_url"], url);
  }
  assert.deepEqual(t.jobs.calls, []);
  const allowed = await testApp({ HYDIT_WEBHOOK_SECRET: "s", HYDIT_WEBHOOK_ALLOW: "127.0.0.0/8" });
  const res = await allowed.call("POST", "/v1/jobs", {
    key: KEY_A,
    body: { ...body, webhook_url: "http://2130706433/h" },
  });
  assert.equal(res.status, 202);
});

Deno.test("a delivery whose target is no longer allowed is a failed attempt, logged, and nothing is sent", async () => {
  const dir = await Deno.makeTempDir({ prefix: "webhook_target_" });
  const kv = await Deno.openKv(`${dir}/hydit.kv`);
  const r = receiver([]);
  const logs: Record<string, unknown>[] = [];
  const loop = createDeliveryLoop({
    kv,
    log: (level, msg, fields) => void logs.push({ level, msg, ...fields }),
    worker: "w",
    secret: "s",
    allow: NONE,
    attempts: 3,
    backoffMs: 10,
    pollMs: 50,
    render: (job) => ({ id: job.id }),
  });
  try {
    // Accepted when the receiver was allowed (or its name resolved elsewhere), then ended.
    const made = await submitJob(kv, { owner: "o", params: testParams(), webhookUrl: r.url }, {
      maxDepth: 10,
      idempotencyTtlMs: 60_000,
    });
    const id = (made as { job: JobRecord }).job.id;
    await cancelJob(kv, id, 60_000);
    loop.start();
    const deadline = Date.now() + 5000;
    while ((await getJob(kv, id))!.webhook!.state === "pending" && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.deepEqual((await getJob(kv, id))!.webhook, {
      url: r.url,
      attempts: 1,
      delivered: false,
      state: "failed",
    });
    assert.equal(r.received.length, 0);
    const line = logs.find((x) => x.msg === "webhook failed" && x.job === id)!;
    assert.match(String(line.error), /^not sent: address 127\.0\.0\.1 is not a public address/);
  } finally {
    await loop.stop(1000);
    kv.close();
    await r.server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

/** Starts the service in-process with one nightly schedule sending to `webhook`; removes its folder. */
async function startWithSchedule(webhook: string, env: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "webhook_target_sched_" });
  const path = `${dir}/schedules.json`;
  const schedules = [{
    name: "nightly",
    cron: "0 3 * * *",
    request: { prompt: "owl", size: "64x64" },
    destination: { webhook },
  }];
  await Deno.writeTextFile(path, JSON.stringify({ schedules }));
  try {
    const settings = { HYDIT_SCHEDULES: path, HYDIT_WEBHOOK_SECRET: "s", ...env };
    await startInProcess({ dir, generator: fakeGenerator(1), env: settings });
    throw new Error("the service started");
  } catch (e) {
    return (e as Error).message;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a schedule whose destination.webhook is internal fails start-up naming file, schedule and field", async () => {
  const message = await startWithSchedule("http://169.254.169.254/latest/meta-data", {
    HYDIT_PUBLIC_URL: "https://images.example.com",
  });
  assert.match(message, /schedules\.json", schedule "nightly": destination\.webhook/);
  assert.match(message, /169\.254\.169\.254 is not a public address \(link-local\)/);
});

Deno.test("a schedule with a webhook destination needs HYDIT_PUBLIC_URL for its links", async () => {
  const message = await startWithSchedule("http://127.0.0.1:9/hook", {
    HYDIT_WEBHOOK_ALLOW: "127.0.0.1",
  });
  assert.match(
    message,
    /"nightly"\), field "request": a webhook destination needs HYDIT_PUBLIC_URL/,
  );
});
