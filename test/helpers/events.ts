import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { Socket } from 'socket.io-client';
import { api, emitAck } from './clients.js';

/** Event settings that keep tests fast: short windows, a quick clock, short leases. */
export const FAST_EVENTS = { windowMs: 600, graceMs: 150, tickMs: 40, leaseMs: 800, tallyMs: 100, breakMs: 60, historySize: 256, voteBatchMs: 2 };

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `n` active images owned by `ownerId`, written straight to the database (media rows with made-up hashes):
 * events only need rows, and decoding dozens of uploads would dominate the test's time.
 */
export async function seedImages(sql: pg.Client, ownerId: number, n: number, optIn = true): Promise<number[]> {
  const hashes = Array.from({ length: n }, () => randomBytes(32).toString('hex'));
  await sql.query(`insert into media (sha256, format, width, height, size) select h, 'png', 8, 8, 100 from unnest($1::text[]) h`, [hashes]);
  const rows = await sql.query<{ id: number }>(
    `insert into images (user_id, media_sha256, prompt, tournament_opt_in) select $1, h, 'seeded ' || h, $2 from unnest($3::text[]) with ordinality t(h, o) order by o returning id`,
    [ownerId, optIn, hashes],
  );
  return rows.rows.map((r) => r.id).sort((a, b) => a - b);
}

export async function adminToken(base: string, username: string, password: string): Promise<string> {
  const tok = await api(base, 'POST', '/api/v1/auth/token', { json: { username, password } });
  if (tok.status !== 200) throw new Error(`admin token: ${tok.status} ${JSON.stringify(tok.body)}`);
  return tok.body.access_token as string;
}

export type Push = { type: string; payload: any }; // eslint-disable-line @typescript-eslint/no-explicit-any

const TYPES = ['event:matchup', 'event:tally', 'event:result', 'event:finished'] as const;

/** Records every event push a socket receives, in order, and waits for the ones a test needs. */
export class Watcher {
  readonly pushes: Push[] = [];
  private waiters: { pred: (p: Push) => boolean; resolve: (p: Push) => void }[] = [];

  constructor(readonly socket: Socket) {
    for (const type of TYPES) {
      socket.on(type, (payload: unknown) => {
        const p = { type, payload };
        this.pushes.push(p);
        this.waiters = this.waiters.filter((w) => (w.pred(p) ? (w.resolve(p), false) : true));
      });
    }
  }

  of(type: string): Push['payload'][] {
    return this.pushes.filter((p) => p.type === type).map((p) => p.payload);
  }

  /** The first push (already received or still to come) that matches. */
  wait(pred: (p: Push) => boolean, timeoutMs = 15_000): Promise<Push> {
    const seen = this.pushes.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching push within ${timeoutMs}ms; got ${this.pushes.map((p) => `${p.type}#${p.payload.seq}`).join(' ')}`)), timeoutMs);
      this.waiters.push({ pred, resolve: (p) => (clearTimeout(timer), resolve(p)) });
    });
  }

  /** The first push of this type, received already or to come. */
  first(type: string, timeoutMs = 15_000): Promise<Push['payload']> {
    return this.wait((p) => p.type === type, timeoutMs).then((p) => p.payload);
  }

  /** The next push of this type after the ones already seen. */
  next(type: string, timeoutMs = 15_000, where: (payload: Push['payload']) => boolean = () => true): Promise<Push['payload']> {
    const seen = this.pushes.length;
    return this.wait((p) => p.type === type && this.pushes.indexOf(p) >= seen && where(p.payload), timeoutMs).then((p) => p.payload);
  }
}

export function join(socket: Socket, eventId: number, since?: number) {
  return emitAck(socket, 'event:join', since === undefined ? { eventId } : { eventId, since });
}

export function vote(socket: Socket, eventId: number, matchupId: number, choice: 'left' | 'right' | number) {
  return emitAck(socket, 'event:vote', { eventId, matchupId, choice });
}
