import type { ChildProcess } from 'node:child_process';

/**
 * Resolves with the child's exit status once it has exited and its stdout has ended (or 2 s after exit, if
 * something else still holds the pipe). Node can emit 'exit' before the child's last output is read, so a
 * test that checks the final log lines ("stopped") right after 'exit' could miss them.
 */
export function exited(child: ChildProcess, timeoutMs: number, what = 'child'): Promise<{ code: number | null; signal: string | null }> {
  const status = () => ({ code: child.exitCode, signal: child.signalCode });
  const gone = new Promise<void>((done, fail) => {
    if (child.exitCode !== null || child.signalCode !== null) return done();
    const timer = setTimeout(() => fail(new Error(`${what} still running ${timeoutMs} ms after SIGTERM`)), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      done();
    });
  });
  const drained = new Promise<void>((done) => {
    if (!child.stdout || child.stdout.readableEnded || child.stdout.destroyed) return done();
    child.stdout.once('end', done);
    child.stdout.once('close', done);
  });
  return gone.then(() => Promise.race([drained, new Promise<void>((r) => setTimeout(r, 2_000))])).then(status);
}

/** Whether a process with this pid exists (EPERM: it does, owned by someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
