import type { Redis } from 'ioredis';

/**
 * The per-session stream behind `since` (DESIGN.md "Delivery guarantees"): every `message:delta` and
 * `message:done` of a chat session takes the session's next seq and is kept in a bounded history, so a
 * client that reconnects mid-reply sends the last seq it saw and gets what it missed, or `recovered:
 * false` when the history no longer reaches back (then the stored messages are the truth).
 *
 * With Redis the seq and history live there (one Lua call per entry: INCR, ZADD, trim, expire), so every
 * node numbers and replays the same stream; without Redis (single node) they live in this process. Appends
 * for one session run in order (a promise chain), so pushes leave in seq order.
 */

export interface StreamEntry {
  event: string;
  data: Record<string, unknown> & { seq: number };
}

export interface Replay {
  /** The session's newest seq. */
  seq: number;
  events: StreamEntry[];
  recovered: boolean;
}

export interface SessionStream {
  /** Numbers and stores an entry (after every earlier append for the session), then hands it to `emit`. */
  append(sessionId: string, event: string, data: Record<string, unknown>, emit: (entry: StreamEntry) => void): Promise<StreamEntry>;
  replay(sessionId: string, since: number | undefined): Promise<Replay>;
  /** Resolves once every append started so far for the session is done. */
  idle(sessionId: string): Promise<void>;
}

interface Backend {
  add(sessionId: string, event: string, data: Record<string, unknown>): Promise<StreamEntry>;
  read(sessionId: string, since: number): Promise<{ seq: number; entries: StreamEntry[] }>;
}

function memoryBackend(keep: number, maxSessions = 10_000): Backend {
  const sessions = new Map<string, { seq: number; entries: StreamEntry[] }>();
  const get = (id: string) => {
    let s = sessions.get(id);
    if (s) {
      sessions.delete(id);
    } else {
      s = { seq: 0, entries: [] };
      if (sessions.size >= maxSessions) sessions.delete(sessions.keys().next().value as string);
    }
    sessions.set(id, s);
    return s;
  };
  return {
    async add(id, event, data) {
      const s = get(id);
      const entry = { event, data: { ...data, seq: ++s.seq } };
      s.entries.push(entry);
      if (s.entries.length > keep) s.entries.splice(0, s.entries.length - keep);
      return entry;
    },
    async read(id, since) {
      const s = sessions.get(id);
      return { seq: s?.seq ?? 0, entries: s ? s.entries.filter((e) => e.data.seq > since) : [] };
    },
  };
}

const ADD_SCRIPT = `
local seq = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], seq, seq .. '|' .. ARGV[1])
local n = redis.call('ZCARD', KEYS[2])
if n > tonumber(ARGV[2]) then redis.call('ZREMRANGEBYRANK', KEYS[2], 0, n - tonumber(ARGV[2]) - 1) end
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return seq`;

function redisBackend(redis: Redis, prefix: string, keep: number, ttlSeconds: number): Backend {
  const keys = (id: string) => [`${prefix}studio:seq:${id}`, `${prefix}studio:hist:${id}`] as const;
  const parse = (raw: string): StreamEntry => {
    const bar = raw.indexOf('|');
    const seq = Number(raw.slice(0, bar));
    const { event, data } = JSON.parse(raw.slice(bar + 1)) as { event: string; data: Record<string, unknown> };
    return { event, data: { ...data, seq } };
  };
  return {
    async add(id, event, data) {
      const [seqKey, histKey] = keys(id);
      const seq = Number(await redis.eval(ADD_SCRIPT, 2, seqKey, histKey, JSON.stringify({ event, data }), keep, ttlSeconds));
      return { event, data: { ...data, seq } };
    },
    async read(id, since) {
      const [seqKey, histKey] = keys(id);
      // One transaction, so an append cannot land between reading the counter and the history.
      const res = await redis.multi().get(seqKey).zrangebyscore(histKey, `(${since}`, '+inf').exec();
      const [[e1, seq], [e2, raw]] = res as [[Error | null, string | null], [Error | null, string[]]];
      if (e1 || e2) throw e1 ?? e2;
      return { seq: Number(seq ?? 0), entries: raw.map(parse) };
    },
  };
}

export function createSessionStream(opts: { redis: Redis | null; prefix: string; keep: number; ttlSeconds: number }): SessionStream {
  const backend = opts.redis ? redisBackend(opts.redis, opts.prefix, opts.keep, opts.ttlSeconds) : memoryBackend(opts.keep);
  const chains = new Map<string, Promise<unknown>>();
  return {
    append(sessionId, event, data, emit) {
      const prev = chains.get(sessionId) ?? Promise.resolve();
      const next = prev.catch(() => {}).then(async () => {
        const entry = await backend.add(sessionId, event, data);
        emit(entry);
        return entry;
      });
      chains.set(sessionId, next);
      void next.catch(() => {}).finally(() => {
        if (chains.get(sessionId) === next) chains.delete(sessionId);
      });
      return next;
    },
    async replay(sessionId, since) {
      await chains.get(sessionId)?.catch(() => {});
      const { seq, entries } = await backend.read(sessionId, since ?? seq0);
      if (since === undefined || since >= seq) return { seq, events: [], recovered: since === undefined || since === seq };
      // Everything after `since` must still be there, starting right after it.
      const recovered = entries.length === seq - since && entries[0]?.data.seq === since + 1;
      return { seq, events: recovered ? entries : [], recovered };
    },
    async idle(sessionId) {
      await chains.get(sessionId)?.catch(() => {});
    },
  };
}

const seq0 = Number.MAX_SAFE_INTEGER;
