/**
 * 2-D max and average pooling, reference implementation (plain loops, float64 sums): torch.nn.MaxPool2d
 * and torch.nn.AvgPool2d without padding, dilation or ceil mode
 * (https://pytorch.org/docs/stable/generated/torch.nn.MaxPool2d.html, …/torch.nn.AvgPool2d.html).
 *
 *   x        [N, C, H, W]     input
 *   y        [N, C, OH, OW]   output (sizes: src/core/geometry2d.ts, pool2dGeometry)
 *   indices  [N, C, OH, OW]   max pooling: where each maximum was, as h·W + w within its channel
 *                             (PyTorch's return_indices), written by the forward pass for the backward one
 *
 *   max:      y[n,c,i,j] = max_{p<KH, q<KW} x[n, c, i·SH + p, j·SW + q]   (the first maximum in row-major
 *             order wins a tie; a NaN wins over any number, the last NaN if several, as in PyTorch's CPU kernel)
 *   average:  y[n,c,i,j] = (1 / (KH·KW)) Σ_{p,q} x[n, c, i·SH + p, j·SW + q]
 *
 * The backward passes overwrite dx, summing where windows overlap (stride < kernel). Nothing is allocated.
 */
import { checkArrays, type FloatArray, type Geometry2d } from './geometry2d.js';

const sizes = (g: Geometry2d) => ({
  input: g.batch * g.channels * g.height * g.width,
  output: g.batch * g.channels * g.outHeight * g.outWidth,
});

/** y = maxpool2d(x), and the position of each maximum in `indices`. */
export function maxpool2dForward(g: Geometry2d, x: FloatArray, y: FloatArray, indices: Int32Array): void {
  const s = sizes(g);
  checkArrays('maxpool2dForward', { x: [x, s.input], y: [y, s.output], indices: [indices, s.output] });
  const { height: H, width: W, outHeight: OH, outWidth: OW } = g;
  for (let plane = 0; plane < g.batch * g.channels; plane++) {
    const inStart = plane * H * W;
    for (let i = 0; i < OH; i++) {
      for (let j = 0; j < OW; j++) {
        let best = -Infinity;
        let where = i * g.strideH * W + j * g.strideW;
        for (let p = 0; p < g.kernelH; p++) {
          for (let q = 0; q < g.kernelW; q++) {
            const at = (i * g.strideH + p) * W + j * g.strideW + q;
            const value = x[inStart + at];
            if (value > best || Number.isNaN(value)) {
              best = value;
              where = at;
            }
          }
        }
        const out = (plane * OH + i) * OW + j;
        y[out] = best;
        indices[out] = where;
      }
    }
  }
}

/** dx[n,c,h,w] = Σ dy[n,c,i,j] over the outputs whose maximum was at (h, w). */
export function maxpool2dBackward(g: Geometry2d, dy: FloatArray, indices: Int32Array, dx: FloatArray): void {
  const s = sizes(g);
  checkArrays('maxpool2dBackward', { dy: [dy, s.output], indices: [indices, s.output], dx: [dx, s.input] });
  const { height: H, width: W, outHeight: OH, outWidth: OW } = g;
  for (let plane = 0; plane < g.batch * g.channels; plane++) {
    const outStart = plane * OH * OW;
    for (let h = 0; h < H; h++) {
      for (let w = 0; w < W; w++) {
        // only the windows that contain (h, w) can have chosen it
        let sum = 0;
        const at = h * W + w;
        for (let i = firstWindow(h, g.kernelH, g.strideH); i <= Math.min(OH - 1, Math.floor(h / g.strideH)); i++) {
          for (let j = firstWindow(w, g.kernelW, g.strideW); j <= Math.min(OW - 1, Math.floor(w / g.strideW)); j++) {
            const out = outStart + i * OW + j;
            if (indices[out] === at) sum += dy[out];
          }
        }
        dx[plane * H * W + at] = sum;
      }
    }
  }
}

/** The first window (of size `kernel`, every `stride`) that contains position `at`. */
function firstWindow(at: number, kernel: number, stride: number): number {
  return Math.max(0, Math.ceil((at - kernel + 1) / stride));
}

/** y = avgpool2d(x). */
export function avgpool2dForward(g: Geometry2d, x: FloatArray, y: FloatArray): void {
  const s = sizes(g);
  checkArrays('avgpool2dForward', { x: [x, s.input], y: [y, s.output] });
  const { height: H, width: W, outHeight: OH, outWidth: OW } = g;
  const count = g.kernelH * g.kernelW;
  for (let plane = 0; plane < g.batch * g.channels; plane++) {
    const inStart = plane * H * W;
    for (let i = 0; i < OH; i++) {
      for (let j = 0; j < OW; j++) {
        let sum = 0;
        for (let p = 0; p < g.kernelH; p++) {
          for (let q = 0; q < g.kernelW; q++) sum += x[inStart + (i * g.strideH + p) * W + j * g.strideW + q];
        }
        y[(plane * OH + i) * OW + j] = sum / count;
      }
    }
  }
}

/** dx[n,c,h,w] = (1 / (KH·KW)) Σ dy[n,c,i,j] over the windows that contain (h, w). */
export function avgpool2dBackward(g: Geometry2d, dy: FloatArray, dx: FloatArray): void {
  const s = sizes(g);
  checkArrays('avgpool2dBackward', { dy: [dy, s.output], dx: [dx, s.input] });
  const { height: H, width: W, outHeight: OH, outWidth: OW } = g;
  const count = g.kernelH * g.kernelW;
  for (let plane = 0; plane < g.batch * g.channels; plane++) {
    const outStart = plane * OH * OW;
    for (let h = 0; h < H; h++) {
      for (let w = 0; w < W; w++) {
        let sum = 0;
        for (let i = firstWindow(h, g.kernelH, g.strideH); i <= Math.min(OH - 1, Math.floor(h / g.strideH)); i++) {
          for (let j = firstWindow(w, g.kernelW, g.strideW); j <= Math.min(OW - 1, Math.floor(w / g.strideW)); j++) {
            sum += dy[outStart + i * OW + j];
          }
        }
        dx[(plane * H + h) * W + w] = sum / count;
      }
    }
  }
}
