/**
 * The optimizers' element-wise updates (assembly/optimizers.ts), in place over `length` parameters,
 * with PyTorch's update rules; scalars that depend only on the step count are computed by the caller in
 * float64. TypeScript references and WebAssembly bindings side by side; the large updates are split
 * across the pool's threads.
 */
import { Operation } from '../pool-protocol.js';
import { checkLength, PARALLEL_MIN_ELEMENTS, splitPoint, type WasmRuntime } from '../wasm-runtime.js';

export interface OptimizerKernels {
  /**
   * SGD (torch.optim.SGD): g = grad + wd·p; with momentum: buf = g on the first step, else
   * buf = momentum·buf + (1 − dampening)·g; g = nesterov ? g + momentum·buf : buf; p −= lr·g.
   * momentumBuffer is ignored when momentum is 0.
   */
  sgdUpdate(
    param: Float32Array, grad: Float32Array, momentumBuffer: Float32Array, length: number,
    lr: number, momentum: number, dampening: number, weightDecay: number, nesterov: boolean, firstStep: boolean,
  ): void;

  /**
   * Adam / AdamW (torch.optim.Adam, torch.optim.AdamW):
   * decoupled ? p ·= (1 − lr·wd) : g = grad + wd·p;
   * m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²;
   * amsgrad: vmax = max(vmax, v), v̂ = vmax else v̂ = v;
   * p −= stepSize · m / (√v̂ / biasCorrection2Sqrt + eps), with stepSize = lr / (1 − β1^t),
   * biasCorrection2Sqrt = √(1 − β2^t). maxExpAvgSq is ignored unless amsgrad.
   */
  adamUpdate(
    param: Float32Array, grad: Float32Array, expAvg: Float32Array, expAvgSq: Float32Array,
    maxExpAvgSq: Float32Array, length: number,
    lr: number, beta1: number, beta2: number, eps: number, weightDecay: number,
    decoupled: boolean, amsgrad: boolean, stepSize: number, biasCorrection2Sqrt: number,
  ): void;

  /**
   * Adagrad (torch.optim.Adagrad): g = grad + wd·p; sum += g²; p −= clr · g / (√sum + eps),
   * with clr = lr / (1 + (t − 1)·lrDecay) computed by the caller.
   */
  adagradUpdate(
    param: Float32Array, grad: Float32Array, stateSum: Float32Array, length: number,
    clr: number, weightDecay: number, eps: number,
  ): void;

  /**
   * RMSprop (torch.optim.RMSprop): g = grad + wd·p; sq = α·sq + (1−α)·g²;
   * centered: gAvg = α·gAvg + (1−α)·g, avg = √(sq − gAvg²) + eps, else avg = √sq + eps;
   * momentum > 0: buf = momentum·buf + g/avg, p −= lr·buf; else p −= lr·g/avg.
   * gradAvg is ignored unless centered, momentumBuffer unless momentum > 0.
   */
  rmspropUpdate(
    param: Float32Array, grad: Float32Array, squareAvg: Float32Array, gradAvg: Float32Array,
    momentumBuffer: Float32Array, length: number,
    lr: number, alpha: number, eps: number, weightDecay: number, momentum: number, centered: boolean,
  ): void;
}

/** The exports of assembly/optimizers.ts (booleans are 0/1, an unused buffer's pointer 0). */
export interface OptimizerExports {
  sgdUpdate(param: number, grad: number, momentumBuffer: number, length: number,
    lr: number, momentum: number, dampening: number, weightDecay: number, nesterov: number, firstStep: number): void;
  adamUpdate(param: number, grad: number, expAvg: number, expAvgSq: number, maxExpAvgSq: number, length: number,
    lr: number, beta1: number, beta2: number, eps: number, weightDecay: number,
    decoupled: number, amsgrad: number, stepSize: number, biasCorrection2Sqrt: number): void;
  adagradUpdate(param: number, grad: number, stateSum: number, length: number,
    clr: number, weightDecay: number, eps: number): void;
  rmspropUpdate(param: number, grad: number, squareAvg: number, gradAvg: number, momentumBuffer: number,
    length: number, lr: number, alpha: number, eps: number, weightDecay: number, momentum: number,
    centered: number): void;
}

