import { runAdImage, type StudioWorkerSettings } from '../../modules/studio/providers/pipeline.js';
import type { JobHandler } from '../worker.handlers.js';

/**
 * `ad_image`: the copy (streamed as `job:delta`), then the ad composed on one of six layouts from the
 * attached photo, a generated image (openai with an image model) or a gradient; sent back as a PNG output.
 */
export function adImageHandler(settings: StudioWorkerSettings): JobHandler<'ad_image'> {
  return {
    type: 'ad_image',
    async run(input, ctx) {
      const started = Date.now();
      const { result, outputs } = await runAdImage(input, settings, { ...ctx, delta: (t) => ctx.delta?.(t) });
      return { result, outputs, cost: { prompt_tokens: result.promptTokens, completion_tokens: result.completionTokens, images: result.images, ms: Date.now() - started } };
    },
  };
}
