/**
 * Reads a TF.js layers model (`model.json` + weight shards) from disk into its Keras topology and named
 * float32 tensors. Pure parsing plus file reads; no TensorFlow.js needed, so production converts without it.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { AppError } from '../../platform/errors.js';

/** The converter met something it cannot translate faithfully; it refuses rather than guess. */
export class WeightsFormatError extends AppError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(500, 'weights_format', message, options);
  }
}

const InboundSchema = z.tuple([z.string(), z.number(), z.number()]).rest(z.unknown());

const LayerSchema = z.object({
  class_name: z.string(),
  name: z.string(),
  config: z.record(z.string(), z.unknown()),
  inbound_nodes: z.array(z.array(InboundSchema)),
});

const WeightSpecSchema = z.object({
  name: z.string(),
  shape: z.array(z.number().int().nonnegative()),
  dtype: z.string(),
  quantization: z.unknown().optional(),
});

const ModelJsonSchema = z.object({
  format: z.literal('layers-model'),
  modelTopology: z.object({
    model_config: z.object({
      class_name: z.string(),
      config: z.object({
        layers: z.array(LayerSchema),
        input_layers: z.array(InboundSchema),
        output_layers: z.array(InboundSchema),
      }),
    }),
  }),
  weightsManifest: z.array(z.object({ paths: z.array(z.string()), weights: z.array(WeightSpecSchema) })),
});

export type KerasLayer = z.infer<typeof LayerSchema>;
export type ModelJson = z.infer<typeof ModelJsonSchema>;

export interface Tensor {
  shape: number[];
  data: Float32Array;
}

export interface LayersModel {
  json: ModelJson;
  layers: KerasLayer[];
  inputs: string[];
  outputs: string[];
  weights: Map<string, Tensor>;
}

/** Parses model.json text; every deviation from the layers-model format is a WeightsFormatError. */
export function parseModelJson(text: string): ModelJson {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new WeightsFormatError('model.json is not JSON', { cause });
  }
  const parsed = ModelJsonSchema.safeParse(raw);
  if (!parsed.success) {
    throw new WeightsFormatError(`model.json is not a TF.js layers model: ${parsed.error.issues[0]?.message}`);
  }
  return parsed.data;
}

/**
 * Slices the concatenated shard bytes into named tensors, in manifest order (the TF.js layout).
 * Only unquantized float32 is accepted: dequantizing would make the ONNX file differ from the source.
 */
export function splitWeights(json: ModelJson, shards: Uint8Array[]): Map<string, Tensor> {
  const specs = json.weightsManifest.flatMap((group) => group.weights);
  const total = shards.reduce((sum, s) => sum + s.byteLength, 0);
  const joined = new Uint8Array(total);
  let at = 0;
  for (const shard of shards) {
    joined.set(shard, at);
    at += shard.byteLength;
  }
  const weights = new Map<string, Tensor>();
  let offset = 0;
  for (const spec of specs) {
    if (spec.dtype !== 'float32' || spec.quantization !== undefined) {
      throw new WeightsFormatError(`weight ${spec.name}: only unquantized float32 is supported (got ${spec.dtype})`);
    }
    const count = spec.shape.reduce((a, b) => a * b, 1);
    const bytes = count * 4;
    if (offset + bytes > total) {
      throw new WeightsFormatError(`weight ${spec.name} runs past the end of the shards (${total} bytes)`);
    }
    // Copy so the tensor is 4-byte aligned whatever the shard offsets were.
    const data = new Float32Array(joined.slice(offset, offset + bytes).buffer);
    weights.set(spec.name, { shape: spec.shape, data });
    offset += bytes;
  }
  if (offset !== total) {
    throw new WeightsFormatError(`shards hold ${total} bytes but the manifest describes ${offset}`);
  }
  return weights;
}

/** Loads `<dir>/model.json` and its shards (paths relative to model.json, as TF.js resolves them). */
export async function readLayersModel(modelJsonPath: string): Promise<LayersModel> {
  const json = parseModelJson(await readFile(modelJsonPath, 'utf8'));
  const dir = dirname(modelJsonPath);
  const paths = json.weightsManifest.flatMap((group) => group.paths);
  const shards = await Promise.all(paths.map(async (p) => new Uint8Array(await readFile(join(dir, p)))));
  const cfg = json.modelTopology.model_config.config;
  return {
    json,
    layers: cfg.layers,
    inputs: cfg.input_layers.map((i) => i[0]),
    outputs: cfg.output_layers.map((o) => o[0]),
    weights: splitWeights(json, shards),
  };
}
