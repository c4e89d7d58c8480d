/**
 * The runtime this suite runs on: `.ci/run` runs the whole suite twice, on the machine's Node (20 here) and on
 * the Node LTS the Docker image uses (24, from the npm registry), with EXPECT_NODE_VERSION set for the second run.
 * Native modules must load on both: sharp and onnxruntime-node are N-API (one binary for every Node),
 * uWebSockets.js ships one binary per ABI and per glibc baseline.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as UwsModule from 'uWebSockets.js';
import { describe, expect, it } from 'vitest';
import { STRINGS_AS_UTF8, utf8 } from '../../src/transport/http/uws-strings.js';
import { connectSocket, nextEvent, registerAndLogin } from '../helpers/clients.js';
import { createTestDatabase } from '../helpers/db.js';
import { startTestHub } from '../helpers/hub.js';

const require = createRequire(import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { engines: { node: string } };
const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');
const ciRun = readFileSync(new URL('../../.ci/run', import.meta.url), 'utf8');

type Version = [number, number, number];
const parse = (v: string): Version => v.replace(/^v/, '').split('.').map(Number) as Version;
const cmp = (a: Version, b: Version) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];

/** The subset of semver ranges `engines` uses: `^x.y.z`, `>=x.y.z`, joined by `||`. */
function satisfies(version: string, range: string): boolean {
  const v = parse(version);
  return range.split('||').some((part) => {
    const p = part.trim();
    const m = /^(\^|>=)(\d+\.\d+\.\d+)$/.exec(p);
    if (!m) throw new Error(`unsupported range part '${p}'`);
    const base = parse(m[2]!);
    return m[1] === '>=' ? cmp(v, base) >= 0 : v[0] === base[0] && cmp(v, base) >= 0;
  });
}

describe('runtime', () => {
  it('runs on the Node version CI asked for (EXPECT_NODE_VERSION), and one that engines allows', () => {
    if (process.env.EXPECT_NODE_VERSION) expect(process.version).toBe(process.env.EXPECT_NODE_VERSION);
    expect(satisfies(process.version, pkg.engines.node)).toBe(true);
  });

  it('engines: allows Node 20.19+, 22.17+ (MikroORM 7\'s floor) and the 24 LTS; refuses older lines', () => {
    const range = pkg.engines.node;
    for (const ok of ['20.19.0', '20.20.2', '22.17.0', '24.11.0', '24.22.3', '26.0.0']) expect(satisfies(ok, range), ok).toBe(true);
    for (const no of ['18.20.0', '20.9.0', '21.7.0', '22.16.0', '23.11.0', '24.0.0']) expect(satisfies(no, range), no).toBe(false);
  });

  it('the Docker image and the CI LTS run use the same Node major, on a glibc that uWebSockets.js accepts', () => {
    const image = /^FROM node:(\d+)-([a-z]+)-slim$/m.exec(dockerfile);
    const ci = /^LTS_NODE_VERSION="\$\{LTS_NODE_VERSION:-(\d+)\.\d+\.\d+\}"$/m.exec(ciRun);
    expect(image, 'Dockerfile FROM node:<major>-<debian>-slim').not.toBeNull();
    expect(ci, '.ci/run LTS_NODE_VERSION').not.toBeNull();
    expect(image![1]).toBe(ci![1]);
    // bookworm's glibc 2.36 cannot load uWS's Node 22+ binaries (they need 2.38): the image would run node:http.
    expect(image![2]).not.toBe('bookworm');
    expect(satisfies(`${ci![1]}.22.3`, pkg.engines.node)).toBe(true);
  });

  it('loads uWebSockets.js, sharp and onnxruntime-node on this Node', async () => {
    const uws = require('uWebSockets.js') as { App: unknown };
    expect(typeof uws.App).toBe('function');

    const sharp = (await import('sharp')).default;
    const png = await sharp({ create: { width: 4, height: 3, channels: 3, background: '#f00' } }).png().toBuffer();
    expect(await sharp(png).metadata()).toMatchObject({ width: 4, height: 3, format: 'png' });

    const ort = await import('onnxruntime-node');
    const tensor = new ort.Tensor('float32', Float32Array.from([1, 2, 3]), [3]);
    expect(tensor.dims).toEqual([3]);
    expect(typeof ort.InferenceSession.create).toBe('function');
  });

  it('uWS string encoding: the Node 22+ binaries send one-byte strings as Latin-1, so strings go as UTF-8 Buffers there', async () => {
    const uws = require('uWebSockets.js') as typeof UwsModule;
    const app = uws.App();
    app.get('/raw', (res) => void res.end('éé ok'));
    app.get('/utf8', (res) => void res.end(utf8('éé ok')));
    const port = await new Promise<number>((resolve) => app.listen('127.0.0.1', 0, (ls) => resolve(uws.us_socket_local_port(ls))));
    try {
      const raw = await (await fetch(`http://127.0.0.1:${port}/raw`)).text();
      // The workaround is on exactly where the loaded binary needs it (a fixed uWS release turns this red).
      expect(raw === 'éé ok').toBe(!STRINGS_AS_UTF8);
      expect(await (await fetch(`http://127.0.0.1:${port}/utf8`)).text()).toBe('éé ok');
    } finally {
      app.close();
    }
  });

  it('a hub on uWS keeps Latin-1 text intact in room broadcasts (app.publish) and per-socket frames (ws.send), and keeps the socket', async () => {
    const db = await createTestDatabase();
    const hub = await startTestHub({ dbUrl: db.url, engine: 'uws' });
    try {
      const user = await registerAndLogin(hub.url, 'runtime_latin1');
      const socket = await connectSocket(hub.url, '/', user.token);
      try {
        const text = 'Zoë, café, señor: éàü';
        const direct = nextEvent<{ text: string }>(socket, 'runtime:text');
        hub.app.notifier.toUser(user.userId, 'runtime:text', { text });
        expect((await direct).text).toBe(text);
        // Two rooms leave socket.io's uWS fast path (app.publish): each socket's frame goes through ws.send.
        const again = nextEvent<{ text: string }>(socket, 'runtime:text');
        hub.app.io.of('/').to([`user:${user.userId}`, 'runtime-other']).emit('runtime:text', { text: `${text}!` });
        expect((await again).text).toBe(`${text}!`);
        expect(socket.connected).toBe(true);
      } finally {
        socket.close();
      }
    } finally {
      await hub.stop();
      await db.drop();
    }
  });
});
