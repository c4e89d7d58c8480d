import { describe, expect, it } from 'vitest';
import type { EventJoinReply, Job, LiveEventMatchup } from './contract.js';
import { EventTracker, JobTracker, StudioTracker, type Cause } from './streams.js';

const matchup = (id: number, slot: number, over: Partial<LiveEventMatchup> = {}): LiveEventMatchup => ({
  id, round: 0, slot, round_name: 'r1', status: 'pending', left_id: 10 + slot * 2, right_id: 11 + slot * 2, opens_at: null, closes_at: null, left_votes: 0, right_votes: 0, winner_id: null, decided_by: null, ...over,
});
const image = (id: number) => ({ id, owner_id: 1, prompt: 'p', media_sha256: 'x', thumb_url: 't', url: 'u' });

function joinAck(seq: number, over: Partial<EventJoinReply> = {}): EventJoinReply {
  const matchups = [matchup(1, 0), matchup(2, 1), { ...matchup(3, 0), round: 1, left_id: null, right_id: null }];
  return {
    event: { id: 7, name: 'e', status: 'live', entrants: 4, selection: 'top', window_ms: 1000, grace_ms: 0, sealed: false, seq, champion_id: null, created_at: '', started_at: null, finished_at: null, entries: [], matchups, current_matchup_id: null, server_now: new Date(0).toISOString() },
    my_vote: null,
    recovered: true,
    missed: [],
    ...over,
  };
}

describe('EventTracker', () => {
  it('applies entries in order, drops duplicates and reports gaps', () => {
    const t = new EventTracker(7, () => 0);
    const causes: Cause[] = [];
    t.ack(joinAck(0), (c) => causes.push(c));
    const open = { event: 'event:matchup' as const, data: { eventId: 7, seq: 1, matchup: matchup(1, 0, { status: 'open' }), left: image(10), right: image(11), grace_ms: 0, server_now: new Date(500).toISOString() } };
    expect(t.push(open)).toBe('applied');
    expect(t.view!.current_matchup_id).toBe(1);
    expect(t.view!.clock_offset_ms).toBe(500);
    expect(t.push(open)).toBe('duplicate');
    expect(t.push({ event: 'event:tally', data: { eventId: 7, seq: 1, matchupId: 1, left_votes: 3, right_votes: 1 } })).toBe('applied');
    expect(t.view!.matchups[0]).toMatchObject({ left_votes: 3, right_votes: 1 });
    expect(t.push({ event: 'event:tally', data: { eventId: 7, seq: 0, matchupId: 1, left_votes: 0, right_votes: 0 } })).toBe('duplicate');
    expect(t.push({ event: 'event:tally', data: { eventId: 7, seq: 2, matchupId: 1, left_votes: 9, right_votes: 9 } })).toBe('gap');
    const result = { event: 'event:result' as const, data: { eventId: 7, seq: 2, matchup: matchup(1, 0, { status: 'closed', winner_id: 10, left_votes: 3, right_votes: 1, decided_by: 'votes' }), next_matchup_id: 3 } };
    expect(t.push({ ...result, data: { ...result.data, seq: 3 } })).toBe('gap');
    expect(t.push(result)).toBe('applied');
    expect(t.view!.current_matchup_id).toBeNull();
    // The winner of slot 0 shows on the left of the next round's matchup.
    expect(t.view!.matchups.find((m) => m.id === 3)!.left_id).toBe(10);
    expect(t.push({ event: 'event:result', data: { ...result.data, eventId: 8, seq: 3 } })).toBe('duplicate');
  });

  it('replays missed entries once, then lets the snapshot win; recovered:false is a snapshot only', () => {
    const t = new EventTracker(7, () => 0);
    const causes: string[] = [];
    const report = (c: Cause) => causes.push(c.kind === 'snapshot' ? 'snapshot' : `${c.kind}:${c.event}`);
    t.ack(joinAck(0), report);
    const opened = { type: 'event:matchup' as const, payload: { eventId: 7, seq: 1, matchup: matchup(1, 0, { status: 'open' }), left: image(10), right: image(11), grace_ms: 0, server_now: new Date(0).toISOString() } };
    const closed = { type: 'event:result' as const, payload: { eventId: 7, seq: 2, matchup: matchup(1, 0, { status: 'closed', winner_id: 11 }), next_matchup_id: 3 } };
    t.ack(joinAck(2, { missed: [opened, closed] }), report);
    expect(causes).toEqual(['snapshot', 'replay:event:matchup', 'replay:event:result', 'snapshot']);
    expect(t.view!.seq).toBe(2);
    causes.length = 0;
    t.ack(joinAck(9, { recovered: false }), report);
    expect(causes).toEqual(['snapshot']);
    expect(t.view!.seq).toBe(9);
  });
});

