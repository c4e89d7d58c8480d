import { DEFAULT_PIXEL_RULE, upscaleImage, type PixelRule } from '../inference/upscale.js';
import type { JobHandler } from '../worker.handlers.js';
import type { ModelCatalog } from '../worker.models.js';

/**
 * `upscale`: fetch the stored original from the hub, run the RDN model tile by tile (progress per tile,
 * the cancel signal checked between tiles), send the PNG back on the socket. The result's `sha256` names
 * the output; the hub stores it and puts the real hash there (jobs.events.ts).
 */

export const UPSCALE_OUTPUT = 'upscaled';

export interface UpscaleHandlerDeps {
  models: Pick<ModelCatalog, 'get'>;
  pixelRule?: PixelRule;
  tileSize?: number;
  overlap?: number;
  /** Tiles in flight per job (more keeps a GPU provider busy; 1 on CPU, where ORT already uses every core). */
  tileConcurrency?: number;
}

export function upscaleHandler(deps: UpscaleHandlerDeps): JobHandler<'upscale'> {
  return {
    type: 'upscale',
    async run(input, ctx) {
      ctx.progress('fetching', 0);
      const bytes = await ctx.fetchMedia(input.sha256);
      ctx.progress('loading_model', 0);
      const model = await deps.models.get(input.scale, input.model);
      ctx.signal.throwIfAborted();
      ctx.progress('upscaling', 0);
      const out = await upscaleImage(bytes, model, {
        format: 'png',
        pixelRule: deps.pixelRule ?? DEFAULT_PIXEL_RULE,
        tileSize: deps.tileSize,
        overlap: deps.overlap,
        concurrency: deps.tileConcurrency,
        signal: ctx.signal,
        onProgress: (done, total) => ctx.progress('upscaling', done / total, `tile ${done}/${total}`),
      });
      ctx.logger.info(
        { jobId: ctx.jobId, model: out.model, provider: out.provider, tiles: out.tiles, inferenceMs: Math.round(out.inferenceMs), downscaled: out.downscaled, size: `${out.width}x${out.height}` },
        'upscaled',
      );
      return {
        result: { sha256: UPSCALE_OUTPUT, width: out.width, height: out.height, model: out.model, provider: out.provider, ms: Math.round(out.ms) },
        outputs: [{ name: UPSCALE_OUTPUT, contentType: 'image/png', data: out.buffer }],
        cost: { ms: Math.round(out.ms), tiles: out.tiles },
      };
    },
  };
}
