/**
 * The page at `/` in a real headless Chromium (Debian's `chromium`, driven by playwright-core) over
 * the whole service in-process with the bundled hydit-tiny model: the key is asked for and kept,
 * a generation shows advancing progress and a changing live preview, then the image and a gallery
 * card that refills the form; a job is cancelled; bad input shows the API's error as it is; the
 * layout fits a phone. Screenshots go to tests/artifacts/. Skipped, saying so, without Chromium.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { chromium, type Page } from "playwright-core";
import { bundledEngines } from "../../engines/bundled.ts";
import { startInProcess } from "../service/_in_process.ts";

const KEY = "web-test-key-0001";
const ARTIFACTS = fileURLToPath(new URL("../artifacts/", import.meta.url));

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

const executable = [Deno.env.get("HYDIT_CHROMIUM"), "/usr/bin/chromium"].find((p) =>
  p && exists(p)
);
if (!executable) {
  console.warn(
    "tests/web/page_test.ts: SKIPPED, no Chromium (apt-get install -y chromium fonts-noto-cjk, or set HYDIT_CHROMIUM)",
  );
}

/** Records every value #progress and src #preview take, in the page (as `window.seen`). */
async function recordProgress(page: Page): Promise<void> {
  await page.evaluate(`{
    const seen = { progress: [], previews: [] };
    window.seen = seen;
    const progress = document.getElementById("progress");
    const preview = document.getElementById("preview");
    new MutationObserver(() => seen.progress.push(progress.value))
      .observe(progress, { attributes: true, attributeFilter: ["value"] });
    new MutationObserver(() => seen.previews.push(preview.src))
      .observe(preview, { attributes: true, attributeFilter: ["src"] });
  }`);
}

/** Waits until #status reads `text` (or starts with it, for `prefix`). */
async function statusIs(page: Page, text: string, prefix = false): Promise<void> {
  const status = 'document.getElementById("status").textContent';
  const test = prefix
    ? `${status}.startsWith(${JSON.stringify(text)})`
    : `${status} === ${JSON.stringify(text)}`;
  await page.waitForFunction(test, null, { timeout: 120_000 });
}

/** Adds a size the model does not list to the size menu and picks it. */
async function pickSize(page: Page, size: string): Promise<void> {
  await page.evaluate(`{
    const size = document.getElementById("size");
    size.append(new Option(${JSON.stringify(size)}, ${JSON.stringify(size)}));
    size.value = ${JSON.stringify(size)};
  }`);
}

Deno.test({
  name: "the web page generates with live preview, cancels, shows errors and fits a phone",
  ignore: !executable,
  async fn() {
    await Deno.mkdir(ARTIFACTS, { recursive: true });
    const server = await startInProcess({
      env: {
        HYDIT_ENGINES: await bundledEngines(() => {}),
        HYDIT_API_KEYS: KEY,
        HYDIT_MAX_SIDE: "512",
      },
    });
    const browser = await chromium.launch({ executablePath: executable, args: ["--no-sandbox"] });
    try {
      const page = await browser.newPage({
        viewport: { width: 1200, height: 900 },
        // The page's CSP forbids eval; the test's string predicates need it.
        bypassCSP: true,
      });
      await page.goto(server.url);
      // No key yet: the API's 401 is shown as it is.
      await page.waitForSelector("#error:not([hidden])");
      assert.match(
        await page.textContent("#error") ?? "",
        /^401 unauthorized: Send a valid API key/,
      );

      await page.fill("#key", KEY);
      await page.click("#key-form button");
      await page.waitForSelector("#size option", { state: "attached" });
      assert.equal(await page.evaluate(() => localStorage.getItem("hydit.apiKey")), KEY);
      assert.equal(await page.inputValue("#size"), "128x128");
      assert.equal(await page.inputValue("#steps"), "20");
      assert.equal(await page.inputValue("#sampler"), "dpmpp");

      // Generate: progress advances, the preview changes, then the image and a gallery card.
      await page.fill("#prompt", "黄色背景上的紫色星形");
      await page.fill("#steps", "30");
      await page.click("#random-seed");
      const seed = await page.inputValue("#seed");
      assert.match(seed, /^\d+$/);
      await recordProgress(page);
      await page.click("#go");
      await page.waitForSelector("#preview:not([hidden])");
      await page.screenshot({ path: `${ARTIFACTS}page-progress.png` });
      await statusIs(page, "Done", true);
      await page.waitForFunction('document.getElementById("image").complete');
      const seen = await page.evaluate("window.seen") as { progress: number[]; previews: string[] };
      const steps = seen.progress.filter((v) => v > 0);
      assert.ok(steps.length >= 2, `progress took ${steps.length} values`);
      assert.deepEqual(steps, [...steps].sort((a, b) => a - b), "progress only advances");
      assert.equal(steps.at(-1), 1);
      assert.ok(new Set(seen.previews).size >= 2, "the preview changed");
      const image = await page.evaluate(
        '({ src: document.getElementById("image").src, width: document.getElementById("image").naturalWidth })',
      ) as { src: string; width: number };
      assert.match(image.src, /\/v1\/images\/[0-9a-f]{32}\?expires=\d+&sig=/);
      assert.equal(image.width, 128);
      assert.equal(await page.getAttribute("#download", "href"), image.src);
      assert.match(await page.textContent("#status") ?? "", new RegExp(`seed ${seed}$`));
      await page.waitForSelector(".card img");
      await page.screenshot({ path: `${ARTIFACTS}page-done.png`, fullPage: true });

      // The gallery card puts its settings back into the form.
      await page.fill("#prompt", "");
      await page.click(".card img");
      assert.equal(await page.inputValue("#prompt"), "黄色背景上的紫色星形");
      assert.equal(await page.inputValue("#seed"), seed);
      assert.equal(await page.inputValue("#steps"), "30");

      // Cancel a long job while it runs.
      await page.fill("#prompt", "a long job to cancel");
      await page.fill("#steps", "200");
      await pickSize(page, "512x512");
      await page.click("#go");
      await statusIs(page, "Step", true);
      await page.click("#cancel");
      await statusIs(page, "Cancelled");
      assert.equal(await page.isDisabled("#go"), false);
      await page.waitForFunction(
        'document.querySelector(".card .muted").textContent.startsWith("cancelled")',
      );

      // Bad input: the API's 400 is shown verbatim.
      await pickSize(page, "100x100");
      await page.fill("#steps", "5");
      await page.click("#go");
      await page.waitForSelector("#error:not([hidden])");
      const error = await page.textContent("#error");
      assert.equal(
        error,
        "400 invalid_request: size: width 100 must be a multiple of 16 between 64 and 512",
      );
      await page.screenshot({ path: `${ARTIFACTS}page-error.png` });

      // A phone-sized screen: nothing wider than the viewport.
      await page.setViewportSize({ width: 390, height: 844 });
      await page.reload();
      await page.waitForSelector(".card img");
      const overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth",
      );
      assert.equal(overflow, 0);
      await page.screenshot({ path: `${ARTIFACTS}page-phone.png`, fullPage: true });
    } finally {
      await browser.close();
      await server.stop();
    }
  },
});
