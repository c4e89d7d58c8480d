import type { Config } from '../../platform/config.js';
import { UnsupportedMediaTypeError, ValidationError } from '../../platform/errors.js';
import { parseWith } from '../../platform/validation.js';
import { readLimited, parseBody } from '../../transport/http/body.js';
import { parseMultipart } from '../../transport/http/multipart.js';
import { json, noContent, route, type AnyRoute, type IncomingRequest } from '../../transport/http/types.js';
import type { MediaService, StoredMedia } from '../media/media.service.js';
import { CostHistory, costHistory, CostsHistoryQuery, CostsQuery, CostSummary, costSummary } from './studio.costs.js';
import { listGenerations } from './studio.generations.js';
import { AdEventBody, AdEventRecorded, createSegment, deleteSegment, listSegments, Overview, overview, OverviewQuery, SegmentBody, SegmentDto, SegmentList, SegmentParams, recordEvent } from './studio.insights.js';
import { GenerateFields, GenerateOptions, GenerateResponse, GenerateUploadDoc, GenerationsPage, GenerationsQuery, MessagesPage, PageQuery, SessionCreateBody, SessionCreated, SessionParams, SessionsPage } from './studio.schemas.js';
import { listSessions } from './studio.sessions.js';
import type { StudioService } from './studio.service.js';

const tags = ['studio'];

/** A JSON or form body, or `{}` when the request has none. */
async function optionalBody(request: IncomingRequest, limit: number): Promise<unknown> {
  if (!request.headers['content-type']) {
    const raw = await readLimited(request.body, limit, request.headers['content-length']);
    if (raw.toString('utf8').trim() !== '') throw new UnsupportedMediaTypeError("Expected application/json, got 'nothing'");
    return {};
  }
  return parseBody(request, 'form-or-json', limit);
}

