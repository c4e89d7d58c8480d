/**
 * Peer for load-tests/auth-me.ts: the least code that does what the hub's `GET /api/v1/auth/me` does,
 * on node:http + pg + jose. Same work per request: Bearer parsing, the same HS256 verification (pinned
 * algorithm, issuer, audience, required claims, clock tolerance, zod claim check), the same auth-state
 * cache (TTL map: role and token version, one `select` on a miss), the same token-version check, and
 * the same one named prepared statement for the body. What it lacks is the hub's framework: routing,
 * problem details, request ids, metrics, logging.
 * VERIFY=jose (default) verifies with jose's jwtVerify, as a minimal server would; VERIFY=hmac uses the
 * hub's own synchronous node:crypto HS256 verifier (src/modules/identity/hs256.ts), so the two peers
 * bracket the hub: the first shows what a user gets from the usual library, the second the framework
 * overhead alone.
 * Environment: PORT, DATABASE_URL, JWT_SECRET, ISSUER, AUDIENCE, POOL_MAX, CACHE_TTL_MS, VERIFY.
 */
import { createServer, type ServerResponse } from 'node:http';
import { jwtVerify } from 'jose';
import pg from 'pg';
import { z } from 'zod';
import { createHs256Verifier } from '../../src/modules/identity/hs256.js';

const port = Number(process.env.PORT ?? 8092);
// Imported once, as the hub does (tokens.ts).
const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(process.env.JWT_SECRET ?? ''), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
const issuer = process.env.ISSUER ?? 'easel';
const audience = process.env.AUDIENCE ?? 'easel';
const ttlMs = Number(process.env.CACHE_TTL_MS ?? 30_000);
const hmacVerify = process.env.VERIFY === 'hmac'
  ? createHs256Verifier({ secret: process.env.JWT_SECRET ?? '', issuer, audience, clockToleranceSeconds: 5, requiredClaims: ['exp', 'iat', 'jti', 'sub'] })
  : null;
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.POOL_MAX ?? 10) });

const Claims = z.object({
  typ: z.literal('access'),
  sub: z.string().regex(/^user:[1-9][0-9]{0,15}$/),
  role: z.enum(['user', 'admin']),
  jti: z.string().min(1),
  exp: z.number().int(),
  ver: z.int().min(0).optional(),
});

const cache = new Map<number, { role: string; version: number; expiresAt: number } | { gone: true; expiresAt: number }>();

async function authState(id: number) {
  const hit = cache.get(id);
  if (hit && hit.expiresAt > Date.now()) return hit;
  const { rows } = await pool.query({ name: 'peer_auth_state', text: 'select role, token_version from users where id = $1', values: [id] });
  const entry = rows[0] ? { role: rows[0].role as string, version: Number(rows[0].token_version), expiresAt: Date.now() + ttlMs } : { gone: true as const, expiresAt: Date.now() + ttlMs };
  cache.set(id, entry);
  return entry;
}

const fail = (res: ServerResponse, status: number) => res.writeHead(status, { 'content-type': 'application/json' }).end(`{"status":${status}}`);

const server = createServer((req, res) => {
  if (req.url === '/') return void res.end('ok');
  const token = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
  if (!token || token.length > 8192) return fail(res, 401);
  void (async () => {
    let claims: z.infer<typeof Claims>;
    try {
      const payload = hmacVerify ? hmacVerify(token) : (await jwtVerify(token, key, { algorithms: ['HS256'], issuer, audience, clockTolerance: 5, requiredClaims: ['exp', 'iat', 'jti', 'sub'] })).payload;
      claims = Claims.parse(payload);
    } catch {
      return fail(res, 401);
    }
    const id = Number(claims.sub.slice(5));
    const state = await authState(id);
    if ('gone' in state || (claims.ver ?? 0) < state.version) return fail(res, 401);
    const { rows } = await pool.query({ name: 'peer_auth_me', text: 'select id, username, display_name, role, created_at from users where id = $1', values: [id] });
    const row = rows[0];
    if (!row) return fail(res, 404);
    const body = JSON.stringify({ id: row.id, username: row.username, display_name: row.display_name ?? null, role: row.role, created_at: new Date(row.created_at).toISOString() });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
  })().catch(() => fail(res, 500));
});
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => void pool.end().then(() => process.exit(0))));
