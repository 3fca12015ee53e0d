/**
 * 2-D convolution, reference implementation: plain loops, float64 sums, written to be obviously
 * correct. torch.nn.Conv2d with groups 1 and dilation 1 (https://pytorch.org/docs/stable/generated/torch.nn.Conv2d.html):
 *
 *   x  [N, C, H, W]      input
 *   w  [O, C, KH, KW]    weight
 *   b  [O]               bias (or null)
 *   y  [N, O, OH, OW]    output (sizes: src/core/geometry2d.ts)
 *
 *   y[n,o,i,j] = b[o] + Σ_c Σ_p Σ_q w[o,c,p,q] · x[n, c, i·SH − PH + p, j·SW − PW + q]
 *
 * where x is 0 outside the image (zero padding). Every function overwrites its outputs and allocates
 * nothing; outputs must not share memory with inputs.
 */
import { checkArrays, type Conv2dGeometry, type FloatArray } from './geometry2d.js';

const sizes = (g: Conv2dGeometry) => ({
  input: g.batch * g.channels * g.height * g.width,
  weight: g.outChannels * g.channels * g.kernelH * g.kernelW,
  output: g.batch * g.outChannels * g.outHeight * g.outWidth,
});

/** y = conv2d(x, w) + b. */
export function conv2dForward(g: Conv2dGeometry, x: FloatArray, w: FloatArray, b: FloatArray | null, y: FloatArray): void {
  const s = sizes(g);
  checkArrays('conv2dForward', { x: [x, s.input], w: [w, s.weight], b: [b, g.outChannels], y: [y, s.output] });
  const { channels: C, height: H, width: W, outChannels: O, kernelH: KH, kernelW: KW, outHeight: OH, outWidth: OW } = g;
  for (let n = 0; n < g.batch; n++) {
    for (let o = 0; o < O; o++) {
      for (let i = 0; i < OH; i++) {
        for (let j = 0; j < OW; j++) {
          let sum = b ? b[o] : 0;
          for (let c = 0; c < C; c++) {
            for (let p = 0; p < KH; p++) {
              const h = i * g.strideH - g.padH + p;
              if (h < 0 || h >= H) continue;
              for (let q = 0; q < KW; q++) {
                const v = j * g.strideW - g.padW + q;
                if (v < 0 || v >= W) continue;
                sum += w[((o * C + c) * KH + p) * KW + q] * x[((n * C + c) * H + h) * W + v];
              }
            }
          }
          y[((n * O + o) * OH + i) * OW + j] = sum;
        }
      }
    }
  }
}

/**
 * dx = ∂L/∂x from dy = ∂L/∂y:
 *   dx[n,c,h,v] = Σ_o Σ_{p,q} w[o,c,p,q] · dy[n, o, i, j]  over the (i, j) with i·SH − PH + p = h, j·SW − PW + q = v
 */
export function conv2dInputGrad(g: Conv2dGeometry, dy: FloatArray, w: FloatArray, dx: FloatArray): void {
  const s = sizes(g);
  checkArrays('conv2dInputGrad', { dy: [dy, s.output], w: [w, s.weight], dx: [dx, s.input] });
  const { channels: C, height: H, width: W, outChannels: O, kernelH: KH, kernelW: KW, outHeight: OH, outWidth: OW } = g;
  for (let n = 0; n < g.batch; n++) {
    for (let c = 0; c < C; c++) {
      for (let h = 0; h < H; h++) {
        for (let v = 0; v < W; v++) {
          let sum = 0;
          for (let p = 0; p < KH; p++) {
            // the output row i that reads input row h through kernel row p, if there is one
            const rowOffset = h + g.padH - p;
            if (rowOffset < 0 || rowOffset % g.strideH !== 0) continue;
            const i = rowOffset / g.strideH;
            if (i >= OH) continue;
            for (let q = 0; q < KW; q++) {
              const colOffset = v + g.padW - q;
              if (colOffset < 0 || colOffset % g.strideW !== 0) continue;
              const j = colOffset / g.strideW;
              if (j >= OW) continue;
              for (let o = 0; o < O; o++) {
                sum += w[((o * C + c) * KH + p) * KW + q] * dy[((n * O + o) * OH + i) * OW + j];
              }
            }
          }
          dx[((n * C + c) * H + h) * W + v] = sum;
        }
      }
    }
  }
}

/**
 * dw = ∂L/∂w and db = ∂L/∂b (db may be null) from the input x and dy = ∂L/∂y:
 *   dw[o,c,p,q] = Σ_n Σ_{i,j} dy[n,o,i,j] · x[n, c, i·SH − PH + p, j·SW − PW + q],   db[o] = Σ_n Σ_{i,j} dy[n,o,i,j]
 */
export function conv2dWeightGrad(g: Conv2dGeometry, x: FloatArray, dy: FloatArray, dw: FloatArray, db: FloatArray | null): void {
  const s = sizes(g);
  checkArrays('conv2dWeightGrad', { x: [x, s.input], dy: [dy, s.output], dw: [dw, s.weight], db: [db, g.outChannels] });
  const { channels: C, height: H, width: W, outChannels: O, kernelH: KH, kernelW: KW, outHeight: OH, outWidth: OW } = g;
  for (let o = 0; o < O; o++) {
    for (let c = 0; c < C; c++) {
      for (let p = 0; p < KH; p++) {
        for (let q = 0; q < KW; q++) {
          let sum = 0;
          for (let n = 0; n < g.batch; n++) {
            for (let i = 0; i < OH; i++) {
              const h = i * g.strideH - g.padH + p;
              if (h < 0 || h >= H) continue;
              for (let j = 0; j < OW; j++) {
                const v = j * g.strideW - g.padW + q;
                if (v < 0 || v >= W) continue;
                sum += dy[((n * O + o) * OH + i) * OW + j] * x[((n * C + c) * H + h) * W + v];
              }
            }
          }
          dw[((o * C + c) * KH + p) * KW + q] = sum;
        }
      }
    }
    if (db) {
      let sum = 0;
      for (let n = 0; n < g.batch; n++) {
        const start = (n * O + o) * OH * OW;
        for (let k = 0; k < OH * OW; k++) sum += dy[start + k];
      }
      db[o] = sum;
    }
  }
}
