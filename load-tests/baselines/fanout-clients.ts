/**
 * Viewers for load-tests/fanout.ts: a child process holding many WebSocket connections that speak just enough
 * of the socket.io v4 protocol (engine.io 4 over `ws`: open, namespace connect with `auth: { token }`, ping →
 * pong, event packets) to count `bench:tick` broadcasts and time them. Far cheaper per message than
 * socket.io-client, so the server, not the viewers, is what runs out first. Commands over IPC:
 *   { cmd: 'connect', urls, count, token, concurrency }   opens `count` viewers, round-robin over `urls`
 *   { cmd: 'phase', name: 'paced' | 'burst' }             zeroes the counters; paced records every delay
 *   { cmd: 'report' }                                      → { received, delays (µs, paced), lastAt (µs) }
 *   { cmd: 'close' }
 */
import WebSocket from 'ws';
import { nowMicros } from './fanout-driver.js';

const sockets: WebSocket[] = [];
let phase: 'paced' | 'burst' = 'paced';
let received = 0;
let lastAt = 0;
let delays: number[] = [];
const TICK = '42["bench:tick",';

function open(url: string, token: string): Promise<WebSocket> {
  const wsUrl = `${url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl, { perMessageDeflate: false });
    const timer = setTimeout(() => reject(new Error(`handshake timeout ${url}`)), 30_000);
    ws.on('message', (data: Buffer) => {
      const text = data.toString();
      if (text.startsWith(TICK)) {
        const at = nowMicros();
        received++;
        lastAt = at;
        if (phase === 'paced') {
          const t = Number(/"t":(\d+)/.exec(text)?.[1]);
          delays.push(at - t);
        }
      } else if (text === '2') ws.send('3');
      else if (text.startsWith('0{')) ws.send(`40${JSON.stringify({ token })}`);
      else if (text.startsWith('40{')) {
        clearTimeout(timer);
        resolve(ws);
      } else if (text.startsWith('44')) {
        clearTimeout(timer);
        reject(new Error(`connect refused: ${text}`));
      }
    });
    ws.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

process.on('message', (raw) => {
  const msg = raw as { cmd: string; urls?: string[]; count?: number; token?: string; concurrency?: number; name?: 'paced' | 'burst' };
  void (async () => {
    if (msg.cmd === 'connect') {
      let next = 0;
      const lane = async () => {
        while (next < msg.count!) {
          const i = next++;
          sockets.push(await open(msg.urls![i % msg.urls!.length]!, msg.token!));
        }
      };
      await Promise.all(Array.from({ length: Math.min(msg.concurrency ?? 50, msg.count!) }, lane));
      process.send!({ ok: true, cmd: 'connect', connected: sockets.length });
    } else if (msg.cmd === 'phase') {
      phase = msg.name!;
      received = 0;
      lastAt = 0;
      delays = [];
      process.send!({ ok: true, cmd: 'phase' });
    } else if (msg.cmd === 'report') {
      process.send!({ ok: true, cmd: 'report', received, lastAt, delays, open: sockets.filter((s) => s.readyState === WebSocket.OPEN).length });
    } else if (msg.cmd === 'close') {
      for (const s of sockets) s.terminate();
      process.send!({ ok: true, cmd: 'close' });
      setTimeout(() => process.exit(0), 50);
    }
  })().catch((err: unknown) => process.send!({ ok: false, cmd: msg.cmd, error: String(err) }));
});
