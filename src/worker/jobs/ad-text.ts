import { runAdText, type StudioWorkerSettings } from '../../modules/studio/providers/pipeline.js';
import type { JobHandler } from '../worker.handlers.js';

/** `ad_text`: ad copy from the chosen provider, streamed to the hub as `job:delta` while it is written. */
export function adTextHandler(settings: StudioWorkerSettings): JobHandler<'ad_text'> {
  return {
    type: 'ad_text',
    async run(input, ctx) {
      const { result } = await runAdText(input, settings, { ...ctx, delta: (t) => ctx.delta?.(t) });
      return { result, cost: { prompt_tokens: result.promptTokens, completion_tokens: result.completionTokens } };
    },
  };
}