describe('JobTracker', () => {
  const job = (seq: number, over: Partial<Job> = {}): Job => ({ id: 'j', type: 'upscale', owner_id: 1, status: 'active', stage: 's', progress: 0, message: null, priority: 0, attempts: 1, max_attempts: 3, input: {}, result: null, error: null, cost: null, seq, created_at: '', started_at: null, finished_at: null, updated_at: '', ...over });

  it('folds pushes by seq and a rejoin replay without repeating anything', () => {
    const t = new JobTracker('j');
    const causes: string[] = [];
    const report = (c: Cause) => causes.push(c.kind);
    expect(t.push({ event: 'job:progress', data: { jobId: 'j', seq: 1, status: 'active', stage: 's', progress: 0.1, message: null } })).toBe(false); // before the snapshot
    t.ack({ job: job(2, { progress: 0.2 }), events: [], recovered: true }, report);
    expect(t.push({ event: 'job:progress', data: { jobId: 'j', seq: 2, status: 'active', stage: 's', progress: 0.2, message: null } })).toBe(false);
    expect(t.push({ event: 'job:progress', data: { jobId: 'j', seq: 3, status: 'active', stage: 's', progress: 0.3, message: null } })).toBe(true);
    t.ack({ job: job(5, { progress: 1, status: 'completed', result: { ok: 1 } }), events: [
      { event: 'job:progress', data: { jobId: 'j', seq: 3, status: 'active', stage: 's', progress: 0.3, message: null } },
      { event: 'job:progress', data: { jobId: 'j', seq: 4, status: 'active', stage: 's', progress: 0.4, message: null } },
      { event: 'job:done', data: { jobId: 'j', seq: 5, status: 'completed', result: { ok: 1 } } },
    ], recovered: true }, report);
    expect(causes).toEqual(['snapshot', 'replay', 'replay']);
    expect(t.view).toMatchObject({ seq: 5, status: 'completed', result: { ok: 1 } });
  });
});

describe('StudioTracker', () => {
  const msg = (id: string, jobId: string | null, content: string, role: 'user' | 'assistant' = 'assistant') => ({ id, session_id: 's1', role, content, image: null, job_id: jobId, status: 'done' as const, error: null, meta: null, created_at: '' });
  const ack = (over: Record<string, unknown> = {}) => ({ sessionId: 's1', messages: [], next_cursor: null, created: false, seq: 0, events: [], recovered: true, pending: [], ...over });

  it('concatenates deltas once each (latest attempt only) and moves the text into the final message', () => {
    const t = new StudioTracker(null);
    t.ack(ack(), () => {});
    const d = (seq: number, text: string, attempt = 1) => ({ event: 'message:delta' as const, data: { sessionId: 's1', jobId: 'j1', seq, text, attempt } });
    expect(t.push(d(1, 'Hel'))).toBe('applied');
    expect(t.push(d(1, 'Hel'))).toBe('duplicate');
    expect(t.push(d(3, 'x'))).toBe('gap');
    expect(t.push(d(2, 'lo'))).toBe('applied');
    expect(t.view!.streaming.j1).toBe('Hello');
    expect(t.push(d(3, 'Hi', 2))).toBe('applied'); // a retry starts over
    expect(t.view!.streaming.j1).toBe('Hi');
    expect(t.push({ event: 'message:done', data: { sessionId: 's1', jobId: 'j1', seq: 4, message: msg('5', 'j1', 'Hi') } })).toBe('applied');
    expect(t.view!.streaming).toEqual({});
    expect(t.view!.messages.map((m) => m.id)).toEqual(['5']);
    // A failed reply retried by an admin comes again under the same id: it replaces the first.
    expect(t.push({ event: 'message:done', data: { sessionId: 's1', jobId: 'j1', seq: 5, message: { ...msg('5', 'j1', 'Hi again'), status: 'done' } } })).toBe('applied');
    expect(t.view!.messages.map((m) => m.content)).toEqual(['Hi again']);
  });

  it('replays a recovered re-open and takes the snapshot (oldest first) otherwise', () => {
    const t = new StudioTracker('s1');
    const causes: string[] = [];
    const report = (c: Cause) => causes.push(c.kind);
    t.ack(ack({ messages: [msg('2', 'j0', 'reply'), msg('1', null, 'brief', 'user')], seq: 2, pending: [{ jobId: 'j1', messageId: '3' }] }), report);
    expect(t.view!.messages.map((m) => m.id)).toEqual(['1', '2']);
    expect(t.view!.streaming).toEqual({ j1: '' });
    t.ack(ack({ seq: 4, events: [{ event: 'message:delta', data: { sessionId: 's1', jobId: 'j1', seq: 3, text: 'Go', attempt: 1 } }, { event: 'message:delta', data: { sessionId: 's1', jobId: 'j1', seq: 4, text: '!', attempt: 1 } }] }), report);
    expect(t.view!.streaming.j1).toBe('Go!');
    t.ack(ack({ seq: 9, recovered: false, messages: [msg('6', 'j1', 'Go!'), msg('2', 'j0', 'reply'), msg('1', null, 'brief', 'user')] }), report);
    expect(causes).toEqual(['snapshot', 'replay', 'replay', 'snapshot']);
    expect(t.view!.messages.map((m) => m.id)).toEqual(['1', '2', '6']);
    expect(t.view!.seq).toBe(9);
  });
});
