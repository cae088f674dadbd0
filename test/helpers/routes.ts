/**
 * The routes a Fastify app has registered, read from its route tree
 * (app.printRoutes), so that tests can be generated from the route table and
 * a route added later cannot be left out.
 */
import type { FastifyInstance } from 'fastify';

export interface RouteEntry {
  method: string;
  /** The full path as registered, lower-cased (the router is case-insensitive). */
  path: string;
}

/**
 * Every method and path of the app. printRoutes({ commonPrefix: false })
 * draws one node per path segment, indented by depth, each with the methods
 * registered on it: "│   ├── /users (GET, HEAD, POST)".
 */
export function registeredRoutes(app: FastifyInstance): RouteEntry[] {
  const tree = app.printRoutes({ commonPrefix: false });
  const stack: string[] = [];
  const routes: RouteEntry[] = [];
  for (const line of tree.split('\n')) {
    const m = /^([│ ]*)[├└]── (.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = [...m[1]!].length / 4;
    stack.length = depth;
    stack.push(m[2]!);
    const path = stack.join('');
    for (const method of (m[3] ?? '').split(',').map((s) => s.trim()).filter(Boolean)) routes.push({ method, path: path.toLowerCase() });
  }
  return routes;
}
