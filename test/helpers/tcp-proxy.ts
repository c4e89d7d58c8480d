import { createServer, connect, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  url: string;
  /** Stops reading from both sides: the peers' writes pile up in kernel buffers, as on a stalled network. */
  stall(): void;
  resume(): void;
  close(): Promise<void>;
}

/**
 * A loopback TCP relay to `127.0.0.1:targetPort` whose traffic can be frozen: a client behind it that
 * "stops reading" without closing its connection, which is what a phone in a tunnel looks like to a server.
 */
// Unpiped, not just paused: a pipe resumes its source on the destination's next 'drain'.
function freeze([a, b]: [Socket, Socket]): void {
  a.unpipe(b);
  b.unpipe(a);
  a.pause();
  b.pause();
}

function thaw([a, b]: [Socket, Socket]): void {
  a.pipe(b);
  b.pipe(a);
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<[Socket, Socket]>();
  let stalled = false;
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    if (stalled) freeze(pair);
    else thaw(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    stall() {
      stalled = true;
      for (const pair of pairs) freeze(pair);
    },
    resume() {
      stalled = false;
      for (const pair of pairs) thaw(pair);
    },
    async close() {
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

export interface FailoverProxy {
  port: number;
  url: string;
  close(): Promise<void>;
}

/**
 * The simplest load balancer: each new connection goes to the first of `ports` that accepts it. With the
 * first node killed, reconnecting clients land on the next one, as behind a real balancer's health check.
 */
export async function startFailoverProxy(ports: number[]): Promise<FailoverProxy> {
  const live = new Set<Socket>();
  const server = createServer((client) => {
    live.add(client);
    client.pause();
    const attempt = (i: number) => {
      if (i >= ports.length || client.destroyed) return void client.destroy();
      const upstream = connect(ports[i]!, '127.0.0.1');
      upstream.once('error', () => attempt(i + 1));
      upstream.once('connect', () => {
        upstream.removeAllListeners('error');
        live.add(upstream);
        const end = () => {
          client.destroy();
          upstream.destroy();
          live.delete(client);
          live.delete(upstream);
        };
        client.on('error', end).on('close', end);
        upstream.on('error', end).on('close', end);
        client.pipe(upstream);
        upstream.pipe(client);
      });
    };
    attempt(0);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    async close() {
      for (const s of live) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