export const optimizerReference: OptimizerKernels = {
  sgdUpdate(param, grad, momentumBuffer, length, lr, momentum, dampening, weightDecay, nesterov, firstStep) {
    for (let i = 0; i < length; i++) {
      let g = grad[i] + (weightDecay !== 0 ? weightDecay * param[i] : 0);
      if (momentum !== 0) {
        const buf = firstStep ? g : momentum * momentumBuffer[i] + (1 - dampening) * g;
        momentumBuffer[i] = buf;
        g = nesterov ? g + momentum * buf : buf;
      }
      param[i] -= lr * g;
    }
  },

  adamUpdate(param, grad, expAvg, expAvgSq, maxExpAvgSq, length, lr, beta1, beta2, eps, weightDecay,
    decoupled, amsgrad, stepSize, biasCorrection2Sqrt) {
    for (let i = 0; i < length; i++) {
      let g = grad[i];
      if (weightDecay !== 0) {
        if (decoupled) param[i] *= 1 - lr * weightDecay;
        else g += weightDecay * param[i];
      }
      expAvg[i] = beta1 * expAvg[i] + (1 - beta1) * g;
      expAvgSq[i] = beta2 * expAvgSq[i] + (1 - beta2) * g * g;
      let v = expAvgSq[i];
      if (amsgrad) {
        maxExpAvgSq[i] = Math.max(maxExpAvgSq[i], v);
        v = maxExpAvgSq[i];
      }
      param[i] -= (stepSize * expAvg[i]) / (Math.sqrt(v) / biasCorrection2Sqrt + eps);
    }
  },

  adagradUpdate(param, grad, stateSum, length, clr, weightDecay, eps) {
    for (let i = 0; i < length; i++) {
      const g = grad[i] + (weightDecay !== 0 ? weightDecay * param[i] : 0);
      stateSum[i] += g * g;
      param[i] -= (clr * g) / (Math.sqrt(stateSum[i]) + eps);
    }
  },

  rmspropUpdate(param, grad, squareAvg, gradAvg, momentumBuffer, length, lr, alpha, eps, weightDecay, momentum,
    centered) {
    for (let i = 0; i < length; i++) {
      const g = grad[i] + (weightDecay !== 0 ? weightDecay * param[i] : 0);
      squareAvg[i] = alpha * squareAvg[i] + (1 - alpha) * g * g;
      let variance = squareAvg[i];
      if (centered) {
        gradAvg[i] = alpha * gradAvg[i] + (1 - alpha) * g;
        variance -= gradAvg[i] * gradAvg[i];
      }
      const scaled = g / (Math.sqrt(variance) + eps);
      if (momentum > 0) {
        momentumBuffer[i] = momentum * momentumBuffer[i] + scaled;
        param[i] -= lr * momentumBuffer[i];
      } else {
        param[i] -= lr * scaled;
      }
    }
  },
};

/** Element-wise updates split in units of 16 elements, which keeps every part's SIMD lanes aligned. */
const ELEMENT_UNIT = 16;

