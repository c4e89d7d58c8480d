/**
 * Maps a Keras functional model (as TF.js stores it) onto an ONNX graph, layer by layer, in NCHW.
 * TF.js models are NHWC; rather than wrap the graph in Transposes, the whole graph is converted to NCHW
 * (kernels HWIO → OIHW, channel axis 3 → 1), which is the layout every ONNX Runtime provider prefers.
 * Only the layers the upscalerjs ESRGAN packages use are supported; anything else is refused by name.
 */
import { type KerasLayer, type LayersModel, type Tensor, WeightsFormatError } from './tfjs-layers.js';
import type { OnnxGraph, OnnxInitializer, OnnxNode } from './onnx-writer.js';

export const INPUT_NAME = 'input';
export const OUTPUT_NAME = 'output';

/** upscalerjs' MultiplyBeta ignores its config and multiplies by this constant (esrgan.ts, BETA). */
const UPSCALERJS_BETA = 0.2;

/** HWIO (TF) → OIHW (ONNX). */
export function hwioToOihw(t: Tensor): Tensor {
  const [h, w, i, o] = t.shape as [number, number, number, number];
  if (t.shape.length !== 4) throw new WeightsFormatError(`conv kernel must be 4-D, got [${t.shape}]`);
  const out = new Float32Array(t.data.length);
  for (let hh = 0; hh < h; hh++)
    for (let ww = 0; ww < w; ww++)
      for (let ii = 0; ii < i; ii++)
        for (let oo = 0; oo < o; oo++)
          out[((oo * i + ii) * h + hh) * w + ww] = t.data[((hh * w + ww) * i + ii) * o + oo]!;
  return { shape: [o, i, h, w], data: out };
}

/** TF "same" padding for stride 1: total k_eff - 1, the odd pixel at the end. Returns ONNX pads order. */
export function samePads(kernel: [number, number], dilation: [number, number]): number[] {
  const total = kernel.map((k, i) => (k - 1) * dilation[i]!);
  return [Math.floor(total[0]! / 2), Math.floor(total[1]! / 2), Math.ceil(total[0]! / 2), Math.ceil(total[1]! / 2)];
}

function pair(value: unknown, what: string): [number, number] {
  if (Array.isArray(value) && value.length === 2 && value.every((v) => Number.isInteger(v))) {
    return value as [number, number];
  }
  throw new WeightsFormatError(`${what}: expected two integers, got ${JSON.stringify(value)}`);
}

interface Context {
  nodes: OnnxNode[];
  initializers: OnnxInitializer[];
  weights: LayersModel['weights'];
  tensor: (layer: string) => string;
}

function weight(ctx: Context, name: string): Tensor {
  const t = ctx.weights.get(name);
  if (!t) throw new WeightsFormatError(`weight ${name} is missing from the manifest`);
  return t;
}

function activation(ctx: Context, kind: unknown, layer: string, input: string, output: string): void {
  const ops: Record<string, string> = { relu: 'Relu', linear: 'Identity', sigmoid: 'Sigmoid', tanh: 'Tanh' };
  const op = typeof kind === 'string' ? ops[kind] : undefined;
  if (!op) throw new WeightsFormatError(`layer ${layer}: unsupported activation ${JSON.stringify(kind)}`);
  ctx.nodes.push({ op, name: `${layer}/act`, inputs: [input], outputs: [output] });
}

function conv2d(ctx: Context, layer: KerasLayer, inputs: string[], output: string): void {
  const c = layer.config;
  if (c.data_format !== undefined && c.data_format !== 'channels_last') {
    throw new WeightsFormatError(`layer ${layer.name}: data_format ${String(c.data_format)} is not supported`);
  }
  const strides = pair(c.strides ?? [1, 1], `${layer.name} strides`);
  const dilation = pair(c.dilation_rate ?? [1, 1], `${layer.name} dilation_rate`);
  const kernelSize = pair(c.kernel_size, `${layer.name} kernel_size`);
  if (strides[0] !== 1 || strides[1] !== 1) throw new WeightsFormatError(`layer ${layer.name}: strides must be 1`);
  if ((c.groups ?? 1) !== 1) throw new WeightsFormatError(`layer ${layer.name}: grouped convolution`);
  let pads: number[];
  if (c.padding === 'same') pads = samePads(kernelSize, dilation);
  else if (c.padding === 'valid') pads = [0, 0, 0, 0];
  else throw new WeightsFormatError(`layer ${layer.name}: padding ${JSON.stringify(c.padding)} is not supported`);

  const kernel = hwioToOihw(weight(ctx, `${layer.name}/kernel`));
  if (kernel.shape[2] !== kernelSize[0] || kernel.shape[3] !== kernelSize[1]) {
    throw new WeightsFormatError(`layer ${layer.name}: kernel shape does not match kernel_size`);
  }
  ctx.initializers.push({ name: `${layer.name}/kernel`, dims: kernel.shape, data: kernel.data });
  const convInputs = [inputs[0]!, `${layer.name}/kernel`];
  if (c.use_bias !== false) {
    const bias = weight(ctx, `${layer.name}/bias`);
    ctx.initializers.push({ name: `${layer.name}/bias`, dims: bias.shape, data: bias.data });
    convInputs.push(`${layer.name}/bias`);
  }
  const act = c.activation ?? 'linear';
  const convOut = act === 'linear' ? output : `${layer.name}/conv`;
  ctx.nodes.push({
    op: 'Conv',
    name: layer.name,
    inputs: convInputs,
    outputs: [convOut],
    attrs: { kernel_shape: kernelSize, pads, strides, dilations: dilation, group: 1 },
  });
  if (act !== 'linear') activation(ctx, act, layer.name, convOut, output);
}

