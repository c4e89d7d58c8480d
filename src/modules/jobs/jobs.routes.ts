import { z } from 'zod';
import { json, noContent, route, type AnyRoute } from '../../transport/http/types.js';
import type { JobsAdmin } from './jobs.admin.js';
import { JobDto, JobPage, JobParams, ListJobsQuery, QueueParams } from './jobs.schemas.js';
import type { JobsService } from './jobs.service.js';

const tags = ['jobs'];
const base = '/api/v1/jobs';

/** Users see and steer their own jobs (admins any); admins also get stats, queue pause/resume and retry. */
export function jobsRoutes(jobs: JobsService, admin: JobsAdmin): AnyRoute[] {
  return [
    route({
      method: 'GET',
      path: base,
      summary: "The caller's jobs, newest first, optionally by type and status (cursor pagination)",
      tags,
      auth: 'user',
      query: ListJobsQuery,
      responses: { 200: JobPage, 400: null },
      handler: async ({ actor, em, query }) => json(await jobs.list(em, actor, query), 200, { 'cache-control': 'no-store' }),
    }),
    route({
      method: 'GET',
      path: `${base}/:id`,
      summary: 'One job: status, stage, progress, result or error (owner or admin; 404 otherwise)',
      tags,
      auth: 'user',
      params: JobParams,
      responses: { 200: JobDto, 404: null },
      handler: async ({ actor, em, params }) => json(await jobs.get(em, actor, params.id), 200, { 'cache-control': 'no-store' }),
    }),
    route({
      method: 'POST',
      path: `${base}/:id/cancel`,
      summary: 'Cancel a queued or running job; a running one is stopped on its worker (409 when already finished)',
      tags,
      auth: 'user',
      params: JobParams,
      responses: { 200: JobDto, 404: null, 409: null },
      handler: async ({ actor, em, params }) => json(await jobs.cancel(em, actor, params.id)),
    }),
    route({
      method: 'DELETE',
      path: `${base}/:id`,
      summary: 'Delete a finished job (409 `job_not_finished` while queued or running)',
      tags,
      auth: 'user',
      params: JobParams,
      responses: { 204: null, 404: null, 409: null },
      handler: async ({ actor, em, params }) => {
        await jobs.remove(em, actor, params.id);
        return noContent();
      },
    }),
    route({
      method: 'GET',
      path: '/api/v1/admin/jobs/stats',
      summary: 'Per-type counts and pause state, wait/run latency p50/p95 (last hour), workers on this node, recent failures, cost totals (admin)',
      tags,
      auth: 'admin',
      responses: { 200: z.record(z.string(), z.unknown()) },
      handler: async ({ em }) => json(await admin.stats(em), 200, { 'cache-control': 'no-store' }),
    }),
    ...(['pause', 'resume'] as const).map((action) =>
      route({
        method: 'POST',
        path: `/api/v1/admin/queues/:type/${action}`,
        summary: action === 'pause' ? 'Stop claiming jobs of this type (running ones finish) (admin)' : 'Claim jobs of this type again (admin)',
        tags,
        auth: 'admin',
        params: QueueParams,
        responses: { 200: z.object({ type: z.string(), paused: z.boolean() }) },
        handler: async ({ em, params }) => json(await admin.setPaused(em, params.type, action === 'pause')),
      }),
    ),
    route({
      method: 'POST',
      path: '/api/v1/admin/jobs/:id/retry',
      summary: 'Queue a failed or cancelled job again with fresh attempts (admin; 409 otherwise)',
      tags,
      auth: 'admin',
      params: JobParams,
      responses: { 200: JobDto, 404: null, 409: null },
      handler: async ({ em, params }) => json(await admin.retry(em, params.id)),
    }),
  ];
}
