import { describe, expectTypeOf, it } from 'vitest';
import type { EmitPayload, EmitReply, PushPayload } from './contract.js';
import type { Easel } from './connection.js';

// Compile-time checks (tsc runs them; vitest only loads the file): the SDK's event maps follow the hub's schemas.
describe('event maps', () => {
  it('types acks and pushes from the schemas', () => {
    expectTypeOf<EmitPayload<'/tournament', 'event:vote'>>().toEqualTypeOf<{ eventId: number; matchupId: number; choice: number | 'left' | 'right' }>();
    expectTypeOf<EmitReply<'/tournament', 'event:join'>['event']['matchups'][number]['winner_id']>().toEqualTypeOf<number | null>();
    expectTypeOf<EmitReply<'/', 'job:watch'>['recovered']>().toEqualTypeOf<boolean>();
    expectTypeOf<PushPayload<'/', 'job:progress'>['seq']>().toEqualTypeOf<number>();
    expectTypeOf<PushPayload<'/studio', 'message:delta'>>().toHaveProperty('attempt');
    expectTypeOf<EmitReply<'/studio', 'message:send'>>().toEqualTypeOf<{ jobId: string; messageId: string; sessionId: string }>();
  });

  it('refuses unknown events and payloads at compile time', () => {
    const misuse = (e: Easel) => {
      // @ts-expect-error no such event on '/'
      void e.request('/', 'job:wtch', { jobId: 'x' });
      // @ts-expect-error job:watch takes jobId, not job
      void e.request('/', 'job:watch', { job: 'x' });
      // @ts-expect-error event:vote belongs to /tournament
      void e.request('/studio', 'event:vote', { eventId: 1, matchupId: 1, choice: 'left' });
    };
    expectTypeOf(misuse).toBeFunction();
  });
});
