import { AppError } from '../../platform/errors.js';

/**
 * Socket event handlers in flight on this node, for the graceful drain: once `refuse()` is called new events
 * get a `shutting_down` ack (the client retries after it reconnects to another node), and the hub waits for
 * the running handlers (`idle`) before it closes the transports, so their acks still reach the clients.
 */
export class SocketDrain {
  private running = 0;
  private refusing = false;

  get inFlight(): number {
    return this.running;
  }

  /** Counts one handler in; throws the ack error while draining. Pair with `leave()`. */
  enter(): void {
    if (this.refusing) throw new AppError(503, 'shutting_down', 'this node is shutting down; retry once reconnected');
    this.running++;
  }

  leave(): void {
    this.running--;
  }

  refuse(): void {
    this.refusing = true;
  }

  /** Resolves when no handler runs, or at `deadline` (epoch ms) at the latest. */
  async idle(deadline: number): Promise<void> {
    while (this.running > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  }
}
