/**
 * Softmax and the fused, numerically stable softmax + cross-entropy loss with its gradient
 * (assembly/softmax.ts), with their TypeScript references and WebAssembly bindings.
 */
import { KernelArgumentError } from '../wasm-api.js';
import { checkLength, type WasmRuntime } from '../wasm-runtime.js';

export interface SoftmaxKernels {
  /**
   * Fused, numerically stable softmax + cross-entropy + its gradient, averaged over the rows.
   * logits [rows, cols], labels [rows] (class indices). Writes probabilities-minus-one-hot divided by
   * rows into grad [rows, cols] (may alias logits) and returns the mean loss
   *   L = (1/rows) Σ_r ( logsumexp(logits[r,:]) − logits[r, label_r] ).
   */
  softmaxCrossEntropy(logits: Float32Array, labels: Int32Array, rows: number, cols: number, grad: Float32Array): number;

  /** probs[r,:] = softmax(logits[r,:]) (may alias). */
  softmax(logits: Float32Array, rows: number, cols: number, probs: Float32Array): void;
}

/** The exports of assembly/softmax.ts. */
export interface SoftmaxExports {
  softmaxCrossEntropy(logits: number, labels: number, rows: number, cols: number, grad: number): number;
  softmax(logits: number, rows: number, cols: number, probs: number): void;
}

/** Writes e^(x − max) of row r into out and returns their sum and the row's maximum. */
function shiftedExp(logits: Float32Array, r: number, cols: number, out: Float32Array): { sum: number; max: number } {
  let max = -Infinity;
  for (let c = 0; c < cols; c++) max = Math.max(max, logits[r * cols + c]);
  let sum = 0;
  for (let c = 0; c < cols; c++) {
    const e = Math.exp(logits[r * cols + c] - max);
    out[r * cols + c] = e;
    sum += e;
  }
  return { sum, max };
}

export const softmaxReference: SoftmaxKernels = {
  softmaxCrossEntropy(logits, labels, rows, cols, grad) {
    let total = 0;
    for (let r = 0; r < rows; r++) {
      const label = labels[r];
      if (!(label >= 0 && label < cols)) throw new RangeError(`label ${label} of row ${r} is not in [0, ${cols})`);
      const target = logits[r * cols + label];
      // L_r = logsumexp(x) − x[label] = (max − x[label]) + log Σ e^(x − max)
      const { sum, max } = shiftedExp(logits, r, cols, grad);
      total += max - target + Math.log(sum);
      // ∂L/∂x = (softmax(x) − onehot(label)) / rows
      for (let c = 0; c < cols; c++) grad[r * cols + c] = (grad[r * cols + c] / sum - (c === label ? 1 : 0)) / rows;
    }
    return rows > 0 ? total / rows : 0;
  },

  softmax(logits, rows, cols, probs) {
    for (let r = 0; r < rows; r++) {
      const { sum } = shiftedExp(logits, r, cols, probs);
      for (let c = 0; c < cols; c++) probs[r * cols + c] /= sum;
    }
  },
};

export function bindSoftmax(rt: WasmRuntime, wasm: SoftmaxExports): SoftmaxKernels {
  return {
    softmaxCrossEntropy(logits, labels, rows, cols, grad) {
      checkLength(rows, 'rows');
      checkLength(cols, 'cols');
      const pl = rt.pointer(logits, rows * cols, 'softmaxCrossEntropy: logits');
      const py = rt.pointer(labels, rows, 'softmaxCrossEntropy: labels');
      const pg = rt.pointer(grad, rows * cols, 'softmaxCrossEntropy: grad');
      for (let r = 0; r < rows; r++) {
        const label = labels[r];
        if (!(label >= 0 && label < cols)) throw new KernelArgumentError(`label ${label} of row ${r} is not in [0, ${cols})`);
      }
      return wasm.softmaxCrossEntropy(pl, py, rows, cols, pg);
    },

    softmax(logits, rows, cols, probs) {
      checkLength(rows, 'rows');
      checkLength(cols, 'cols');
      wasm.softmax(rt.pointer(logits, rows * cols, 'softmax: logits'), rows, cols, rt.pointer(probs, rows * cols, 'softmax: probs'));
    },
  };
}
