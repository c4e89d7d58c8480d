import type { EntityManager } from '../../platform/db/orm.js';
import type { UserActor } from '../identity/actor.js';
import { z } from 'zod';

/**
 * Seed 003's cost ledger: every ad job's model, prompt and completion tokens, images, estimated cost (USD
 * from the price table in config `studio.prices`), status and timing, kept on its generation row. Users see
 * their own; admins everyone's (optionally one user's).
 */

export type PriceTable = Record<string, { input?: number | undefined; output?: number | undefined; image?: Record<string, number> | undefined }>;

export interface Usage {
  model: string | null;
  promptTokens: number;
  completionTokens: number;
  images: number;
  imageModel: string | null;
  imageSize: string | null;
}

/**
 * A model's prices: its own entry, else the longest listed name it extends (providers answer with dated
 * names: `gpt-3.5-turbo-0125` is priced as `gpt-3.5-turbo`). Unlisted models cost 0 (and say so by name).
 */
export function priceFor(prices: PriceTable, model: string | null): PriceTable[string] | undefined {
  if (!model) return undefined;
  if (prices[model]) return prices[model];
  const base = Object.keys(prices).filter((k) => model.startsWith(`${k}-`) || model.startsWith(`${k}:`)).sort((a, b) => b.length - a.length)[0];
  return base ? prices[base] : undefined;
}

/** USD: tokens per 1K at the model's input/output price, plus images at the image model's price for the size. */
export function estimateCost(prices: PriceTable, u: Usage): number {
  const text = priceFor(prices, u.model);
  let cost = ((text?.input ?? 0) * u.promptTokens + (text?.output ?? 0) * u.completionTokens) / 1000;
  if (u.images > 0 && u.imageModel) {
    const table = priceFor(prices, u.imageModel)?.image;
    cost += u.images * (table?.[u.imageSize ?? 'default'] ?? table?.default ?? 0);
  }
  return Math.round(cost * 1e8) / 1e8;
}

export const CostsQuery = z.strictObject({
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  /** Admins only: one user's costs. */
  user_id: z.coerce.number().int().positive().max(2_147_483_647).optional(),
  job_type: z.enum(['text', 'image', 'ad_text', 'ad_image']).optional(),
});
export const CostsHistoryQuery = CostsQuery.extend({ limit: z.coerce.number().int().min(1).max(500).default(50), offset: z.coerce.number().int().min(0).max(100_000).default(0) });

export const CostSummary = z.object({
  total_cost: z.number(),
  total_jobs: z.int(),
  text_jobs: z.int(),
  image_jobs: z.int(),
  text_cost: z.number(),
  image_cost: z.number(),
  prompt_tokens: z.int(),
  completion_tokens: z.int(),
  cost_by_model: z.record(z.string(), z.number()),
  jobs_by_status: z.record(z.string(), z.int()),
  period: z.object({ start: z.string().nullable(), end: z.string() }),
});
export const CostEntry = z.object({
  id: z.uuid(),
  user_id: z.int().nullable(),
  job_type: z.enum(['text', 'image']),
  model: z.string().nullable(),
  prompt: z.string().nullable(),
  prompt_tokens: z.int(),
  completion_tokens: z.int(),
  total_tokens: z.int(),
  images: z.int(),
  estimated_cost: z.number(),
  status: z.string(),
  error_message: z.string().nullable(),
  created_at: z.string(),
  completed_at: z.string().nullable(),
  ms: z.number().nullable(),
});
export const CostHistory = z.object({ history: z.array(CostEntry), total: z.int() });

function scope(actor: UserActor, q: z.output<typeof CostsQuery>): { where: string; params: unknown[] } {
  const conds: string[] = [];
  const params: unknown[] = [];
  if (actor.role !== 'admin') {
    conds.push('user_id = ?');
    params.push(actor.userId);
  } else if (q.user_id) {
    conds.push('user_id = ?');
    params.push(q.user_id);
  }
  if (q.job_type) {
    conds.push('content_type = ?');
    params.push(q.job_type.replace('ad_', ''));
  }
  if (q.from) {
    conds.push('created_at >= ?::timestamptz');
    params.push(q.from);
  }
  if (q.to) {
    conds.push('created_at < ?::timestamptz');
    params.push(q.to);
  }
  return { where: conds.length ? `where ${conds.join(' and ')}` : '', params };
}

