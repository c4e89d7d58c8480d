import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface ChildHub {
  url: string;
  pid: number;
  /** Every JSON log line the child printed so far. */
  logs: { msg?: string; [key: string]: unknown }[];
  /** SIGTERM (graceful drain); resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL: the process dies at once, as in a crash. */
  kill(): Promise<void>;
}

export interface ChildHubOptions {
  env: Record<string, string>;
  /** Extra node flags before `--import tsx` (e.g. another `--import` hook). */
  nodeArgs?: string[];
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * `src/main.ts --hub` as its own process, configured only through the environment like a deployed node.
 * Needed where one process cannot host the setup: socket.io's uWS integration patches the adapter
 * prototype process-wide for the last app attached, so two uWS hubs cannot share a process.
 */
export async function startChildHub(options: ChildHubOptions): Promise<ChildHub> {
  const child: ChildProcess = spawn(process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', 'src/main.ts', '--hub'], {
    env: { PATH: process.env.PATH, NODE_ENV: 'test', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...options.env },
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  const logs: ChildHub['logs'] = [];
  child.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child hub did not start: ${stderr.join('')}`)), 45_000);
    void exited.then((code) => reject(Object.assign(new Error(`child hub exited with ${code}: ${stderr.join('')}`), { code, stderr: stderr.join('') })));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let entry: ChildHub['logs'][number];
      try {
        entry = JSON.parse(line) as ChildHub['logs'][number];
      } catch {
        return; // not a log line (npm noise)
      }
      logs.push(entry);
      if (entry.msg === 'hub listening' && typeof entry.port === 'number') {
        clearTimeout(timer);
        resolve(entry.port);
      }
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    logs,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
