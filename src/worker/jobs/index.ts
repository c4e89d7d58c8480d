import { createRegistry, type HandlerRegistry } from '../worker.handlers.js';
import type { ModelCatalog } from '../worker.models.js';
import type { StudioWorkerSettings } from '../../modules/studio/providers/pipeline.js';
import { adImageHandler } from './ad-image.js';
import { adTextHandler } from './ad-text.js';
import { bestcutHandler } from './bestcut.js';
import { upscaleHandler } from './upscale.js';

/**
 * The job types this worker runs: a new type is one file here plus its JobMap entry. `upscale` only when
 * some scale has a usable model (a worker without weights still serves best-cut).
 */
export function workerRegistry(deps: { models: ModelCatalog; tileConcurrency?: number; studio?: StudioWorkerSettings }): HandlerRegistry {
  const handlers = [bestcutHandler(), ...(deps.studio ? [adTextHandler(deps.studio), adImageHandler(deps.studio)] : [])];
  return createRegistry(deps.models.scales.length > 0 ? [upscaleHandler({ models: deps.models, tileConcurrency: deps.tileConcurrency }), ...handlers] : handlers);
}