export async function costSummary(em: EntityManager, actor: UserActor, q: z.output<typeof CostsQuery>): Promise<z.output<typeof CostSummary>> {
  const { where, params } = scope(actor, q);
  const [t] = await em.execute<Record<string, string | null>[]>(
    `select count(*) as jobs, count(*) filter (where content_type = 'text') as text_jobs, count(*) filter (where content_type = 'image') as image_jobs,
       coalesce(sum(estimated_cost), 0) as cost, coalesce(sum(estimated_cost) filter (where content_type = 'text'), 0) as text_cost,
       coalesce(sum(estimated_cost) filter (where content_type = 'image'), 0) as image_cost,
       coalesce(sum(prompt_tokens), 0) as prompt_tokens, coalesce(sum(completion_tokens), 0) as completion_tokens, min(created_at) as first
     from studio_generations ${where}`,
    params,
  );
  const byModel = await em.execute<{ model: string; cost: string }[]>(`select coalesce(model, 'pending') as model, sum(estimated_cost) as cost from studio_generations ${where} group by 1 order by 1`, params);
  const byStatus = await em.execute<{ status: string; n: string }[]>(`select status, count(*) as n from studio_generations ${where} group by 1`, params);
  return {
    total_cost: Number(t!.cost),
    total_jobs: Number(t!.jobs),
    text_jobs: Number(t!.text_jobs),
    image_jobs: Number(t!.image_jobs),
    text_cost: Number(t!.text_cost),
    image_cost: Number(t!.image_cost),
    prompt_tokens: Number(t!.prompt_tokens),
    completion_tokens: Number(t!.completion_tokens),
    cost_by_model: Object.fromEntries(byModel.map((r) => [r.model, Number(r.cost)])),
    jobs_by_status: Object.fromEntries(byStatus.map((r) => [r.status, Number(r.n)])),
    period: { start: q.from ?? (t!.first ? new Date(t!.first).toISOString() : null), end: q.to ?? new Date().toISOString() },
  };
}

interface GenRow {
  job_id: string;
  user_id: number | null;
  content_type: 'text' | 'image';
  model: string | null;
  prompt: string | null;
  input_text: string;
  prompt_tokens: number;
  completion_tokens: number;
  images: number;
  estimated_cost: number;
  status: string;
  error: { code: string; message: string } | null;
  created_at: Date | string;
  completed_at: Date | string | null;
}

export async function costHistory(em: EntityManager, actor: UserActor, q: z.output<typeof CostsHistoryQuery>): Promise<z.output<typeof CostHistory>> {
  const { where, params } = scope(actor, q);
  const rows = await em.execute<GenRow[]>(`select * from studio_generations ${where} order by created_at desc, job_id desc limit ? offset ?`, [...params, q.limit, q.offset]);
  const [count] = await em.execute<{ n: string }[]>(`select count(*) as n from studio_generations ${where}`, params);
  return {
    total: Number(count!.n),
    history: rows.map((r) => ({
      id: r.job_id,
      user_id: r.user_id,
      job_type: r.content_type,
      model: r.model,
      prompt: r.prompt ?? r.input_text,
      prompt_tokens: r.prompt_tokens,
      completion_tokens: r.completion_tokens,
      total_tokens: r.prompt_tokens + r.completion_tokens,
      images: r.images,
      estimated_cost: Number(r.estimated_cost),
      status: r.status,
      error_message: r.error ? `${r.error.code}: ${r.error.message}` : null,
      created_at: new Date(r.created_at).toISOString(),
      completed_at: r.completed_at ? new Date(r.completed_at).toISOString() : null,
      ms: r.completed_at ? new Date(r.completed_at).getTime() - new Date(r.created_at).getTime() : null,
    })),
  };
}

/** Totals for the admin dashboard (all users). */
export async function costTotals(em: EntityManager): Promise<{ jobs: number; cost: number; tokens: number }> {
  const [t] = await em.execute<{ jobs: string; cost: string; tokens: string }[]>(
    `select count(*) as jobs, coalesce(sum(estimated_cost), 0) as cost, coalesce(sum(prompt_tokens + completion_tokens), 0) as tokens from studio_generations`,
  );
  return { jobs: Number(t!.jobs), cost: Number(t!.cost), tokens: Number(t!.tokens) };
}
