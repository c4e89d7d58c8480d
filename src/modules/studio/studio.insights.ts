import { z } from 'zod';
import type { EntityManager } from '../../platform/db/orm.js';
import { NotFoundError } from '../../platform/errors.js';
import type { UserActor } from '../identity/actor.js';
import { ownerKey, type StudioActor } from './studio.sessions.js';

/**
 * Seed 003's segments (target audiences: name, description, criteria as JSON; each user's own, admins
 * see all) and ad analytics: impressions, clicks and conversions reported for a generated ad, each counted
 * once per client event id and reporter, summed into totals, CTR (clicks / impressions, %) and conversion
 * rate (conversions / clicks, %), overall and per segment.
 */

export const SegmentBody = z.strictObject({
  name: z.string().trim().min(1).max(200),
  description: z.string().trim().max(2000).nullable().optional(),
  criteria: z.record(z.string(), z.unknown()).default({}).refine((c) => JSON.stringify(c).length <= 10_000, 'at most 10 000 characters of JSON'),
});
export const SegmentParams = z.strictObject({ id: z.coerce.number().int().positive().max(2_147_483_647) });
export const SegmentDto = z.object({ id: z.int(), owner_id: z.int(), name: z.string(), description: z.string().nullable(), criteria: z.record(z.string(), z.unknown()), created_at: z.string(), updated_at: z.string() });
export const SegmentList = z.object({ segments: z.array(SegmentDto) });

interface SegmentRow {
  id: number;
  owner_id: number;
  name: string;
  description: string | null;
  criteria: Record<string, unknown>;
  created_at: Date | string;
  updated_at: Date | string;
}
const toSegment = (r: SegmentRow): z.output<typeof SegmentDto> => ({ ...r, created_at: new Date(r.created_at).toISOString(), updated_at: new Date(r.updated_at).toISOString() });

export async function listSegments(em: EntityManager, actor: UserActor) {
  const rows = await em.execute<SegmentRow[]>(actor.role === 'admin' ? 'select * from studio_segments order by id desc limit 1000' : 'select * from studio_segments where owner_id = ? order by id desc limit 1000', actor.role === 'admin' ? [] : [actor.userId]);
  return { segments: rows.map(toSegment) };
}

export async function createSegment(em: EntityManager, actor: UserActor, body: z.output<typeof SegmentBody>) {
  const [row] = await em.execute<SegmentRow[]>('insert into studio_segments (owner_id, name, description, criteria) values (?, ?, ?, ?::jsonb) returning *', [actor.userId, body.name, body.description ?? null, JSON.stringify(body.criteria)]);
  return toSegment(row!);
}

export async function deleteSegment(em: EntityManager, actor: UserActor, id: number): Promise<void> {
  const rows = await em.execute<{ id: number }[]>(actor.role === 'admin' ? 'delete from studio_segments where id = ? returning id' : 'delete from studio_segments where id = ? and owner_id = ? returning id', actor.role === 'admin' ? [id] : [id, actor.userId]);
  if (rows.length === 0) throw new NotFoundError('Segment not found', 'segment_not_found');
}

export const AdEventBody = z.strictObject({
  job_id: z.uuid(),
  kind: z.enum(['impression', 'click', 'conversion']),
  /** The client's own id for this event: a repeat (a retried request) is recorded once. */
  client_event_id: z.string().trim().min(1).max(200),
});
export const AdEventRecorded = z.object({ recorded: z.boolean(), job_id: z.uuid(), kind: z.string(), client_event_id: z.string() });

export async function recordEvent(em: EntityManager, actor: StudioActor, body: z.output<typeof AdEventBody>) {
  const [gen] = await em.execute<{ job_id: string; status: string }[]>('select job_id, status from studio_generations where job_id = ?', [body.job_id]);
  if (!gen || gen.status !== 'completed') throw new NotFoundError('No generated ad with this job id', 'ad_not_found');
  const rows = await em.execute<{ id: string }[]>(
    'insert into studio_ad_events (job_id, kind, client_event_id, reporter) values (?, ?, ?, ?) on conflict (reporter, client_event_id) do nothing returning id',
    [body.job_id, body.kind, body.client_event_id, ownerKey(actor)],
  );
  return { recorded: rows.length > 0, job_id: body.job_id, kind: body.kind, client_event_id: body.client_event_id };
}

export const OverviewQuery = z.strictObject({
  segment_id: z.coerce.number().int().positive().max(2_147_483_647).optional(),
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
});
const Totals = z.object({ total_ads: z.int(), total_impressions: z.int(), total_clicks: z.int(), total_conversions: z.int(), avg_ctr: z.number(), avg_conversion_rate: z.number() });
export const Overview = Totals.extend({ segments: z.array(Totals.extend({ segment_id: z.int().nullable(), name: z.string().nullable() })) });

export function rates(impressions: number, clicks: number, conversions: number) {
  const r = (a: number, b: number) => (b > 0 ? Math.round((a / b) * 10000) / 100 : 0);
  return { avg_ctr: r(clicks, impressions), avg_conversion_rate: r(conversions, clicks) };
}

/** Over the caller's ads (admins: everyone's), overall and per segment. */
export async function overview(em: EntityManager, actor: UserActor, q: z.output<typeof OverviewQuery>): Promise<z.output<typeof Overview>> {
  const conds = ["g.status = 'completed'"];
  const params: unknown[] = [];
  if (actor.role !== 'admin') {
    conds.push('g.user_id = ?');
    params.push(actor.userId);
  }
  if (q.segment_id) {
    conds.push('g.segment_id = ?');
    params.push(q.segment_id);
  }
  const evConds: string[] = [];
  if (q.from) {
    evConds.push('e.created_at >= ?::timestamptz');
    params.unshift(q.from);
  }
  if (q.to) {
    evConds.push('e.created_at < ?::timestamptz');
    params.splice(q.from ? 1 : 0, 0, q.to);
  }
  const rows = await em.execute<{ segment_id: number | null; name: string | null; ads: string; impressions: string; clicks: string; conversions: string }[]>(
    `select g.segment_id, s.name, count(distinct g.job_id) as ads,
       count(e.id) filter (where e.kind = 'impression') as impressions, count(e.id) filter (where e.kind = 'click') as clicks,
       count(e.id) filter (where e.kind = 'conversion') as conversions
     from studio_generations g
     left join studio_ad_events e on e.job_id = g.job_id ${evConds.length ? `and ${evConds.join(' and ')}` : ''}
     left join studio_segments s on s.id = g.segment_id
     where ${conds.join(' and ')} and exists (select 1 from studio_ad_events x where x.job_id = g.job_id)
     group by g.segment_id, s.name order by g.segment_id nulls first`,
    params,
  );
  const segs = rows.map((r) => {
    const [i, c, v] = [Number(r.impressions), Number(r.clicks), Number(r.conversions)];
    return { segment_id: r.segment_id, name: r.name, total_ads: Number(r.ads), total_impressions: i, total_clicks: c, total_conversions: v, ...rates(i, c, v) };
  });
  const sum = (k: 'total_ads' | 'total_impressions' | 'total_clicks' | 'total_conversions') => segs.reduce((n, s) => n + s[k], 0);
  const [i, c, v] = [sum('total_impressions'), sum('total_clicks'), sum('total_conversions')];
  return { total_ads: sum('total_ads'), total_impressions: i, total_clicks: c, total_conversions: v, ...rates(i, c, v), segments: segs };
}
