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
 * Where the nonzero inputs of a mostly-zero [rows, cols] matrix X are, in aligned blocks of 4 (cols a
 * multiple of 4): built by `indexBlocks`, read by the sparse products. Made by `allocBlockIndex` for
 * up to `rows` rows.
 */
export interface BlockIndex {
  readonly rows: number;
  readonly cols: number;
  /** [rows + 1]: row r's nonzero blocks are rowBlocks[rowStart[r] .. rowStart[r + 1]). */
  readonly rowStart: Int32Array;
  /** [rows · cols/4]: block numbers (column / 4), row by row, ascending. */
  readonly rowBlocks: Int32Array;
  /** [cols/4 + 1]: block b is nonzero in rows blockRows[blockStart[b] .. blockStart[b + 1]). */
  readonly blockStart: Int32Array;
  /** [rows · cols/4]: row numbers, block by block, ascending. */
  readonly blockRows: Int32Array;
}

export interface Kernels {
  /** 'reference', 'wasm-simd' or 'wasm-relaxed-simd'. */
  readonly name: string;

  /** Threads the kernels split large products and updates across (1: the calling thread only). */
  readonly threads: number;

  /**
   * The largest fraction of nonzero 4-input blocks at which a first layer uses the sparse products
   * (`sparseGemmNT`, `sparseGemmTN`) instead of the dense GEMM; 0 turns the sparse path off.
   */
  readonly sparseDensityLimit: number;

  /** A zero-filled array the kernels can work on. Never freed individually: see `reset`. */
  allocF32(length: number): Float32Array;
  allocI32(length: number): Int32Array;

  /**
   * C[m,n] = alpha · op(A) · op(B) + beta · C, row-major.
   * op(A) is [m,k]: A is [m,k], or [k,m] when transA. op(B) is [k,n]: B is [k,n], or [n,k] when transB.
   * The forms used: NN (input gradient), NT (forward, W is [out,in]), TN (weight gradient).
   * When beta is 0, C's previous content is ignored (even NaN).
   */
  gemm(
    transA: boolean, transB: boolean, m: number, n: number, k: number,
    alpha: number, a: Float32Array, b: Float32Array, beta: number, c: Float32Array,
  ): void;

  /** A block index for inputs of up to `rows` rows of `cols` values (cols a multiple of 4). */
  allocBlockIndex(rows: number, cols: number): BlockIndex;

  /**
   * Indexes the nonzero 4-blocks of x [rows, cols] into `index` and returns how many there are
   * (−0 counts as zero, NaN as nonzero).
   */
  indexBlocks(x: Float32Array, rows: number, cols: number, index: BlockIndex): number;

  /**
   * C[rows, n] = X · Wᵀ reading only the nonzero blocks of X: X [rows, k] indexed by `index` (built
   * from this X), W [n, k], C overwritten. The forward product of a layer with sparse input.
   */
  sparseGemmNT(rows: number, n: number, k: number, x: Float32Array, index: BlockIndex, w: Float32Array, c: Float32Array): void;

  /**
   * dW[n, k] = dZᵀ · X reading only the nonzero blocks of X: dZ [rows, n], X [rows, k] indexed by
   * `index`, dW overwritten. The weight gradient of a layer with sparse input.
   */
  sparseGemmTN(n: number, k: number, rows: number, dz: Float32Array, x: Float32Array, index: BlockIndex, dw: Float32Array): void;

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
