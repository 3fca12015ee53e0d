/**
 * A model folder as an ONNX model (opset 13), for ONNX Runtime and the other runtimes that read ONNX.
 * The graph is the Sequential of config.json, module for module:
 *
 *   pixels [N, C, H, W] float32, each value pixel / pixelMax
 *     → (Flatten, when the first shape-dependent layer is linear)
 *     → Gemm (linear: x · Wᵀ + b, W [out, in] as PyTorch keeps it) | Conv | MaxPool | AveragePool
 *       | Relu | Tanh | Sigmoid | Flatten | BatchNormalization (its running statistics: inference)
 *     → logits [N, classes] → Softmax (axis 1) → probabilities [N, classes]
 *
 * Dropout and identity are left out (they do nothing at inference). Initializers keep digitlab's
 * tensor names (`layers.3.weight`); batch norm's num_batches_tracked is not needed and not written.
 * The encoding is onnx-proto's (ONNX's onnx.proto compiled for protobufjs).
 */
import onnxProto from 'onnx-proto';
import type { ModelConfig, NamedTensor } from './model-config.js';
import { summarizeModel, type LayerInfo } from './model-spec.js';
import { VERSION } from '../core/version.js';

const { onnx } = onnxProto;

/** The operator set the graph is written for (every operator above has had its current form since 13). */
export const ONNX_OPSET = 13;
/** ONNX IR version 7 (2020-05-08), the first that goes with opset 13. */
const IR_VERSION = 7;

export interface OnnxExportOptions {
  /** The producer's version for the file and its metadata (default: this digitlab's). */
  producerVersion?: string;
  /** Where the model came from (its folder), for the doc string. */
  source?: string;
}

/** A model that cannot be written as ONNX (a layer or tensor the graph cannot take). */
export class OnnxExportError extends Error {
  override readonly name = 'OnnxExportError';
}