function upSampling(ctx: Context, layer: KerasLayer, inputs: string[], output: string): void {
  const size = pair(layer.config.size, `${layer.name} size`);
  if ((layer.config.interpolation ?? 'nearest') !== 'nearest') {
    throw new WeightsFormatError(`layer ${layer.name}: only nearest UpSampling2D is supported`);
  }
  const scales = `${layer.name}/scales`;
  ctx.initializers.push({ name: scales, dims: [4], data: new Float32Array([1, 1, size[0], size[1]]) });
  // asymmetric + floor makes output pixel x read input x / s exactly: Keras' nearest repeat.
  ctx.nodes.push({
    op: 'Resize',
    name: layer.name,
    inputs: [inputs[0]!, '', scales],
    outputs: [output],
    attrs: { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' },
  });
}

function pixelShuffle(ctx: Context, layer: KerasLayer, inputs: string[], output: string): void {
  const fromName = Number(/^PixelShuffle(\d+)x$/.exec(layer.class_name)?.[1]);
  const fromConfig = layer.config.scale;
  if (fromConfig !== undefined && fromConfig !== fromName) {
    throw new WeightsFormatError(`layer ${layer.name}: class ${layer.class_name} but scale ${String(fromConfig)}`);
  }
  // tf.depthToSpace NHWC reads channel (i * s + j) * C + c for block offset (i, j): ONNX's DCR order.
  ctx.nodes.push({
    op: 'DepthToSpace',
    name: layer.name,
    inputs: [inputs[0]!],
    outputs: [output],
    attrs: { blocksize: fromName, mode: 'DCR' },
  });
}

function multiplyBeta(ctx: Context, layer: KerasLayer, inputs: string[], output: string): void {
  const beta = layer.config.beta ?? UPSCALERJS_BETA;
  if (beta !== UPSCALERJS_BETA) {
    throw new WeightsFormatError(`layer ${layer.name}: beta ${String(beta)}, but upscalerjs always uses 0.2`);
  }
  const name = `${layer.name}/beta`;
  ctx.initializers.push({ name, dims: [], data: new Float32Array([UPSCALERJS_BETA]) });
  ctx.nodes.push({ op: 'Mul', name: layer.name, inputs: [inputs[0]!, name], outputs: [output] });
}

function concatenate(ctx: Context, layer: KerasLayer, inputs: string[], output: string): void {
  const axis = layer.config.axis ?? -1;
  if (axis !== 3 && axis !== -1) throw new WeightsFormatError(`layer ${layer.name}: concat on axis ${String(axis)}`);
  ctx.nodes.push({ op: 'Concat', name: layer.name, inputs, outputs: [output], attrs: { axis: 1 } });
}

type LayerHandler = (ctx: Context, layer: KerasLayer, inputs: string[], output: string) => void;

const HANDLERS: Record<string, LayerHandler> = {
  Conv2D: conv2d,
  Activation: (ctx, l, i, o) => activation(ctx, l.config.activation, l.name, i[0]!, o),
  Add: (ctx, l, i, o) => ctx.nodes.push({ op: i.length === 2 ? 'Add' : 'Sum', name: l.name, inputs: i, outputs: [o] }),
  Concatenate: concatenate,
  UpSampling2D: upSampling,
  MultiplyBeta: multiplyBeta,
};

function handlerFor(className: string): LayerHandler | undefined {
  if (/^PixelShuffle\d+x$/.test(className)) return pixelShuffle;
  return HANDLERS[className];
}

/** Converts a single-input, single-output image model. Graph input/output are NCHW float32, H/W dynamic. */
export function convertLayersModel(model: LayersModel, name: string): OnnxGraph {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new WeightsFormatError('only single-input, single-output models are supported');
  }
  const [inputLayer] = model.inputs as [string];
  const [outputLayer] = model.outputs as [string];
  const tensor = (layer: string): string =>
    layer === inputLayer ? INPUT_NAME : layer === outputLayer ? OUTPUT_NAME : layer;
  const ctx: Context = { nodes: [], initializers: [], weights: model.weights, tensor };
  const defined = new Set<string>();
  let channels = 3;

  for (const layer of model.layers) {
    if (layer.class_name === 'InputLayer') {
      const shape = layer.config.batch_input_shape;
      if (!Array.isArray(shape) || shape.length !== 4 || typeof shape[3] !== 'number') {
        throw new WeightsFormatError(`input ${layer.name}: expected [batch, h, w, channels]`);
      }
      channels = shape[3];
      defined.add(layer.name);
      continue;
    }
    const handler = handlerFor(layer.class_name);
    if (!handler) throw new WeightsFormatError(`layer ${layer.name}: class ${layer.class_name} is not supported`);
    if (layer.inbound_nodes.length !== 1) {
      throw new WeightsFormatError(`layer ${layer.name}: shared layers (called more than once) are not supported`);
    }
    const inbound = layer.inbound_nodes[0]!.map((n) => {
      if (!defined.has(n[0])) throw new WeightsFormatError(`layer ${layer.name} reads ${n[0]} before it exists`);
      return tensor(n[0]);
    });
    handler(ctx, layer, inbound, tensor(layer.name));
    defined.add(layer.name);
  }
  if (!defined.has(outputLayer)) throw new WeightsFormatError(`output layer ${outputLayer} was never produced`);

  return {
    name,
    nodes: ctx.nodes,
    initializers: ctx.initializers,
    inputs: [{ name: INPUT_NAME, dims: ['batch', channels, 'height', 'width'] }],
    outputs: [{ name: OUTPUT_NAME, dims: ['batch', 3, 'out_height', 'out_width'] }],
  };
}
