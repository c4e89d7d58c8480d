/**
 * Stream resumption without I/O (DESIGN.md "Delivery guarantees"). Each tracker keeps the last `seq` it
 * applied, drops what it already has, says when it sees a gap, and folds a rejoin ack (replay, or a snapshot
 * when `recovered: false`) into the same view, so the application sees each change once and in order.
 */
import type { EventJoinReply, EventMatchupPush, EventResultPush, EventFinishedPush, EventTallyPush, Job, JobDonePush, JobFailedPush, JobProgressPush, JobWatchAck, LiveEvent, LiveEventMatchup } from './contract.js';
import type { StudioDelta, StudioDone, StudioMessage, StudioOpenAck } from './studio-contract.js';

/** What changed a view: the first state, a live push, a push replayed after a reconnect, or a fresh snapshot. */
export type Cause = { kind: 'snapshot' } | { kind: 'push' | 'replay'; event: string };

// ---------------- jobs ----------------

export type JobView = Pick<Job, 'id' | 'type' | 'status' | 'stage' | 'progress' | 'message' | 'result' | 'error' | 'seq'>;
export type JobPush = { event: 'job:progress'; data: JobProgressPush } | { event: 'job:done'; data: JobDonePush } | { event: 'job:failed'; data: JobFailedPush };

export class JobTracker {
  view: JobView | null = null;
  constructor(readonly jobId: string) {}

  get since(): number | undefined {
    return this.view?.seq;
  }

  /** A push; returns false when it was a duplicate or older than what the view holds. */
  push(p: JobPush): boolean {
    const v = this.view;
    if (!v || p.data.jobId !== this.jobId || p.data.seq <= v.seq) return false;
    if (p.event === 'job:progress') {
      const d = p.data;
      this.view = { ...v, seq: d.seq, status: d.status, stage: d.stage, progress: d.progress, message: d.message };
    } else if (p.event === 'job:done') {
      this.view = { ...v, seq: p.data.seq, status: 'completed', progress: 1, result: p.data.result };
    } else {
      this.view = { ...v, seq: p.data.seq, status: p.data.status, error: p.data.error };
    }
    return true;
  }

  /** The job:watch ack: replayed pushes first (each reported), then the snapshot if it is newer. */
  ack(a: JobWatchAck, report: (cause: Cause) => void): void {
    if (!this.view || !a.recovered) {
      if (!this.view || a.job.seq >= this.view.seq) {
        this.view = pick(a.job);
        report({ kind: 'snapshot' });
      }
      return;
    }
    for (const e of a.events) {
      if (this.push(e as JobPush)) report({ kind: 'replay', event: e.event });
    }
    if (a.job.seq > this.view.seq) {
      this.view = pick(a.job);
      report({ kind: 'snapshot' });
    }
  }
}

const pick = (j: Job): JobView => ({ id: j.id, type: j.type, status: j.status, stage: j.stage, progress: j.progress, message: j.message, result: j.result, error: j.error, seq: j.seq });

// ---------------- live events ----------------

export interface EventView extends LiveEvent {
  my_vote: 'left' | 'right' | null;
  /** server clock minus local clock (ms), from the latest server_now: add to Date.now() to count down to closes_at. */
  clock_offset_ms: number;
}

export type EventPush =
  | { event: 'event:matchup'; data: EventMatchupPush }
  | { event: 'event:result'; data: EventResultPush }
  | { event: 'event:finished'; data: EventFinishedPush }
  | { event: 'event:tally'; data: EventTallyPush };

export type PushOutcome = 'applied' | 'duplicate' | 'gap';

export class EventTracker {
  view: EventView | null = null;
  constructor(
    readonly eventId: number,
    private readonly now: () => number = Date.now,
  ) {}

  get since(): number | undefined {
    return this.view?.seq;
  }

  /** A push: applied, a duplicate (dropped), or a gap (a change was missed: rejoin with `since`). */
  push(p: EventPush): PushOutcome {
    const v = this.view;
    if (!v || p.data.eventId !== this.eventId) return 'duplicate';
    if (p.event === 'event:tally') {
      // A tally carries the seq of the change it follows: older is stale, newer means we missed that change.
      if (p.data.seq < v.seq) return 'duplicate';
      if (p.data.seq > v.seq) return 'gap';
      const { matchupId, left_votes, right_votes } = p.data;
      this.view = { ...v, matchups: v.matchups.map((m) => (m.id === matchupId ? { ...m, left_votes, right_votes } : m)) };
      return 'applied';
    }
    if (p.data.seq <= v.seq) return 'duplicate';
    if (p.data.seq > v.seq + 1) return 'gap';
    this.view = applyEntry(v, p, this.now());
    return 'applied';
  }

  /** The event:join ack: on a rejoin the missed entries are reported one by one, then the snapshot wins. */
  ack(a: EventJoinReply, report: (cause: Cause) => void): void {
    const prev = this.view;
    if (prev && a.recovered) {
      for (const m of a.missed) {
        const p = { event: m.type, data: m.payload } as unknown as EventPush;
        if (this.push(p) === 'applied') report({ kind: 'replay', event: m.type });
      }
    }
    if (!prev || a.event.seq >= (this.view?.seq ?? 0)) {
      this.view = { ...a.event, my_vote: a.my_vote, clock_offset_ms: Date.parse(a.event.server_now) - this.now() };
      report({ kind: 'snapshot' });
    }
  }

  /** The user's own vote, from the event:vote ack. */
  voted(matchupId: number, choice: 'left' | 'right'): void {
    if (this.view && this.view.current_matchup_id === matchupId) this.view = { ...this.view, my_vote: choice };
  }
}

