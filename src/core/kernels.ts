/**
 * The compute kernels every layer of digitlab runs on, behind one interface with two implementations:
 * a plain TypeScript reference (src/core/reference.ts) and WebAssembly SIMD (src/core/wasm.ts,
 * compiled from assembly/). Tests compare the two on random shapes.
 *
 * Conventions (as in llm.c): flat row-major Float32Arrays; shapes are stated at each kernel.
 * Arrays handed to a kernel must come from the same Kernels' `allocF32` / `allocI32` (for the
 * WebAssembly backend they are views on its memory, and a kernel call copies nothing).
 */
export type Activation = 'relu' | 'sigmoid' | 'tanh' | 'identity';

/**
 * The nonzero values of a mostly-zero [rows, cols] matrix X, listed by row (built by `indexNonzeros`)
 * and by column (built from that by `indexColumns`), read by the sparse products. Made by
 * `allocNonzeroIndex` for up to `rows` rows.
 */
export interface NonzeroIndex {
  readonly rows: number;
  readonly cols: number;
  /** [rows + 1]: row r's entries are rowCols/rowValues[rowStart[r] .. rowStart[r + 1]). */
  readonly rowStart: Int32Array;
  /** [rows · cols]: column numbers, row by row, ascending within a row. */
  readonly rowCols: Int32Array;
  /** [rows · cols]: the values X[r, rowCols[q]]. */
  readonly rowValues: Float32Array;
  /** [cols + 1]: column j's entries are colRows/colValues[colStart[j] .. colStart[j + 1]). */
  readonly colStart: Int32Array;
  /** [rows · cols]: row numbers, column by column, ascending within a column. */
  readonly colRows: Int32Array;
  /** [rows · cols]: the values X[colRows[q], j]. */
  readonly colValues: Float32Array;
}

export interface Kernels {
  /** 'reference', 'wasm-simd' or 'wasm-relaxed-simd'. */
  readonly name: string;

  /** Threads the kernels split large products and updates across (1: the calling thread only). */
  readonly threads: number;

  /**
   * The largest fraction of nonzero inputs at which a first layer uses the sparse products
   * (`sparseGemmNN`, `sparseGemmTN`) instead of the dense GEMM; 0 turns the sparse path off.
   */
  readonly sparseDensityLimit: number;

  /** A zero-filled array the kernels can work on. Never freed: allocate buffers once and reuse them. */
  allocF32(length: number): Float32Array;
  allocI32(length: number): Int32Array;
  /** A zero-filled byte array the kernels can read (a batch of raw pixels, see `indexPixels`). */
  allocU8(length: number): Uint8Array;

  /**
   * C[m,n] = alpha · op(A) · op(B) + beta · C, row-major.
   * op(A) is [m,k]: A is [m,k], or [k,m] when transA. op(B) is [k,n]: B is [k,n], or [n,k] when transB.
   * The forms used: NN (input gradient; forward of a first layer, whose W is kept [in,out]), NT (forward,
   * W is [out,in]), TN (weight gradient).
   * When beta is 0, C's previous content is ignored (even NaN).
   */
  gemm(
    transA: boolean, transB: boolean, m: number, n: number, k: number,
    alpha: number, a: Float32Array, b: Float32Array, beta: number, c: Float32Array,
  ): void;

  /** A nonzero index for inputs of up to `rows` rows of `cols` values. */
  allocNonzeroIndex(rows: number, cols: number): NonzeroIndex;

  /**
   * Lists the nonzero values of x [rows, cols] by row into `index` and returns how many there are
   * (−0 counts as zero, NaN as nonzero). The by-column listing is left as it was.
   */
  indexNonzeros(x: Float32Array, rows: number, cols: number, index: NonzeroIndex): number;

  /**
   * `indexNonzeros` of X = pixels · scale for bytes `pixels` [rows, cols], without writing X: each value
   * is the float nearest to pixel · scale (as a Float32Array stores `pixel * scale`), so the listing is
   * the one `indexNonzeros` makes of the scaled floats. `scale` must be positive and finite.
   */
  indexPixels(pixels: Uint8Array, rows: number, cols: number, scale: number, index: NonzeroIndex): number;

  /** out[i] = pixels[i] · scale for i < length, rounded as `indexPixels` rounds them. */
  scalePixels(pixels: Uint8Array, length: number, scale: number, out: Float32Array): void;

  /** Fills the by-column listing of `index` from its by-row listing of `rows` rows. */
  indexColumns(index: NonzeroIndex, rows: number): void;

  /**
   * C[rows, n] = X · W reading only the nonzero values of X [rows, k] (by row, from `index`), W [k, n]
   * (a layer's weights [in, out]) in column panels (src/core/panels.ts), C row-major, overwritten. The
   * forward product of a layer with sparse input.
   */
  sparseGemmNN(rows: number, n: number, k: number, index: NonzeroIndex, w: Float32Array, c: Float32Array): void;

  /**
   * dW[k, n] = Xᵀ · dZ reading only the nonzero values of X [rows, k] (by column, from `index`, see
   * `indexColumns`), dZ [rows, n] row-major, dW in column panels, overwritten. The weight gradient of a
   * layer with sparse input.
   */
  sparseGemmTN(k: number, n: number, rows: number, index: NonzeroIndex, dz: Float32Array, dw: Float32Array): void;

  /** out = x in column panels (src/core/panels.ts), for x [rows, n] row-major (out must not overlap x). */
  toPanels(x: Float32Array, rows: number, n: number, out: Float32Array): void;

  /** out = x row-major, for x [rows, n] in column panels (out must not overlap x). */
  fromPanels(x: Float32Array, rows: number, n: number, out: Float32Array): void;

  /** Releases what the kernels hold beyond their memory (the pool's threads). */
  close(): Promise<void>;

  /** y[r,c] = act(y[r,c] + bias[c]) in place. y is [rows, cols], bias is [cols]. */
  biasActivation(y: Float32Array, bias: Float32Array, rows: number, cols: number, activation: Activation): void;

  /**
   * dy[i] *= act'(x) for i < length, where y = act(x) is the layer's saved output (every supported
   * activation's derivative is a function of its output: relu y>0, sigmoid y(1-y), tanh 1-y²).
   */
  activationBackward(activation: Activation, y: Float32Array, dy: Float32Array, length: number): void;

  /** db[c] = Σ_r dy[r,c]. dy is [rows, cols], db is [cols] (overwritten). */
  biasGradient(dy: Float32Array, rows: number, cols: number, db: Float32Array): void;

  /**
   * Fused, numerically stable softmax + cross-entropy + its gradient, averaged over the rows.
   * logits [rows, cols], labels [rows] (class indices). Writes probabilities-minus-one-hot divided by
   * rows into grad [rows, cols] (may alias logits) and returns the mean loss
   *   L = (1/rows) Σ_r ( logsumexp(logits[r,:]) − logits[r, label_r] ).
   */
  softmaxCrossEntropy(logits: Float32Array, labels: Int32Array, rows: number, cols: number, grad: Float32Array): number;

  /** probs[r,:] = softmax(logits[r,:]) (may alias). */
  softmax(logits: Float32Array, rows: number, cols: number, probs: Float32Array): void;

  // Optimizer updates, element-wise over `length` parameters, in place (PyTorch's update rules;
  // scalars that depend only on the step count are computed by the caller in float64).

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
