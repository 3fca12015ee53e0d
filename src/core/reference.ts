/**
 * The reference kernels: plain TypeScript loops, written to be obviously correct rather than fast.
 * The WebAssembly kernels are tested against these (see test/core/kernels.test.ts). Intermediate
 * arithmetic runs in float64; results are stored as float32.
 */
import { allocNonzeroIndex, checkNonzeroIndex, checkScale } from './nonzero-index.js';
import type { Activation, Kernels } from './kernels.js';
import { fromPanels, panelIndex, toPanels } from './panels.js';

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

/** Throws when x and out share memory (the layout conversions cannot work in place). */
function checkDistinct(x: Float32Array, out: Float32Array, what: string): void {
  if (x.buffer === out.buffer && x.byteOffset < out.byteOffset + out.byteLength && out.byteOffset < x.byteOffset + x.byteLength) {
    throw new RangeError(`${what}: x and out overlap; give out its own array`);
  }
}

export function createReferenceKernels(): Kernels {
  return {
    name: 'reference',
    threads: 1,
    sparseDensityLimit: 0.6,

    allocF32: (length) => new Float32Array(length),
    allocI32: (length) => new Int32Array(length),
    allocU8: (length) => new Uint8Array(length),
    allocNonzeroIndex: (rows, cols) =>
      allocNonzeroIndex((length) => new Int32Array(length), (length) => new Float32Array(length), rows, cols),
    close: () => Promise.resolve(),

    indexNonzeros(x, rows, cols, index) {
      checkNonzeroIndex(index, rows, cols, 'indexNonzeros');
      let count = 0;
      for (let r = 0; r < rows; r++) {
        index.rowStart[r] = count;
        for (let j = 0; j < cols; j++) {
          const value = x[r * cols + j];
          if (value !== 0) { // NaN !== 0; −0 === 0
            index.rowCols[count] = j;
            index.rowValues[count++] = value;
          }
        }
      }
      index.rowStart[rows] = count;
      return count;
    },

    indexPixels(pixels, rows, cols, scale, index) {
      checkNonzeroIndex(index, rows, cols, 'indexPixels');
      checkScale(scale, 'indexPixels');
      let count = 0;
      for (let r = 0; r < rows; r++) {
        index.rowStart[r] = count;
        for (let j = 0; j < cols; j++) {
          const pixel = pixels[r * cols + j];
          if (pixel !== 0) {
            index.rowCols[count] = j;
            index.rowValues[count++] = pixel * scale;
          }
        }
      }
      index.rowStart[rows] = count;
      return count;
    },

    scalePixels(pixels, length, scale, out) {
      checkScale(scale, 'scalePixels');
      for (let i = 0; i < length; i++) out[i] = pixels[i] * scale;
    },

    indexColumns(index, rows) {
      checkNonzeroIndex(index, rows, index.cols, 'indexColumns');
      const entries: number[][] = Array.from({ length: index.cols }, () => []);
      for (let r = 0; r < rows; r++) {
        for (let q = index.rowStart[r]; q < index.rowStart[r + 1]; q++) entries[index.rowCols[q]].push(r, index.rowValues[q]);
      }
      let at = 0;
      for (let j = 0; j < index.cols; j++) {
        index.colStart[j] = at;
        for (let e = 0; e < entries[j].length; e += 2) {
          index.colRows[at] = entries[j][e];
          index.colValues[at++] = entries[j][e + 1];
        }
      }
      index.colStart[index.cols] = at;
    },

    sparseGemmNN(rows, n, k, index, w, c) {
      checkNonzeroIndex(index, rows, k, 'sparseGemmNN');
      for (let r = 0; r < rows; r++) {
        for (let o = 0; o < n; o++) {
          let sum = 0;
          for (let q = index.rowStart[r]; q < index.rowStart[r + 1]; q++) sum += index.rowValues[q] * w[panelIndex(index.rowCols[q], o, k, n)];
          c[r * n + o] = sum;
        }
      }
    },

    sparseGemmTN(k, n, rows, index, dz, dw) {
      checkNonzeroIndex(index, rows, k, 'sparseGemmTN');
      for (let j = 0; j < k; j++) {
        for (let o = 0; o < n; o++) {
          let sum = 0;
          for (let q = index.colStart[j]; q < index.colStart[j + 1]; q++) sum += index.colValues[q] * dz[index.colRows[q] * n + o];
          dw[panelIndex(j, o, k, n)] = sum;
        }
      }
    },

    toPanels(x, rows, n, out) {
      checkDistinct(x, out, 'toPanels');
      toPanels(x, rows, n, out);
    },

    fromPanels(x, rows, n, out) {
      checkDistinct(x, out, 'fromPanels');
      fromPanels(x, rows, n, out);
    },

    gemm(transA, transB, m, n, k, alpha, a, b, beta, c) {
      // op(A)[i, p] = transA ? A[p, i] : A[i, p]; op(B)[p, j] = transB ? B[j, p] : B[p, j]
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let sum = 0;
          for (let p = 0; p < k; p++) {
            const x = transA ? a[p * m + i] : a[i * k + p];
            const y = transB ? b[j * k + p] : b[p * n + j];
            sum += x * y;
          }
          c[i * n + j] = beta === 0 ? alpha * sum : alpha * sum + beta * c[i * n + j];
        }
      }
    },

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
}