/** The studio's HTTP routes (DESIGN.md "Studio"); the live side is the `/studio` namespace. */
export function studioRoutes(studio: StudioService, media: MediaService, config: Config): AnyRoute[] {
  const urlFor = (sha: string, v?: 'original' | 'thumb' | 'webp') => media.urlFor(sha, v);
  return [
    route({
      method: 'POST',
      path: '/api/v1/chat/sessions',
      summary: 'Resume a chat session or start one (a missing, junk or unknown id starts one); guest_token (users) attaches that guest’s sessions',
      tags,
      auth: 'actor',
      // An empty body (no content type) is allowed: it starts a session, as in seed 004.
      bodyKind: 'stream',
      body: SessionCreateBody,
      responses: { 200: SessionCreated, 201: SessionCreated, 400: null, 403: null, 415: null },
      handler: async ({ actor, em, request }) => {
        const body = parseWith(SessionCreateBody, await optionalBody(request, config.http.jsonLimitBytes), 'body');
        const out = await studio.open(em, actor, body.session_id, body.guest_token ?? request.headers['x-guest-token']);
        return json({ session_id: out.session.id, created: out.created, attached: out.attached }, out.created ? 201 : 200);
      },
    }),
    route({
      method: 'GET',
      path: '/api/v1/chat/sessions',
      summary: 'The caller’s chat sessions, most recently active first',
      tags,
      auth: 'actor',
      query: PageQuery(20),
      responses: { 200: SessionsPage },
      handler: async ({ actor, em, query }) => json(await listSessions(em, actor, query.limit, query.cursor)),
    }),
    route({
      method: 'GET',
      path: '/api/v1/chat/sessions/:id/messages',
      summary: 'Messages of the caller’s session, newest first (cursor paging, 15 by default)',
      tags,
      auth: 'actor',
      params: SessionParams,
      query: PageQuery(15),
      responses: { 200: MessagesPage, 403: null, 404: null },
      handler: async ({ actor, em, params, query }) => json(await studio.messages(em, actor, params.id, query.limit, query.cursor)),
    }),
    route({
      method: 'POST',
      path: '/api/v1/generate',
      summary: 'Ask for ad copy or an ad image (multipart: input_text, optional image, options); 202 with job_id and session_id; follow on /studio',
      tags,
      auth: 'actor',
      bodyKind: 'stream',
      body: GenerateUploadDoc,
      responses: { 202: GenerateResponse, 400: null, 403: null, 409: null, 413: null, 415: null, 422: null, 429: null, 503: null },
      handler: async ({ actor, em, request }) => {
        const { fields, files } = await parseMultipart(request, {
          limits: { ...config.uploads, maxFiles: 1 },
          fileFields: ['image'],
          onFile: (stream) => media.ingest(em, stream),
          onDiscard: (stored) => media.discard(em, stored),
        });
        const stored: StoredMedia[] = files.map((f) => f.result);
        try {
          const f = parseWith(GenerateFields, fields, 'body');
          const image = stored[0];
          if (image && f.options.imageSha256) throw new ValidationError('Send an image or image_sha256, not both', [{ path: 'body.image_sha256', message: 'not with an image' }]);
          const options = parseWith(GenerateOptions, { ...f.options, ...(image ? { imageSha256: image.sha256 } : {}) }, 'body');
          const { session } = await studio.open(em, actor, parseWith(SessionCreateBody, { session_id: f.sessionId }, 'body').session_id, f.guestToken ?? request.headers['x-guest-token']);
          if (image) await studio.rememberImage(em, actor, image.sha256);
          const out = await studio.submit(em, actor, session.id, options);
          return json({ job_id: out.jobId, session_id: out.sessionId, message_id: out.messageId, status: 'queued' }, 202, { location: `/api/v1/jobs/${out.jobId}` });
        } catch (err) {
          for (const s of stored) await media.discard(em.fork(), s).catch(() => {});
          throw err;
        }
      },
    }),
    route({
      method: 'GET',
      path: '/api/v1/generations',
      summary: 'The caller’s generation history (input, output, prompt, method, style, industry, seed, aspect ratio); filter by session, content type, period',
      tags,
      auth: 'actor',
      query: GenerationsQuery,
      responses: { 200: GenerationsPage },
      handler: async ({ actor, em, query }) => json(await listGenerations(em, actor, query, urlFor)),
    }),
    route({
      method: 'GET',
      path: '/api/v1/segments',
      summary: 'Target segments (own; admins all)',
      tags,
      auth: 'user',
      responses: { 200: SegmentList },
      handler: async ({ actor, em }) => json(await listSegments(em, actor)),
    }),
    route({
      method: 'POST',
      path: '/api/v1/segments',
      summary: 'Create a target segment (name, description, criteria as JSON)',
      tags,
      auth: 'user',
      body: SegmentBody,
      responses: { 201: SegmentDto },
      handler: async ({ actor, em, body }) => json(await createSegment(em, actor, body), 201),
    }),
    route({
      method: 'DELETE',
      path: '/api/v1/segments/:id',
      summary: 'Delete a segment (owner or admin)',
      tags,
      auth: 'user',
      params: SegmentParams,
      responses: { 204: null, 404: null },
      handler: async ({ actor, em, params }) => {
        await deleteSegment(em, actor, params.id);
        return noContent();
      },
    }),
    route({
      method: 'GET',
      path: '/api/v1/costs/summary',
      summary: 'Cost totals by type and by model for a period (own; admins everyone’s or one user’s)',
      tags,
      auth: 'user',
      query: CostsQuery,
      responses: { 200: CostSummary },
      handler: async ({ actor, em, query }) => json(await costSummary(em, actor, query)),
    }),
    route({
      method: 'GET',
      path: '/api/v1/costs/history',
      summary: 'Per-job cost records: model, tokens, estimated cost, status, timing (filters: user_id for admins, job_type)',
      tags,
      auth: 'user',
      query: CostsHistoryQuery,
      responses: { 200: CostHistory },
      handler: async ({ actor, em, query }) => json(await costHistory(em, actor, query)),
    }),
    route({
      method: 'POST',
      path: '/api/v1/analytics/events',
      summary: 'Record an impression, click or conversion of a generated ad (idempotent per client_event_id)',
      tags,
      auth: 'actor',
      body: AdEventBody,
      responses: { 201: AdEventRecorded, 200: AdEventRecorded, 404: null },
      handler: async ({ actor, em, body }) => {
        const out = await recordEvent(em, actor, body);
        return json(out, out.recorded ? 201 : 200);
      },
    }),
    route({
      method: 'GET',
      path: '/api/v1/analytics/overview',
      summary: 'Totals, CTR and conversion rate of the caller’s ads (admins: all), overall and per segment',
      tags,
      auth: 'user',
      query: OverviewQuery,
      responses: { 200: Overview },
      handler: async ({ actor, em, query }) => json(await overview(em, actor, query)),
    }),
  ];
}
