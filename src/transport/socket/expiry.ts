import type { Socket } from 'socket.io';

/** Where a socket sits in the wheel: the second (epoch) its bucket fires, 0 when unarmed. Kept on socket.data. */
interface ExpiryData {
  due: number;
}

export interface ExpiryWheel {
  /** (Re-)arms the socket to expire at `expiresAt` (epoch seconds); a past time fires on the next tick. */
  arm(socket: Socket, expiresAt: number): void;
  disarm(socket: Socket): void;
  /** Sockets armed now (tests, metrics). */
  readonly size: number;
}

export interface ExpiryWheelOptions {
  onExpire: (socket: Socket) => void;
  tickMs?: number;
  now?: () => number;
}

/**
 * Token expiry for many sockets: each socket sits in a bucket for the second its token expires, and one
 * interval walks the seconds as they pass and fires their buckets. A setTimeout per socket would cost a
 * Timeout object and a closure per socket and put every socket on the timer list; here a socket costs one
 * Set entry, and sockets whose tokens expire in the same second share a bucket. A socket fires at most one
 * tick (about a second) after its token's `exp`. The interval runs only while some socket is armed, so an
 * idle hub keeps no timer; a far expiry (a worker token's year) costs one Map lookup per tick, not a timer.
 */
export function createExpiryWheel(options: ExpiryWheelOptions): ExpiryWheel {
  const { onExpire, tickMs = 1000, now = Date.now } = options;
  const buckets = new Map<number, Set<Socket>>();
  let armed = 0;
  /** Every bucket up to and including this second has fired. */
  let cursor = 0;
  let timer: NodeJS.Timeout | null = null;

  const data = (socket: Socket) => socket.data as ExpiryData;

  function tick(): void {
    const second = Math.floor(now() / 1000);
    while (cursor < second) {
      cursor++;
      const due = buckets.get(cursor);
      if (!due) continue;
      buckets.delete(cursor);
      for (const socket of due) {
        armed--;
        data(socket).due = 0;
        onExpire(socket);
      }
    }
    if (armed === 0 && timer) {
      clearInterval(timer);
      timer = null;
    }
  }

  function disarm(socket: Socket): void {
    const due = data(socket).due;
    if (!due) return;
    data(socket).due = 0;
    const bucket = buckets.get(due);
    if (!bucket?.delete(socket)) return;
    armed--;
    if (bucket.size === 0) buckets.delete(due);
  }

  return {
    arm(socket, expiresAt) {
      disarm(socket);
      if (!timer) {
        cursor = Math.floor(now() / 1000) - 1;
        timer = setInterval(tick, tickMs);
        // Live sockets keep the process up anyway; the wheel alone must not.
        timer.unref();
      }
      const due = Math.max(expiresAt, cursor + 1);
      let bucket = buckets.get(due);
      if (!bucket) buckets.set(due, (bucket = new Set()));
      bucket.add(socket);
      data(socket).due = due;
      armed++;
    },
    disarm,
    get size() {
      return armed;
    },
  };
}