/** The ONNX model of a model folder's config and tensors, as protobuf bytes. */
export function exportOnnx(config: ModelConfig, tensors: NamedTensor[], options: OnnxExportOptions = {}): Uint8Array {
  const version = options.producerVersion ?? VERSION;
  const summary = summarizeModel(config.model);
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  const initializers: InstanceType<typeof onnx.TensorProto>[] = [];
  let current = 'pixels';
  /** Adds a node reading `inputs` (current first) and returns its output's name. */
  const add = (opType: string, name: string, inputs: string[], attributes: InstanceType<typeof onnx.AttributeProto>[] = []): string => {
    const output = `${name}_out`;
    nodes.push(onnx.NodeProto.create({ opType, name, input: [current, ...inputs], output: [output], attribute: attributes }));
    return output;
  };
  const weight = (info: LayerInfo, tensor: string): string => {
    const name = `layers.${info.index}.${tensor}`;
    const t = byName.get(name);
    const spec = info.tensors.find((s) => s.name === name);
    if (!t || !spec) throw new OnnxExportError(`the model's tensor ${name} is missing from model.safetensors: save the model again with digitlab`);
    if (t.shape.length !== spec.shape.length || t.shape.some((d, i) => d !== spec.shape[i])) {
      throw new OnnxExportError(`tensor ${name} has shape [${t.shape.join(', ')}], the model's layer needs [${spec.shape.join(', ')}]`);
    }
    initializers.push(floatTensor(name, t.shape, t.data));
    return name;
  };

  // An MLP's Sequential starts flat: its input is the image flattened, as PyTorch's module expects.
  if (summary.input.length === 1) current = add('Flatten', 'flatten_input', [], [intAttribute('axis', 1)]);
  for (const info of summary.layers) {
    const name = `layers.${info.index}`;
    const l = info.layer;
    switch (l.type) {
      case 'linear':
        current = add('Gemm', name, [weight(info, 'weight'), weight(info, 'bias')], [intAttribute('transB', 1)]);
        break;
      case 'conv2d':
        current = add('Conv', name, [weight(info, 'weight'), weight(info, 'bias')], [
          intsAttribute('kernel_shape', [...l.kernel]), intsAttribute('strides', [...l.stride]),
          intsAttribute('pads', [l.padding[0], l.padding[1], l.padding[0], l.padding[1]]),
        ]);
        break;
      case 'maxpool2d': case 'avgpool2d':
        current = add(l.type === 'maxpool2d' ? 'MaxPool' : 'AveragePool', name, [], [
          intsAttribute('kernel_shape', [...l.kernel]), intsAttribute('strides', [...l.stride]),
        ]);
        break;
      case 'relu': current = add('Relu', name, []); break;
      case 'tanh': current = add('Tanh', name, []); break;
      case 'sigmoid': current = add('Sigmoid', name, []); break;
      case 'flatten': current = add('Flatten', name, [], [intAttribute('axis', 1)]); break;
      case 'batchnorm':
        current = add('BatchNormalization', name,
          ['weight', 'bias', 'running_mean', 'running_var'].map((t) => weight(info, t)), [floatAttribute('epsilon', l.eps)]);
        break;
      case 'dropout': case 'identity': continue;
    }
  }
  if (nodes.length === 0) throw new OnnxExportError('the model has no layer that computes');
  // the last node's output is the logits
  nodes[nodes.length - 1].output = ['logits'];
  nodes.push(onnx.NodeProto.create({ opType: 'Softmax', name: 'softmax', input: ['logits'], output: ['probabilities'], attribute: [intAttribute('axis', 1)] }));

  const [channels, height, width] = config.model.input;
  const classes = config.classes;
  const labels = config.labels ?? Array.from({ length: classes }, (_, i) => String(i));
  const data = typeof config.training?.data === 'string' ? config.training.data : null;
  const doc =
    `digitlab model${options.source ? ` ${options.source}` : ''}: input pixels [N, ${channels}, ${height}, ${width}] float32 holding ` +
    `pixel / ${config.normalization.pixelMax} (0 background, 1 ink); outputs logits and probabilities [N, ${classes}] ` +
    `for the classes ${labels.join(', ')}.`;
  const graph = onnx.GraphProto.create({
    name: 'digitlab',
    node: nodes,
    initializer: initializers,
    input: [valueInfo('pixels', ['N', channels, height, width])],
    output: [valueInfo('logits', ['N', classes]), valueInfo('probabilities', ['N', classes])],
    docString: doc,
  });
  const metadata: Record<string, string> = {
    digitlab_version: version,
    labels: JSON.stringify(labels),
    pixel_max: String(config.normalization.pixelMax),
    ...(data ? { training_data: data } : {}),
  };
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: ONNX_OPSET })],
    producerName: 'digitlab',
    producerVersion: version,
    docString: doc,
    graph,
    metadataProps: Object.entries(metadata).map(([key, value]) => onnx.StringStringEntryProto.create({ key, value })),
  });
  return onnx.ModelProto.encode(model).finish();
}

/** A float32 initializer, its values little-endian in raw_data (ONNX's layout, whatever the host). */
function floatTensor(name: string, shape: number[], values: Float32Array): InstanceType<typeof onnx.TensorProto> {
  const raw = new Uint8Array(values.length * 4);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(4 * i, values[i], true);
  return onnx.TensorProto.create({ name, dims: shape, dataType: onnx.TensorProto.DataType.FLOAT, rawData: raw });
}

/** A float32 tensor's value info; a string dimension is symbolic (the batch). */
function valueInfo(name: string, dims: Array<number | string>): InstanceType<typeof onnx.ValueInfoProto> {
  return onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: onnx.TensorShapeProto.create({
          dim: dims.map((d) => onnx.TensorShapeProto.Dimension.create(typeof d === 'string' ? { dimParam: d } : { dimValue: d })),
        }),
      }),
    }),
  });
}

const intAttribute = (name: string, i: number) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i });
const intsAttribute = (name: string, ints: number[]) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints });
const floatAttribute = (name: string, f: number) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.FLOAT, f });
