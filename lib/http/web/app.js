// The page at `/`: generate with live progress and preview, cancel, and browse this key's recent
// jobs. Plain browser JavaScript over the public API (no build step, no dependencies).

const $ = (id) => document.getElementById(id);
const KEY = "hydit.apiKey";
const state = { job: null, stream: null, cursor: null };

/** An API error: the HTTP status and the server's error body, shown as they are. */
class ApiError extends Error {
  constructor(status, body) {
    const error = body && typeof body === "object" ? body.error : null;
    super(error ? error.message : String(body || `HTTP ${status}`));
    this.status = status;
    this.code = error ? error.code : null;
  }
}

function authHeaders(extra = {}) {
  const key = localStorage.getItem(KEY) || "";
  return key ? { ...extra, authorization: `Bearer ${key}` } : extra;
}

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: authHeaders(body ? { "content-type": "application/json" } : {}),
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let data = text;
  try {
    data = JSON.parse(text);
  } catch { /* not JSON: keep the text */ }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

function showError(error) {
  const box = $("error");
  box.hidden = false;
  box.textContent = error instanceof ApiError
    ? `${error.status}${error.code ? ` ${error.code}` : ""}: ${error.message}`
    : String(error && error.message ? error.message : error);
  if (error instanceof ApiError && error.status === 401) $("key").focus();
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

function setStatus(text) {
  $("status").textContent = text;
}

/** Fills the form's choices and defaults from GET /v1/models. */
async function loadModel() {
  const models = await api("GET", "/v1/models");
  const model = models.data[0];
  $("model").textContent = `${model.id}: ${model.description}`;
  const sizes = [...new Set([model.defaults.size, ...model.sizes])];
  $("size").replaceChildren(...sizes.map((size) => new Option(size, size)));
  $("size").value = model.defaults.size;
  $("steps").value = model.defaults.steps;
  $("guidance").value = model.defaults.guidance_scale;
  $("sampler").value = model.defaults.sampler;
}

function requestBody() {
  const body = {
    prompt: $("prompt").value,
    size: $("size").value,
    steps: Number($("steps").value),
    guidance_scale: Number($("guidance").value),
    sampler: $("sampler").value,
  };
  if ($("negative").value !== "") body.negative_prompt = $("negative").value;
  if ($("seed").value !== "") body.seed = Number($("seed").value);
  return body;
}

function setRunning(running) {
  $("go").disabled = running;
  $("cancel").disabled = !running;
  $("progress").hidden = !running;
}

async function generate(event) {
  event.preventDefault();
  clearError();
  setStatus("");
  $("image").hidden = true;
  $("preview").hidden = true;
  $("download").hidden = true;
  $("progress").value = 0;
  let job;
  try {
    job = await api("POST", "/v1/jobs", requestBody());
  } catch (error) {
    showError(error);
    return;
  }
  state.job = job.id;
  setRunning(true);
  setStatus(`Queued (seed ${job.seed})`);
  const started = performance.now();
  try {
    await follow(job, started);
  } catch (error) {
    if (error.name !== "AbortError") showError(error);
  } finally {
    setRunning(false);
    state.job = null;
    loadGallery(true);
  }
}

/** Reads the job's SSE stream (fetch, so the key goes in a header) until it ends. */
async function follow(job, started) {
  const controller = new AbortController();
  state.stream = controller;
  const res = await fetch(`/v1/jobs/${job.id}/events`, {
    headers: authHeaders(),
    signal: controller.signal,
  });
  if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => null));
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const name = /^event: (.*)$/m.exec(block);
      const data = /^data: (.*)$/m.exec(block);
      if (name && data && onEvent(name[1], JSON.parse(data[1]), job, started)) {
        controller.abort();
        return;
      }
    }
  }
}

