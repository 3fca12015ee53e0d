/**
 * Bias + activation after a product, the activations' derivatives and the bias gradient
 * (assembly/activations.ts), with their TypeScript references and WebAssembly bindings.
 */
import { KernelArgumentError } from '../wasm-api.js';
import { checkLength, type WasmRuntime } from '../wasm-runtime.js';

export type Activation = 'relu' | 'sigmoid' | 'tanh' | 'identity';

export interface ActivationKernels {
  /** y[r,c] = act(y[r,c] + bias[c]) in place. y is [rows, cols], bias is [cols]. */
  biasActivation(y: Float32Array, bias: Float32Array, rows: number, cols: number, activation: Activation): void;

  /**
   * dy[i] *= act'(x) for i < length, where y = act(x) is the layer's saved output (every supported
   * activation's derivative is a function of its output: relu y>0, sigmoid y(1-y), tanh 1-y²).
   */
  activationBackward(activation: Activation, y: Float32Array, dy: Float32Array, length: number): void;

  /** db[c] = Σ_r dy[r,c]. dy is [rows, cols], db is [cols] (overwritten). */
  biasGradient(dy: Float32Array, rows: number, cols: number, db: Float32Array): void;
}

/** The exports of assembly/activations.ts. */
export interface ActivationExports {
  biasActivation(y: number, bias: number, rows: number, cols: number, activation: number): void;
  activationBackward(activation: number, y: number, dy: number, length: number): void;
  biasGradient(dy: number, rows: number, cols: number, db: number): void;
}

function activate(activation: Activation, x: number): number {
  switch (activation) {
    case 'relu': return Math.max(x, 0); // NaN stays NaN, as in PyTorch and f32x4.max
    case 'sigmoid': return 1 / (1 + Math.exp(-x));
    case 'tanh': return Math.tanh(x);
    case 'identity': return x;
  }
}

/** act'(x) written in terms of y = act(x). */
function derivativeFromOutput(activation: Activation, y: number): number {
  switch (activation) {
    case 'relu': return y > 0 ? 1 : 0;
    case 'sigmoid': return y * (1 - y);
    case 'tanh': return 1 - y * y;
    case 'identity': return 1;
  }
}

export const activationReference: ActivationKernels = {
  biasActivation(y, bias, rows, cols, activation) {
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) y[r * cols + c] = activate(activation, y[r * cols + c] + bias[c]);
    }
  },

  activationBackward(activation, y, dy, length) {
    for (let i = 0; i < length; i++) dy[i] *= derivativeFromOutput(activation, y[i]);
  },

  biasGradient(dy, rows, cols, db) {
    for (let c = 0; c < cols; c++) {
      let sum = 0;
      for (let r = 0; r < rows; r++) sum += dy[r * cols + c];
      db[c] = sum;
    }
  },
};

/** Activation codes of assembly/activations.ts. */
const ACTIVATION_CODES: Record<Activation, number> = { identity: 0, relu: 1, sigmoid: 2, tanh: 3 };

export function activationCode(activation: Activation): number {
  const code = ACTIVATION_CODES[activation];
  if (code === undefined) throw new KernelArgumentError(`unknown activation ${String(activation)}`);
  return code;
}

export function bindActivations(rt: WasmRuntime, wasm: ActivationExports): ActivationKernels {
  return {
    biasActivation(y, bias, rows, cols, activation) {
      checkLength(rows, 'rows');
      checkLength(cols, 'cols');
      const code = activationCode(activation);
      wasm.biasActivation(rt.pointer(y, rows * cols, 'biasActivation: y'), rt.pointer(bias, cols, 'biasActivation: bias'),
        rows, cols, code);
    },

    activationBackward(activation, y, dy, length) {
      checkLength(length, 'length');
      const code = activationCode(activation);
      wasm.activationBackward(code, rt.pointer(y, length, 'activationBackward: y'),
        rt.pointer(dy, length, 'activationBackward: dy'), length);
    },

    biasGradient(dy, rows, cols, db) {
      checkLength(rows, 'rows');
      checkLength(cols, 'cols');
      wasm.biasGradient(rt.pointer(dy, rows * cols, 'biasGradient: dy'), rows, cols, rt.pointer(db, cols, 'biasGradient: db'));
    },
  };
}
