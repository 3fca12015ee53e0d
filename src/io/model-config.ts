import type { Activation } from '../core/kernels.js';

/**
 * The `config.json` of a model folder: everything needed to rebuild the network around the weights in
 * `model.safetensors`, plus how it was trained and how well it did.
 */
export interface ModelConfig {
  format: 'digitlab-mlp';
  version: 1;
  /** Image shape the model reads, [height, width]; the input layer has height·width nodes. */
  inputShape: [number, number];
  /** Output nodes, one per class. */
  classes: number;
  /** Nodes of each hidden layer, in order (may be empty: a linear classifier). */
  hidden: number[];
  activation: Activation;
  /** The input layer receives pixel / pixelMax. */
  normalization: { pixelMax: number };
  /** Optional display names of the classes (default: '0'…'9'). */
  labels?: string[];
  /** Training settings (free-form, written by train/). */
  training?: Record<string, unknown>;
  /** Final metrics (free-form, written by train/). */
  metrics?: Record<string, unknown>;
}

/** One named tensor as stored in safetensors: PyTorch's names and shapes (`layers.0.weight` is [out, in]). */
export interface NamedTensor {
  name: string;
  shape: number[];
  /**
   * How the tensor is stored (default F32). I64 is PyTorch's int64, for counters such as BatchNorm's
   * `num_batches_tracked`: `data` still holds the values, integers, exact up to 2^24.
   */
  dtype?: 'F32' | 'I64';
  data: Float32Array;
}