/** Shows one event; true when the job has ended. */
function onEvent(name, data, job, started) {
  if (name === "queued") {
    setStatus(`Queued: position ${data.position ?? "?"}, seed ${job.seed}`);
  } else if (name === "started") {
    setStatus(`Started, seed ${job.seed}`);
  } else if (name === "step") {
    $("progress").value = data.step / data.steps;
    const rate = data.stepSeconds > 0 ? ` · ${(1 / data.stepSeconds).toFixed(1)} steps/s` : "";
    setStatus(`Step ${data.step}/${data.steps}${rate} · seed ${job.seed}`);
    if (data.preview) {
      $("preview").src = data.preview;
      $("preview").hidden = false;
    }
  } else if (name === "image") {
    showImage(data.url);
  } else if (name === "succeeded") {
    if (data.images[0]) showImage(data.images[0].url);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    setStatus(`Done in ${seconds} s · seed ${data.seed}`);
    return true;
  } else if (name === "failed") {
    showError(new ApiError(500, { error: data.error }));
    setStatus("Failed");
    return true;
  } else if (name === "cancelled") {
    setStatus("Cancelled");
    return true;
  }
  return false;
}

function showImage(url) {
  $("image").src = url;
  $("image").hidden = false;
  $("download").href = url;
  $("download").hidden = false;
}

async function cancel() {
  if (!state.job) return;
  try {
    await api("DELETE", `/v1/jobs/${state.job}`);
    setStatus("Cancelling…");
  } catch (error) {
    showError(error);
  }
}

/** Puts a job's parameters back into the form. */
function reuse(request) {
  $("prompt").value = request.prompt;
  $("negative").value = request.negative_prompt;
  if (![...$("size").options].some((o) => o.value === request.size)) {
    $("size").append(new Option(request.size, request.size));
  }
  $("size").value = request.size;
  $("steps").value = request.steps;
  $("guidance").value = request.guidance_scale;
  $("sampler").value = request.sampler;
  $("seed").value = request.seed;
  globalThis.scrollTo({ top: 0, behavior: "smooth" });
}

function card(job) {
  const r = job.request;
  const div = document.createElement("div");
  div.className = "card";
  const image = job.images[0];
  const picture = document.createElement(image ? "img" : "div");
  if (image) {
    picture.src = image.url;
    picture.alt = r.prompt;
  } else {
    picture.className = "placeholder";
    picture.textContent = job.status;
  }
  picture.title = "Use these settings";
  picture.addEventListener("click", () => reuse(r));
  div.append(picture);
  const prompt = document.createElement("p");
  prompt.textContent = r.prompt;
  prompt.addEventListener("click", () => reuse(r));
  const params = document.createElement("p");
  params.className = "muted";
  params.textContent =
    `${job.status} · ${r.size} · ${r.steps} steps · guidance ${r.guidance_scale}` +
    ` · ${r.sampler} · seed ${r.seed}`;
  div.append(prompt, params);
  if (image) {
    const link = document.createElement("a");
    link.href = image.url;
    link.download = `${job.id}.${image.format}`;
    link.textContent = "Download";
    div.append(link);
  }
  return div;
}

async function loadGallery(fresh) {
  if (fresh) state.cursor = null;
  const query = state.cursor ? `&cursor=${encodeURIComponent(state.cursor)}` : "";
  try {
    const page = await api("GET", `/v1/jobs?limit=12${query}`);
    const cards = page.data.map(card);
    if (fresh) $("gallery").replaceChildren(...cards);
    else $("gallery").append(...cards);
    state.cursor = page.next_cursor;
    $("more").hidden = page.next_cursor === null;
  } catch (error) {
    showError(error);
  }
}

async function start() {
  $("key").value = localStorage.getItem(KEY) || "";
  clearError();
  try {
    await loadModel();
    await loadGallery(true);
  } catch (error) {
    showError(error);
  }
}

$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  localStorage.setItem(KEY, $("key").value.trim());
  start();
});
$("generate").addEventListener("submit", generate);
$("cancel").addEventListener("click", cancel);
$("random-seed").addEventListener("click", () => {
  $("seed").value = Math.floor(Math.random() * 2 ** 32);
});
$("more").addEventListener("click", () => loadGallery(false));
start();
