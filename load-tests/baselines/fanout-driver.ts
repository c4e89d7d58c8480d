/**
 * The server half of load-tests/fanout.ts, shared by every side so each runs the same loop: a child process
 * that takes commands from the parent over IPC and broadcasts `bench:tick` `{ seq, t }` (t: the monotonic
 * clock in µs, which every process on the machine shares) to the room `bench` in namespace '/'.
 *   { cmd: 'join' }                         every connected socket (all nodes, through the adapter) joins `bench`
 *   { cmd: 'paced', rate, seconds }         `rate` broadcasts a second for `seconds`
 *   { cmd: 'burst', count }                 `count` broadcasts back to back (yielding to I/O every 16)
 * Each answers { ok: true, ... } when done.
 */
import { setImmediate as yieldToIo } from 'node:timers/promises';

export const nowMicros = (): number => Number(process.hrtime.bigint() / 1000n);

export interface FanoutTarget {
  /** Every socket of namespace '/' joins the room (on every node). */
  joinAll(): Promise<void> | void;
  /** One broadcast to the room. */
  emit(payload: { seq: number; t: number }): void;
  /** Sockets in the room on this node. */
  localMembers(): Promise<number> | number;
}

export function serveFanoutCommands(target: FanoutTarget): void {
  let seq = 0;
  process.on('message', (raw) => {
    const msg = raw as { cmd: string; rate?: number; seconds?: number; count?: number };
    const reply = (m: Record<string, unknown>) => process.send?.({ ok: true, cmd: msg.cmd, ...m });
    void (async () => {
      if (msg.cmd === 'join') {
        await target.joinAll();
        // socketsJoin on remote nodes is asynchronous: give it a moment, then report this node's members.
        await new Promise((r) => setTimeout(r, 300));
        reply({ members: await target.localMembers() });
      } else if (msg.cmd === 'paced') {
        const interval = 1000 / msg.rate!;
        const total = Math.round(msg.rate! * msg.seconds!);
        const start = performance.now();
        const first = seq;
        for (let i = 0; i < total; i++) {
          const due = start + i * interval;
          const wait = due - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          target.emit({ seq: seq++, t: nowMicros() });
        }
        reply({ first, sent: total });
      } else if (msg.cmd === 'burst') {
        const first = seq;
        const startedAt = nowMicros();
        for (let i = 0; i < msg.count!; i++) {
          target.emit({ seq: seq++, t: nowMicros() });
          if (i % 16 === 15) await yieldToIo();
        }
        reply({ first, sent: msg.count, startedAt, emittedIn: nowMicros() - startedAt });
      }
    })().catch((err: unknown) => process.send?.({ ok: false, cmd: msg.cmd, error: String(err) }));
  });
}
