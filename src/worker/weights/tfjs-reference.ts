/**
 * Test-only: runs an upscalerjs package model with the real TF.js (pure-JS CPU backend), so the ONNX
 * conversion is compared against the original, not against a re-implementation. The custom layers mirror
 * upscalerjs' own definitions (packages/shared/src/esrgan/esrgan.ts): MultiplyBeta multiplies by a constant
 * 0.2, PixelShuffleNx is tf.depthToSpace in NHWC.
 */
import * as tf from '@tensorflow/tfjs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseModelJson } from './tfjs-layers.js';

let registered = false;

function registerUpscalerLayers(): void {
  if (registered) return;
  registered = true;
  const first = (inputs: tf.Tensor | tf.Tensor[]): tf.Tensor => (Array.isArray(inputs) ? inputs[0]! : inputs);
  class MultiplyBeta extends tf.layers.Layer {
    static className = 'MultiplyBeta';
    constructor() {
      super({});
    }
    override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
      return tf.mul(first(inputs), 0.2);
    }
  }
  tf.serialization.registerClass(MultiplyBeta);
  for (const scale of [2, 3, 4, 8]) {
    class PixelShuffle extends tf.layers.Layer {
      static className = `PixelShuffle${scale}x`;
      constructor() {
        super({});
      }
      override computeOutputShape(shape: tf.Shape): tf.Shape {
        return [shape[0]!, shape[1]!, shape[2]!, 3];
      }
      override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
        return tf.depthToSpace(first(inputs) as tf.Tensor4D, scale, 'NHWC');
      }
    }
    tf.serialization.registerClass(PixelShuffle);
  }
}

/** Loads `model.json` + shards from disk through a custom IOHandler (no fetch, no tfjs-node). */
export async function loadReferenceModel(modelJsonPath: string): Promise<tf.LayersModel> {
  registerUpscalerLayers();
  await tf.setBackend('cpu');
  const text = await readFile(modelJsonPath, 'utf8');
  const json = parseModelJson(text);
  const raw = JSON.parse(text) as { modelTopology: object };
  const buffers = await Promise.all(
    json.weightsManifest.flatMap((g) => g.paths).map((p) => readFile(join(dirname(modelJsonPath), p))),
  );
  const joined = Buffer.concat(buffers);
  const handler: tf.io.IOHandler = {
    load: async () => ({
      modelTopology: raw.modelTopology,
      weightSpecs: json.weightsManifest.flatMap((g) => g.weights) as tf.io.WeightsManifestEntry[],
      weightData: joined.buffer.slice(joined.byteOffset, joined.byteOffset + joined.byteLength),
    }),
  };
  return tf.loadLayersModel(handler);
}

/** Runs the reference on an NCHW float32 image and returns NCHW output, so callers compare directly. */
export function runReference(model: tf.LayersModel, nchw: Float32Array, h: number, w: number): Float32Array {
  return tf.tidy(() => {
    const x = tf.tensor4d(nchw, [1, 3, h, w]).transpose([0, 2, 3, 1]);
    const y = model.predict(x) as tf.Tensor4D;
    return y.transpose([0, 3, 1, 2]).dataSync() as Float32Array;
  });
}
