/** The aborted flag and callbacks both response sinks keep; `fire` runs once, when the client goes away. */
export class AbortTracker {
  aborted = false;
  private readonly handlers: (() => void)[] = [];

  onAborted(cb: () => void): void {
    this.handlers.push(cb);
  }

  fire(): void {
    if (this.aborted) return;
    this.aborted = true;
    for (const cb of this.handlers) cb();
  }
}
