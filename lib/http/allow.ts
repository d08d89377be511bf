/**
 * `405 Method Not Allowed` support: the methods the app's routes accept for a path, for the `Allow`
 * header. Pure over the route table (Hono's `app.routes`); middleware (`ALL`) is not a route.
 *
 * @module
 */

/** One route of the table: its method and Hono path pattern (`/v1/jobs/:id`). */
export interface RouteEntry {
  method: string;
  path: string;
}

function patternOf(path: string): RegExp {
  const source = path.split("/").map((part) =>
    part.startsWith(":") ? "[^/]+" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
  ).join("/");
  return new RegExp(`^${source}$`);
}

/**
 * Builds a lookup from a path to the methods its routes accept (sorted; HEAD wherever GET is, as
 * Hono answers HEAD with the GET route); an empty list means no route has the path.
 */
export function allowedMethods(routes: readonly RouteEntry[]): (pathname: string) => string[] {
  const table = new Map<string, Set<string>>();
  for (const { method, path } of routes) {
    if (method === "ALL" || path.includes("*")) continue;
    const methods = table.get(path) ?? new Set<string>();
    methods.add(method);
    if (method === "GET") methods.add("HEAD");
    table.set(path, methods);
  }
  const patterns = [...table].map(([path, methods]) => ({ re: patternOf(path), methods }));
  return (pathname) => {
    const found = new Set<string>();
    for (const { re, methods } of patterns) {
      if (re.test(pathname)) methods.forEach((m) => found.add(m));
    }
    return [...found].sort();
  };
}
