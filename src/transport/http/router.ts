import type { AnyRoute } from './types.js';

interface Compiled {
  route: AnyRoute;
  segments: string[];
}

export interface Match {
  route: AnyRoute;
  params: Record<string, string>;
}

/** Path router: `/api/v1/images/:id` segments, exact methods, HEAD served by GET routes. */
export class Router {
  private readonly compiled: Compiled[] = [];

  add(...routes: AnyRoute[]): this {
    for (const route of routes) {
      this.compiled.push({ route, segments: route.path.split('/').filter(Boolean) });
    }
    return this;
  }

  get routes(): AnyRoute[] {
    return this.compiled.map((c) => c.route);
  }

  /** The matched route, `'method'` if the path exists for other methods, or null. */
  match(method: string, path: string): Match | 'method' | null {
    const parts = path.split('/').filter(Boolean);
    const wanted = method === 'HEAD' ? 'GET' : method;
    let pathMatched = false;
    for (const { route, segments } of this.compiled) {
      const params = matchSegments(segments, parts);
      if (!params) continue;
      if (route.method === wanted) return { route, params };
      pathMatched = true;
    }
    return pathMatched ? 'method' : null;
  }

  /** For the 405 Allow header: HEAD is listed wherever GET is, since `match` serves it. */
  allowedMethods(path: string): string[] {
    const parts = path.split('/').filter(Boolean);
    const methods = new Set(this.compiled.filter((c) => matchSegments(c.segments, parts)).map((c) => c.route.method as string));
    if (methods.has('GET')) methods.add('HEAD');
    return [...methods];
  }
}

function matchSegments(segments: string[], parts: string[]): Record<string, string> | null {
  if (segments.length !== parts.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    const part = parts[i]!;
    if (seg.startsWith(':')) {
      try {
        params[seg.slice(1)] = decodeURIComponent(part);
      } catch {
        return null; // malformed percent-encoding never matches a parameter
      }
    } else if (seg !== part) {
      return null;
    }
  }
  return params;
}
