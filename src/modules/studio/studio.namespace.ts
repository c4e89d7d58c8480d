import { AppError } from '../../platform/errors.js';
import { socketEvent, type NamespaceSpec } from '../../transport/socket/namespace.js';
import { FailedPush, DonePush as JobDonePush } from '../jobs/jobs.schemas.js';
import { DeltaPush, DonePush, MessageCancelPayload, MessageSendAck, MessageSendPayload, SessionOpenAck, SessionOpenPayload, StudioProgressPush } from './studio.schemas.js';
import { messagesPage, requireSession, type StudioActor, type UrlFor } from './studio.sessions.js';
import { sessionRoom, type StudioService } from './studio.service.js';

/**
 * `/studio` (users and guests): `session:open` joins the session's room and answers with its latest
 * messages, what the stream had after `since`, and the replies still running; `message:send` queues a
 * generation. Pushes to the room: `job:progress` (with `sessionId`), `message:delta` (streamed text, with
 * the session's seq), `message:done` (the stored reply), `job:failed`/`job:done` (the job's own pushes).
 */
export function studioNamespace(deps: { studio: StudioService; urlFor: UrlFor }): NamespaceSpec {
  const { studio } = deps;
  const studioActor = (actor: { kind: string }): StudioActor => {
    if (actor.kind !== 'user' && actor.kind !== 'guest') throw new AppError(403, 'forbidden', 'users and guests only');
    return actor as StudioActor;
  };
  return {
    name: '/studio',
    access: 'actor',
    summary: 'Ad studio: chat sessions with streamed ad copy and images',
    events: [
      socketEvent({
        event: 'session:open',
        summary: 'Resume or start a session (junk ids start one); ack {sessionId, messages (newest first), events after `since`, recovered, pending}; joins its room',
        schema: SessionOpenPayload,
        reply: SessionOpenAck,
        handler: async ({ sessionId, since, guestToken }, { socket, actor, em }) => {
          const a = studioActor(actor);
          const { session, created } = await studio.open(em, a, sessionId, guestToken);
          // Joined before reading the stream: a push in between arrives as well (the client keeps the higher seq).
          await socket.join(sessionRoom(session.id));
          const replay = await studio.replay(session.id, since);
          const page = await messagesPage(em, session.id, 15, undefined, deps.urlFor);
          return {
            sessionId: session.id,
            messages: page.items,
            next_cursor: page.next_cursor,
            created,
            seq: replay.seq,
            events: replay.events.map((e) => ({ event: e.event, data: e.data })),
            recovered: replay.recovered,
            pending: await studio.pending(em, session.id),
          };
        },
      }),
      socketEvent({
        event: 'message:send',
        summary: 'Send a brief: stores the message and queues an ad_text or ad_image job; ack {jobId, messageId}',
        schema: MessageSendPayload,
        reply: MessageSendAck,
        handler: async (p, { socket, actor, em }) => {
          const a = studioActor(actor);
          const { sessionId, ...options } = p;
          // Ownership first: a refused sender must not end up in someone else's room.
          await requireSession(em, a, sessionId);
          await socket.join(sessionRoom(sessionId));
          return studio.submit(em, a, sessionId, options);
        },
      }),
      socketEvent({
        event: 'message:cancel',
        summary: 'Stop the running reply of this session: ack {jobId, status}; message:done follows with status failed, code cancelled',
        schema: MessageCancelPayload,
        handler: async ({ sessionId, jobId }, { actor, em }) => studio.cancel(em, studioActor(actor), sessionId, jobId),
      }),
      socketEvent({
        event: 'session:close',
        summary: 'Stop following a session',
        schema: SessionOpenPayload.pick({ sessionId: true }),
        handler: async ({ sessionId }, { socket }) => {
          if (sessionId) await socket.leave(sessionRoom(sessionId));
          return { sessionId };
        },
      }),
    ],
    pushes: [
      { event: 'message:delta', summary: 'Streamed text of a reply; `seq` is the session stream’s; concatenate the deltas of the latest `attempt`', schema: DeltaPush },
      { event: 'message:done', summary: 'The stored reply (copy; for images the hash and URLs); status failed with error when the job failed', schema: DonePush },
      { event: 'job:progress', summary: 'Stage (pending, ingesting, generating, persisting, retrying) and progress of a reply’s job', schema: StudioProgressPush },
      { event: 'job:done', summary: 'The job completed (its result); message:done follows', schema: JobDonePush },
      { event: 'job:failed', summary: 'The job failed for good or was cancelled; message:done follows with the error', schema: FailedPush },
    ],
  };
}