function replaceMatchup(list: LiveEventMatchup[], m: LiveEventMatchup): LiveEventMatchup[] {
  return list.some((x) => x.id === m.id) ? list.map((x) => (x.id === m.id ? m : x)) : [...list, m];
}

function applyEntry(v: EventView, p: Exclude<EventPush, { event: 'event:tally' }>, now: number): EventView {
  if (p.event === 'event:matchup') {
    const d = p.data;
    return { ...v, seq: d.seq, status: 'live', matchups: replaceMatchup(v.matchups, d.matchup), current_matchup_id: d.matchup.id, my_vote: null, clock_offset_ms: Date.parse(d.server_now) - now };
  }
  if (p.event === 'event:result') {
    const d = p.data;
    let matchups = replaceMatchup(v.matchups, d.matchup);
    // The winner's next slot (bracket.ts: even slots feed the left side) shows before that matchup opens.
    if (d.next_matchup_id !== null && d.matchup.winner_id !== null) {
      const side = d.matchup.slot % 2 === 0 ? 'left_id' : 'right_id';
      matchups = matchups.map((m) => (m.id === d.next_matchup_id ? { ...m, [side]: d.matchup.winner_id } : m));
    }
    return { ...v, seq: d.seq, matchups, current_matchup_id: v.current_matchup_id === d.matchup.id ? null : v.current_matchup_id };
  }
  const d = p.data;
  return { ...v, seq: d.seq, status: 'finished', champion_id: d.champion_id, matchups: d.matchups, current_matchup_id: null };
}

// ---------------- studio sessions ----------------

export interface StudioView {
  sessionId: string;
  /** Oldest first. */
  messages: StudioMessage[];
  /** Text streamed so far per running job (latest attempt), until its message:done. */
  streaming: Record<string, string>;
  /** Stage and progress per running job (from job:progress on /studio). */
  progress: Record<string, { stage: string | null; progress: number }>;
  /** The session stream's last applied seq (message:delta / message:done). */
  seq: number;
}

export type StudioPush = { event: 'message:delta'; data: StudioDelta } | { event: 'message:done'; data: StudioDone };

export class StudioTracker {
  view: StudioView | null = null;
  private readonly attempts = new Map<string, number>();
  constructor(public sessionId: string | null) {}

  get since(): number | undefined {
    return this.view?.seq;
  }

  /** A session-stream push: false when a duplicate or older; 'gap' when a seq was skipped. */
  push(p: StudioPush): PushOutcome {
    const v = this.view;
    if (!v || p.data.sessionId !== v.sessionId || p.data.seq <= v.seq) return 'duplicate';
    if (p.data.seq > v.seq + 1) return 'gap';
    if (p.event === 'message:delta') {
      const d = p.data;
      // A retried job streams again from the start: keep only the latest attempt's text.
      const prev = this.attempts.get(d.jobId) ?? d.attempt;
      this.attempts.set(d.jobId, Math.max(prev, d.attempt));
      if (d.attempt < prev) {
        this.view = { ...v, seq: d.seq };
        return 'applied';
      }
      const base = d.attempt > prev ? '' : (v.streaming[d.jobId] ?? '');
      this.view = { ...v, seq: d.seq, streaming: { ...v.streaming, [d.jobId]: base + d.text } };
      return 'applied';
    }
    const m = p.data.message;
    const streaming = { ...v.streaming };
    const progress = { ...v.progress };
    delete streaming[p.data.jobId];
    delete progress[p.data.jobId];
    // The same id again is the reply replaced (an admin retry of a failed job that then succeeded).
    const messages = v.messages.some((x) => x.id === m.id) ? v.messages.map((x) => (x.id === m.id ? m : x)) : [...v.messages, m];
    this.view = { ...v, seq: p.data.seq, messages, streaming, progress };
    return 'applied';
  }

  progressed(p: { sessionId: string; jobId: string; stage: string | null; progress: number }): boolean {
    const v = this.view;
    if (!v || p.sessionId !== v.sessionId || !(p.jobId in v.streaming || v.progress[p.jobId] || p.progress < 1)) return false;
    this.view = { ...v, progress: { ...v.progress, [p.jobId]: { stage: p.stage, progress: p.progress } } };
    return true;
  }

  /** session:open ack: the first one (or `recovered: false`) is a snapshot; a recovered re-open replays. */
  ack(a: StudioOpenAck, report: (cause: Cause) => void): void {
    const prev = this.view && this.view.sessionId === a.sessionId ? this.view : null;
    this.sessionId = a.sessionId;
    if (prev && a.recovered) {
      for (const e of a.events) {
        if (this.push(e as StudioPush) === 'applied') report({ kind: 'replay', event: e.event });
      }
      if (a.seq <= this.view!.seq) return;
    }
    // Newest first on the wire; oldest first here. Jobs still running keep a slot for their text.
    const messages = [...a.messages].reverse();
    const streaming: Record<string, string> = {};
    for (const p of a.pending) streaming[p.jobId] = prev?.streaming[p.jobId] ?? '';
    this.view = { sessionId: a.sessionId, messages, streaming, progress: prev?.progress ?? {}, seq: a.seq };
    report({ kind: 'snapshot' });
  }

  /** The user's own message, from the message:send ack, before the reply streams in. */
  sent(m: StudioMessage, jobId: string): void {
    const v = this.view;
    if (!v || v.messages.some((x) => x.id === m.id)) return;
    this.view = { ...v, messages: [...v.messages, m], streaming: { ...v.streaming, [jobId]: v.streaming[jobId] ?? '' } };
  }
}
