/**
 * Where a webhook may go. A `webhook_url` (or a schedule's `destination.webhook`) must be http(s)
 * without credentials in it.
 *
 * @module
 */

/** Why `url` cannot be a webhook target (scheme, credentials), or null when its form is fine. */
export function webhookUrlProblem(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "must be an absolute http or https URL";
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    return "must be an http or https URL";
  }
  if (parsed.username !== "" || parsed.password !== "") {
    return "must not carry credentials (user:password@): authenticate the request by its signature";
  }
  return null;
}