export function bindOptimizers(rt: WasmRuntime, wasm: OptimizerExports): OptimizerKernels {
  function elementParts(length: number): number {
    return rt.parts(length, PARALLEL_MIN_ELEMENTS, Math.ceil(length / ELEMENT_UNIT));
  }

  return {
    sgdUpdate(param, grad, momentumBuffer, length, lr, momentum, dampening, weightDecay, nesterov, firstStep) {
      checkLength(length, 'length');
      const pp = rt.pointer(param, length, 'sgdUpdate: param');
      const pg = rt.pointer(grad, length, 'sgdUpdate: grad');
      const pm = momentum !== 0 ? rt.pointer(momentumBuffer, length, 'sgdUpdate: momentumBuffer') : 0;
      const parts = elementParts(length);
      for (let t = parts - 1; t >= 0; t--) {
        const from = splitPoint(length, ELEMENT_UNIT, parts, t);
        const count = splitPoint(length, ELEMENT_UNIT, parts, t + 1) - from;
        const o = 4 * from;
        if (t > 0) {
          rt.post(t, Operation.sgdUpdate, pp + o, pg + o, pm === 0 ? 0 : pm + o, count,
            lr, momentum, dampening, weightDecay, nesterov ? 1 : 0, firstStep ? 1 : 0);
        } else {
          wasm.sgdUpdate(pp + o, pg + o, pm === 0 ? 0 : pm + o, count, lr, momentum, dampening, weightDecay,
            nesterov ? 1 : 0, firstStep ? 1 : 0);
        }
      }
      rt.finish(parts);
    },

    adamUpdate(param, grad, expAvg, expAvgSq, maxExpAvgSq, length, lr, beta1, beta2, eps, weightDecay,
      decoupled, amsgrad, stepSize, biasCorrection2Sqrt) {
      checkLength(length, 'length');
      const pp = rt.pointer(param, length, 'adamUpdate: param');
      const pg = rt.pointer(grad, length, 'adamUpdate: grad');
      const pm = rt.pointer(expAvg, length, 'adamUpdate: expAvg');
      const pv = rt.pointer(expAvgSq, length, 'adamUpdate: expAvgSq');
      const pmax = amsgrad ? rt.pointer(maxExpAvgSq, length, 'adamUpdate: maxExpAvgSq') : 0;
      const parts = elementParts(length);
      for (let t = parts - 1; t >= 0; t--) {
        const from = splitPoint(length, ELEMENT_UNIT, parts, t);
        const count = splitPoint(length, ELEMENT_UNIT, parts, t + 1) - from;
        const o = 4 * from;
        if (t > 0) {
          rt.post(t, Operation.adamUpdate, pp + o, pg + o, pm + o, pv + o, pmax === 0 ? 0 : pmax + o,
            count, lr, beta1, beta2, eps, weightDecay, decoupled ? 1 : 0, amsgrad ? 1 : 0, stepSize, biasCorrection2Sqrt);
        } else {
          wasm.adamUpdate(pp + o, pg + o, pm + o, pv + o, pmax === 0 ? 0 : pmax + o, count, lr, beta1, beta2, eps,
            weightDecay, decoupled ? 1 : 0, amsgrad ? 1 : 0, stepSize, biasCorrection2Sqrt);
        }
      }
      rt.finish(parts);
    },

    adagradUpdate(param, grad, stateSum, length, clr, weightDecay, eps) {
      checkLength(length, 'length');
      wasm.adagradUpdate(
        rt.pointer(param, length, 'adagradUpdate: param'), rt.pointer(grad, length, 'adagradUpdate: grad'),
        rt.pointer(stateSum, length, 'adagradUpdate: stateSum'), length, clr, weightDecay, eps,
      );
    },

    rmspropUpdate(param, grad, squareAvg, gradAvg, momentumBuffer, length, lr, alpha, eps, weightDecay, momentum,
      centered) {
      checkLength(length, 'length');
      wasm.rmspropUpdate(
        rt.pointer(param, length, 'rmspropUpdate: param'), rt.pointer(grad, length, 'rmspropUpdate: grad'),
        rt.pointer(squareAvg, length, 'rmspropUpdate: squareAvg'),
        centered ? rt.pointer(gradAvg, length, 'rmspropUpdate: gradAvg') : 0,
        momentum > 0 ? rt.pointer(momentumBuffer, length, 'rmspropUpdate: momentumBuffer') : 0,
        length, lr, alpha, eps, weightDecay, momentum, centered ? 1 : 0,
      );
    },
  };
}
