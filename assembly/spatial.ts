// The spatial kernels on NCHW float32 tensors: 2-D convolution (forward with bias and activation,
// input gradient, weight gradient), max and average pooling, batch normalization, dropout and the
// element-wise activation. Formulas and shapes: src/core/reference-conv2d.ts, reference-pool2d.ts,
// reference-batchnorm.ts, reference-dropout.ts; the contract: src/core/ops/spatial.ts.
//
//   x, dx [N, C, H, W]   w, dw [O, C, KH, KW]   b, db [O]   y, dy [N, O, OH, OW]
//   K = C·KH·KW (one column of the unfolded input),  P = OH·OW (output positions per sample)
//
// A geometry is 13 int32 at `g` (GEOMETRY below, written by the binding). Pointers are byte offsets.
// The convolutions and the pools work on samples [n0, n1) only, so the binding can give each thread a
// range of samples; every sample is computed the same way whatever its range, so results do not depend
// on the split (the weight gradient sums its range's samples; the binding adds the ranges in order).
//
// Convolution as GEMM (im2col): with cols_n [K, P] the unfolded sample n,
//   forward       y_n = W [O, K] · cols_n,          then y_n = act(y_n + b) row by row
//   input grad    dcols = Wᵀ [K, O] · dy_n [O, P],  then dx_n = col2im(dcols), summing overlaps
//   weight grad   dW = Σ_n dy_n · cols_nᵀ [P, K],    db = Σ_n Σ_p dy_n
// The products run on assembly/gemm.ts's 4×8 micro-kernel (multiplyPanel) over panels of 8 columns.
// cols is never stored whole: each 8-column panel is unfolded straight into the packed layout the
// micro-kernel reads (panel[p][0..8), 32 bytes per step p) and multiplied while it is in L1.
//
// The unfolding reads a zero-padded copy of the sample, [C, H + 2·PH, W + 2·PW], so it needs no bounds
// checks. Its 8 lanes then read runs of contiguous memory: output positions along an output row (when
// the horizontal stride is 1) or kernel columns along a kernel row. A panel is described by a table of
// such runs ("segments": the source of lane 0 and a lane mask), and each of its rows is gathered with
// one unaligned 8-float load and a bitselect per segment. The padded copy has SLACK floats on each side,
// as these loads reach up to 7 floats beyond the lanes they keep. Horizontal strides above 1 gather
// lane by lane. col2im adds back through the same segments (load, add the masked lanes, store).
// The weight gradient of a layer with few outputs (a first layer) runs instead as gemm.ts's dot
// products over padded-width positions, with nothing unfolded (weightGradByDots).
import { activate } from './activations';
import { gemmDot, multiplyPanel, packA, packPanel } from './gemm';
import { madd } from './simd';

// Fields of a geometry block (int32 at g + 4·field), the order of src/core/ops/spatial.ts.
const BATCH = 0;
const CHANNELS = 1;
const HEIGHT = 2;
const WIDTH = 3;
const OUT_CHANNELS = 4;
const KERNEL_H = 5;
const KERNEL_W = 6;
const STRIDE_H = 7;
const STRIDE_W = 8;
const PAD_H = 9;
const PAD_W = 10;
const OUT_HEIGHT = 11;
const OUT_WIDTH = 12;

// @ts-ignore: decorator
@inline function field(g: usize, index: i32): i32 {
  return load<i32>(g + (<usize>index << 2));
}

const TILE_ROWS = 4;
const TILE_COLS = 8;
/** Floats of slack on each side of a padded sample (a segment's load reaches up to 7 beyond its lanes). */
const SLACK = 8;
/** One segment: the lane masks of lanes 0–3 and 4–7, then the source offset of lane 0 (in floats). */
const SEGMENT_BYTES = 48;
/** A panel has at most 8 segments (one per lane); the per-lane sources of strided gathers fit too. */
const TABLE_BYTES = 8 * SEGMENT_BYTES;
const SPARE_BYTES = 4 * TILE_ROWS * TILE_COLS;
const LANE_INDEX = memory.data<i32>([0, 1, 2, 3, 4, 5, 6, 7]);

// @ts-ignore: decorator
@inline function roundUp(value: i32, unit: i32): i32 {
  return (value + unit - 1) / unit * unit;
}

// ---- scratch layout -------------------------------------------------------------------------------
// Every convolution's scratch starts with the padded sample, the segment table and a spare tile; then
//   forward       packed W [O4/4][K][4] | panel [K][8] | y_n before bias [O4][P8]
//   input grad    packed Wᵀ [K4/4][O][4] | panel of dy_n [O][8] | dcols strip [K4][8]
//   weight grad   packed dy_n [O4/4][P][4] | panel of cols_nᵀ [P][8] | dW sum [O4][K8]
// with O4, K4 rounded up to 4 and P8, K8 to 8 (the packed operands' zero rows and columns give whole
// tiles, so the micro-kernel never takes its edge path).

const PASS_FORWARD = 0;
const PASS_INPUT_GRAD = 1;
const PASS_WEIGHT_GRAD = 2;

// @ts-ignore: decorator
@inline function paddedPlane(g: usize): i32 {
  return (field(g, HEIGHT) + 2 * field(g, PAD_H)) * (field(g, WIDTH) + 2 * field(g, PAD_W));
}

// @ts-ignore: decorator
@inline function paddedBytes(g: usize): usize {
  return <usize>roundUp(2 * SLACK + field(g, CHANNELS) * paddedPlane(g), 4) << 2;
}

// @ts-ignore: decorator
@inline function columnLength(g: usize): i32 {
  return field(g, CHANNELS) * field(g, KERNEL_H) * field(g, KERNEL_W);
}

// @ts-ignore: decorator
@inline function positions(g: usize): i32 {
  return field(g, OUT_HEIGHT) * field(g, OUT_WIDTH);
}

/** Byte offsets of the pass-specific regions: packed A, panel, output (after pad, table and spare). */
// @ts-ignore: decorator
@inline function packedOffset(g: usize): usize {
  return paddedBytes(g) + TABLE_BYTES + SPARE_BYTES;
}

// @ts-ignore: decorator
@inline function panelOffset(g: usize, pass: i32): usize {
  const O = field(g, OUT_CHANNELS);
  const K = columnLength(g);
  let floats: i32;
  if (pass == PASS_FORWARD) floats = roundUp(O, TILE_ROWS) * K;
  else if (pass == PASS_INPUT_GRAD) floats = roundUp(K, TILE_ROWS) * O;
  else floats = roundUp(O, TILE_ROWS) * positions(g);
  return packedOffset(g) + (<usize>floats << 2);
}

// @ts-ignore: decorator
@inline function outputOffset(g: usize, pass: i32): usize {
  let rows: i32;
  if (pass == PASS_FORWARD) rows = columnLength(g);
  else if (pass == PASS_INPUT_GRAD) rows = field(g, OUT_CHANNELS);
  else rows = positions(g);
  return panelOffset(g, pass) + (<usize>(rows * TILE_COLS) << 2);
}

/**
 * Whether the weight gradient runs as dot products over "virtual" positions instead (stride 1, small
 * output counts such as a first layer's 6). With the positions of a sample taken as q = oh·Wp + ow for
 * ow < Wp (the padded width), kernel element k = (c, kh, kw) reads padded[c·plane + kh·Wp + kw + q]: a
 * contiguous row for every k, kw and kw + 1 one float apart. So dW[o, (c, kh, ·)] = dyv[o, ·] · those KW
 * rows is gemm.ts's dot-product kernel (B rows 1 float apart), with dyv = dy_n widened to OH × Wp by
 * zeros, and nothing is unfolded; the price is the Wp − OW zero positions per row. Chosen when its
 * estimated work (dot products of 4×2 tiles and single ones: ~2.3 instructions per 4 multiply-adds) is
 * below the panel path's (14 per 32 on whole 4×8 tiles, plus ~10 per unfolded 8-lane row).
 * Zero gradients meet real inputs at the extra positions: x must be finite (0·∞ is NaN).
 */
// @ts-ignore: decorator
@inline function weightGradByDots(g: usize): bool {
  const KW = field(g, KERNEL_W);
  if (field(g, STRIDE_H) != 1 || field(g, STRIDE_W) != 1 || KW > SLACK) return false;
  const O = <f64>field(g, OUT_CHANNELS);
  const K = columnLength(g);
  const P = <f64>positions(g);
  const virtual = <f64>(field(g, OUT_HEIGHT) * (field(g, WIDTH) + 2 * field(g, PAD_W)));
  const dots = O * <f64>K * virtual * (2.3 / 4);
  const panels = <f64>(roundUp(field(g, OUT_CHANNELS), TILE_ROWS) * roundUp(K, TILE_COLS)) * P * (14.0 / 32) +
    <f64>(roundUp(K, TILE_COLS) / TILE_COLS) * P * 10;
  return dots < panels;
}

/** Bytes of scratch one thread needs for a convolution pass (0 forward, 1 input grad, 2 weight grad). */
export function conv2dScratchBytes(g: usize, pass: i32): usize {
  const O = field(g, OUT_CHANNELS);
  const K = columnLength(g);
  if (pass == PASS_WEIGHT_GRAD && weightGradByDots(g)) {
    return packedOffset(g) + (<usize>(O * field(g, OUT_HEIGHT) * (field(g, WIDTH) + 2 * field(g, PAD_W))) << 2);
  }
  let floats: i32;
  if (pass == PASS_FORWARD) floats = roundUp(O, TILE_ROWS) * roundUp(positions(g), TILE_COLS);
  else if (pass == PASS_INPUT_GRAD) floats = roundUp(K, TILE_ROWS) * TILE_COLS;
  else floats = roundUp(O, TILE_ROWS) * roundUp(K, TILE_COLS);
  return outputOffset(g, pass) + (<usize>floats << 2);
}

// ---- padded samples -------------------------------------------------------------------------------

/** The padded plane's first interior element, for channel c: pad + SLACK + c·plane + PH·Wp + PW. */
// @ts-ignore: decorator
@inline function paddedOrigin(g: usize, pad: usize): usize {
  return pad + (<usize>SLACK << 2);
}

/** Copies sample `src` [C, H, W] into the interior of the padded copy (its border stays as it is). */
function fillPadded(g: usize, src: usize, pad: usize): void {
  const C = field(g, CHANNELS), H = field(g, HEIGHT), W = field(g, WIDTH);
  const PH = field(g, PAD_H), PW = field(g, PAD_W);
  const Wp = W + 2 * PW;
  const plane = paddedPlane(g);
  const origin = paddedOrigin(g, pad);
  const rowBytes = <usize>W << 2;
  for (let c = 0; c < C; c++) {
    let dst = origin + (<usize>(c * plane + PH * Wp + PW) << 2);
    let from = src + <usize>(c * H) * rowBytes;
    for (let h = 0; h < H; h++) {
      memory.copy(dst, from, rowBytes);
      dst += <usize>Wp << 2;
      from += rowBytes;
    }
  }
}

/** The interior of the padded copy back into sample `dst` [C, H, W]. */
function readPadded(g: usize, pad: usize, dst: usize): void {
  const C = field(g, CHANNELS), H = field(g, HEIGHT), W = field(g, WIDTH);
  const PH = field(g, PAD_H), PW = field(g, PAD_W);
  const Wp = W + 2 * PW;
  const plane = paddedPlane(g);
  const origin = paddedOrigin(g, pad);
  const rowBytes = <usize>W << 2;
  for (let c = 0; c < C; c++) {
    let from = origin + (<usize>(c * plane + PH * Wp + PW) << 2);
    let to = dst + <usize>(c * H) * rowBytes;
    for (let h = 0; h < H; h++) {
      memory.copy(to, from, rowBytes);
      from += <usize>Wp << 2;
      to += rowBytes;
    }
  }
}

// ---- segments -------------------------------------------------------------------------------------

/** Segment `s` of `table`: lanes [from, to) read source offset src + lane (floats from the base). */
// @ts-ignore: decorator
@inline function putSegment(table: usize, s: i32, src: i32, from: i32, to: i32): void {
  const entry = table + <usize>s * SEGMENT_BYTES;
  const lo = i32x4.splat(from);
  const hi = i32x4.splat(to);
  const lanes0 = v128.load(LANE_INDEX);
  const lanes1 = v128.load(LANE_INDEX, 16);
  v128.store(entry, v128.and(i32x4.ge_s(lanes0, lo), i32x4.lt_s(lanes0, hi)));
  v128.store(entry, v128.and(i32x4.ge_s(lanes1, lo), i32x4.lt_s(lanes1, hi)), 16);
  store<i32>(entry, src - from, 32);
}

/**
 * The segments of output positions j0 .. j0 + cols − 1 (horizontal stride 1): a run per output row,
 * lane l of the run at row oh, column ow reading oh·SH·Wp + ow (plus the kernel offset of the row).
 */
function positionSegments(g: usize, j0: i32, cols: i32, table: usize): i32 {
  const OW = field(g, OUT_WIDTH);
  const rowStep = field(g, STRIDE_H) * (field(g, WIDTH) + 2 * field(g, PAD_W));
  let oh = j0 / OW;
  let ow = j0 - oh * OW;
  let lane = 0;
  let count = 0;
  while (lane < cols) {
    const run = min(cols - lane, OW - ow);
    putSegment(table, count++, oh * rowStep + ow, lane, lane + run);
    lane += run;
    ow = 0;
    oh++;
  }
  return count;
}

/** Per-lane sources of output positions j0 .. j0 + cols − 1, for any stride (int32 at table + 4·lane). */
function positionSources(g: usize, j0: i32, cols: i32, table: usize): void {
  const OW = field(g, OUT_WIDTH);
  const SW = field(g, STRIDE_W);
  const rowStep = field(g, STRIDE_H) * (field(g, WIDTH) + 2 * field(g, PAD_W));
  let oh = j0 / OW;
  let ow = j0 - oh * OW;
  for (let lane = 0; lane < cols; lane++) {
    store<i32>(table + (<usize>lane << 2), oh * rowStep + ow * SW);
    if (++ow == OW) {
      ow = 0;
      oh++;
    }
  }
}

/**
 * The segments of kernel elements k0 .. k0 + cols − 1 (k = (c·KH + kh)·KW + kw): a run per kernel row,
 * lane l reading c·plane + kh·Wp + kw (plus the position's offset).
 */
function kernelSegments(g: usize, k0: i32, cols: i32, table: usize): i32 {
  const KH = field(g, KERNEL_H), KW = field(g, KERNEL_W);
  const Wp = field(g, WIDTH) + 2 * field(g, PAD_W);
  const plane = paddedPlane(g);
  let c = k0 / (KH * KW);
  let kh = (k0 - c * KH * KW) / KW;
  let kw = k0 - (c * KH + kh) * KW;
  let lane = 0;
  let count = 0;
  while (lane < cols) {
    const run = min(cols - lane, KW - kw);
    putSegment(table, count++, c * plane + kh * Wp + kw, lane, lane + run);
    lane += run;
    kw = 0;
    if (++kh == KH) {
      kh = 0;
      c++;
    }
  }
  return count;
}

/** Lane masks of segment s (half 0: lanes 0–3, 1: lanes 4–7) and its source offset. */
// @ts-ignore: decorator
@inline function segmentMask(table: usize, s: i32, half: i32): v128 {
  return v128.load(table + <usize>(s * SEGMENT_BYTES + half * 16));
}

// @ts-ignore: decorator
@inline function segmentSource(table: usize, s: i32): usize {
  return <usize>(load<i32>(table + <usize>(s * SEGMENT_BYTES + 32)) << 2);
}

/**
 * dst[0..8) = the 8 lanes the segments read from `base` (lanes in no segment are 0). `segments` is a
 * constant at each call site: 1 to 3 keeps those segments' masks and sources in registers (m0..s2, read
 * once per panel by the caller), 0 reads all `count` from the table.
 */
// @ts-ignore: decorator
@inline function gather(
  segments: i32, base: usize, table: usize, count: i32, dst: usize,
  m0: v128, n0: v128, s0: usize, m1: v128, n1: v128, s1: usize, m2: v128, n2: v128, s2: usize,
): void {
  let lo: v128, hi: v128;
  if (segments == 0) {
    lo = f32x4.splat(0);
    hi = f32x4.splat(0);
    for (let s = 0; s < count; s++) {
      const src = base + segmentSource(table, s);
      lo = v128.or(lo, v128.and(v128.load(src), segmentMask(table, s, 0)));
      hi = v128.or(hi, v128.and(v128.load(src, 16), segmentMask(table, s, 1)));
    }
  } else {
    lo = v128.and(v128.load(base + s0), m0);
    hi = v128.and(v128.load(base + s0, 16), n0);
    if (segments >= 2) {
      lo = v128.or(lo, v128.and(v128.load(base + s1), m1));
      hi = v128.or(hi, v128.and(v128.load(base + s1, 16), n1));
    }
    if (segments >= 3) {
      lo = v128.or(lo, v128.and(v128.load(base + s2), m2));
      hi = v128.or(hi, v128.and(v128.load(base + s2, 16), n2));
    }
  }
  v128.store(dst, lo);
  v128.store(dst, hi, 16);
}

/** Adds the 8 lanes at `values` to where the segments read from `base` (`segments` as for gather). */
// @ts-ignore: decorator
@inline function scatterAdd(
  segments: i32, base: usize, table: usize, count: i32, values: usize,
  m0: v128, n0: v128, s0: usize, m1: v128, n1: v128, s1: usize, m2: v128, n2: v128, s2: usize,
): void {
  const lo = v128.load(values);
  const hi = v128.load(values, 16);
  if (segments == 0) {
    for (let s = 0; s < count; s++) {
      const dst = base + segmentSource(table, s);
      v128.store(dst, f32x4.add(v128.load(dst), v128.and(lo, segmentMask(table, s, 0))));
      v128.store(dst, f32x4.add(v128.load(dst, 16), v128.and(hi, segmentMask(table, s, 1))), 16);
    }
  } else {
    // one segment after the other: their 8-float windows may overlap, and each must see the last's sums
    let dst = base + s0;
    v128.store(dst, f32x4.add(v128.load(dst), v128.and(lo, m0)));
    v128.store(dst, f32x4.add(v128.load(dst, 16), v128.and(hi, n0)), 16);
    if (segments >= 2) {
      dst = base + s1;
      v128.store(dst, f32x4.add(v128.load(dst), v128.and(lo, m1)));
      v128.store(dst, f32x4.add(v128.load(dst, 16), v128.and(hi, n1)), 16);
    }
    if (segments >= 3) {
      dst = base + s2;
      v128.store(dst, f32x4.add(v128.load(dst), v128.and(lo, m2)));
      v128.store(dst, f32x4.add(v128.load(dst, 16), v128.and(hi, n2)), 16);
    }
  }
}

// ---- convolution ----------------------------------------------------------------------------------

/** panel[k] = gather(padded + offset of kernel element k) for k < K: the stride-1 unfolding. */
// @ts-ignore: decorator
@inline function unfoldRows(segments: i32, g: usize, origin: usize, table: usize, count: i32, panel: usize): void {
  const C = field(g, CHANNELS), KH = field(g, KERNEL_H), KW = field(g, KERNEL_W);
  const Wp = field(g, WIDTH) + 2 * field(g, PAD_W);
  const plane = paddedPlane(g);
  const m0 = segmentMask(table, 0, 0), n0 = segmentMask(table, 0, 1), s0 = segmentSource(table, 0);
  const m1 = segmentMask(table, 1, 0), n1 = segmentMask(table, 1, 1), s1 = segmentSource(table, 1);
  const m2 = segmentMask(table, 2, 0), n2 = segmentMask(table, 2, 1), s2 = segmentSource(table, 2);
  let row = panel;
  for (let c = 0; c < C; c++) {
    for (let kh = 0; kh < KH; kh++) {
      let base = origin + (<usize>(c * plane + kh * Wp) << 2);
      for (let kw = 0; kw < KW; kw++) {
        gather(segments, base, table, count, row, m0, n0, s0, m1, n1, s1, m2, n2, s2);
        base += 4;
        row += 32;
      }
    }
  }
}

/**
 * Unfolds output positions j0 .. j0 + cols − 1 of the padded sample into panel[k][0..8) (k < K; lanes
 * from cols on are 0): panel[k][l] = padded[c, oh·SH + kh, ow·SW + kw] for position j0 + l.
 */
function unfoldPositions(g: usize, pad: usize, j0: i32, cols: i32, table: usize, panel: usize): void {
  const C = field(g, CHANNELS), KH = field(g, KERNEL_H), KW = field(g, KERNEL_W);
  const Wp = field(g, WIDTH) + 2 * field(g, PAD_W);
  const plane = paddedPlane(g);
  const origin = paddedOrigin(g, pad);
  let row = panel;
  if (field(g, STRIDE_W) == 1) {
    const count = positionSegments(g, j0, cols, table);
    if (count == 1) unfoldRows(1, g, origin, table, count, panel);
    else if (count == 2) unfoldRows(2, g, origin, table, count, panel);
    else if (count == 3) unfoldRows(3, g, origin, table, count, panel);
    else unfoldRows(0, g, origin, table, count, panel);
  } else {
    positionSources(g, j0, cols, table);
    for (let c = 0; c < C; c++) {
      for (let kh = 0; kh < KH; kh++) {
        for (let kw = 0; kw < KW; kw++) {
          const base = origin + (<usize>(c * plane + kh * Wp + kw) << 2);
          v128.store(row, f32x4.splat(0));
          v128.store(row, f32x4.splat(0), 16);
          for (let l = 0; l < cols; l++) {
            store<f32>(row + (<usize>l << 2), load<f32>(base + (<usize>load<i32>(table + (<usize>l << 2)) << 2)));
          }
          row += 32;
        }
      }
    }
  }
}

/** The padded copy's border (and slack) is 0 and stays so: only interiors are written after this. */
// @ts-ignore: decorator
@inline function clearPadded(g: usize, pad: usize): void {
  memory.fill(pad, 0, paddedBytes(g));
}

/**
 * y[n] = act(W · cols_n + b) for n in [n0, n1): x [N, C, H, W], w [O, K], b [O], y [N, O, OH, OW],
 * activation as in assembly/activations.ts.
 */
export function conv2dForward(g: usize, x: usize, w: usize, b: usize, y: usize, activation: i32, n0: i32, n1: i32, scratch: usize): void {
  const O = field(g, OUT_CHANNELS);
  const K = columnLength(g);
  const P = positions(g);
  const O4 = roundUp(O, TILE_ROWS);
  const P8 = roundUp(P, TILE_COLS);
  const pad = scratch;
  const table = pad + paddedBytes(g);
  const spare = table + TABLE_BYTES;
  const packed = scratch + packedOffset(g);
  const panel = scratch + panelOffset(g, PASS_FORWARD);
  const out = scratch + outputOffset(g, PASS_FORWARD);
  packA(false, O, K, w, K, packed);
  clearPadded(g, pad);
  const sampleIn = <usize>(field(g, CHANNELS) * field(g, HEIGHT) * field(g, WIDTH)) << 2;
  const sampleOut = <usize>(O * P) << 2;
  for (let n = n0; n < n1; n++) {
    fillPadded(g, x + <usize>n * sampleIn, pad);
    for (let j0 = 0; j0 < P; j0 += TILE_COLS) {
      unfoldPositions(g, pad, j0, min(TILE_COLS, P - j0), table, panel);
      multiplyPanel(O4, TILE_COLS, K, 1, packed, panel, 0, out + (<usize>j0 << 2), P8, spare);
    }
    biasActivationRows(out, P8, b, O, P, activation, y + <usize>n * sampleOut);
  }
}

/**
 * dst[o, p] = act(src[o, p] + b[o]) for o < rows, p < cols; src has rows of `ld` floats, dst of cols.
 * The last cols mod 4 go through the same vector code one lane at a time.
 */
function biasActivationRows(src: usize, ld: i32, b: usize, rows: i32, cols: i32, activation: i32, dst: usize): void {
  const vectorEnd = <usize>(cols & ~3) << 2;
  const end = <usize>cols << 2;
  for (let o = 0; o < rows; o++) {
    const from = src + (<usize>(o * ld) << 2);
    const to = dst + (<usize>(o * cols) << 2);
    const bias = v128.load32_splat(b + (<usize>o << 2));
    let offset: usize = 0;
    for (; offset < vectorEnd; offset += 16) {
      v128.store(to + offset, activate(activation, f32x4.add(v128.load(from + offset), bias)));
    }
    for (; offset < end; offset += 4) {
      const value = f32x4.add(f32x4.splat(load<f32>(from + offset)), bias);
      store<f32>(to + offset, f32x4.extract_lane(activate(activation, value), 0));
    }
  }
}

/** Adds strip[k] back to where unfoldRows reads kernel element k from, for k < K: the stride-1 col2im. */
// @ts-ignore: decorator
@inline function foldRows(segments: i32, g: usize, origin: usize, table: usize, count: i32, strip: usize): void {
  const C = field(g, CHANNELS), KH = field(g, KERNEL_H), KW = field(g, KERNEL_W);
  const Wp = field(g, WIDTH) + 2 * field(g, PAD_W);
  const plane = paddedPlane(g);
  const m0 = segmentMask(table, 0, 0), n0 = segmentMask(table, 0, 1), s0 = segmentSource(table, 0);
  const m1 = segmentMask(table, 1, 0), n1 = segmentMask(table, 1, 1), s1 = segmentSource(table, 1);
  const m2 = segmentMask(table, 2, 0), n2 = segmentMask(table, 2, 1), s2 = segmentSource(table, 2);
  // Kernel rows innermost: the next window is Wp floats on, while the windows of kw and kw + 1 are 1 float
  // apart and would reload what the store just before wrote (a stall of a dozen cycles each).
  for (let c = 0; c < C; c++) {
    for (let kw = 0; kw < KW; kw++) {
      let base = origin + (<usize>(c * plane + kw) << 2);
      let row = strip + (<usize>((c * KH * KW + kw) * TILE_COLS) << 2);
      for (let kh = 0; kh < KH; kh++) {
        scatterAdd(segments, base, table, count, row, m0, n0, s0, m1, n1, s1, m2, n2, s2);
        base += <usize>Wp << 2;
        row += <usize>(KW * TILE_COLS) << 2;
      }
    }
  }
}

/** dx[n] = col2im(Wᵀ · dy_n) for n in [n0, n1): dy [N, O, OH, OW], w [O, K], dx [N, C, H, W] (overwritten). */
export function conv2dInputGrad(g: usize, dy: usize, w: usize, dx: usize, n0: i32, n1: i32, scratch: usize): void {
  const C = field(g, CHANNELS), KH = field(g, KERNEL_H), KW = field(g, KERNEL_W);
  const O = field(g, OUT_CHANNELS);
  const K = columnLength(g);
  const P = positions(g);
  const K4 = roundUp(K, TILE_ROWS);
  const Wp = field(g, WIDTH) + 2 * field(g, PAD_W);
  const plane = paddedPlane(g);
  const stride1 = field(g, STRIDE_W) == 1;
  const pad = scratch;
  const origin = paddedOrigin(g, pad);
  const table = pad + paddedBytes(g);
  const spare = table + TABLE_BYTES;
  const packed = scratch + packedOffset(g);
  const panel = scratch + panelOffset(g, PASS_INPUT_GRAD);
  const strip = scratch + outputOffset(g, PASS_INPUT_GRAD);
  packA(true, K, O, w, K, packed);
  const sampleIn = <usize>(C * field(g, HEIGHT) * field(g, WIDTH)) << 2;
  const sampleOut = <usize>(O * P) << 2;
  for (let n = n0; n < n1; n++) {
    clearPadded(g, pad);
    const dyn = dy + <usize>n * sampleOut;
    for (let j0 = 0; j0 < P; j0 += TILE_COLS) {
      const cols = min(TILE_COLS, P - j0);
      packPanel(false, P, O, dyn, P, j0, panel);
      multiplyPanel(K4, TILE_COLS, O, 1, packed, panel, 0, strip, TILE_COLS, spare);
      // strip[k][l] is the gradient of padded[c, oh·SH + kh, ow·SW + kw] through position j0 + l
      let row = strip;
      if (stride1) {
        const count = positionSegments(g, j0, cols, table);
        if (count == 1) foldRows(1, g, origin, table, count, strip);
        else if (count == 2) foldRows(2, g, origin, table, count, strip);
        else if (count == 3) foldRows(3, g, origin, table, count, strip);
        else foldRows(0, g, origin, table, count, strip);
      } else {
        positionSources(g, j0, cols, table);
        for (let c = 0; c < C; c++) {
          for (let kh = 0; kh < KH; kh++) {
            for (let kw = 0; kw < KW; kw++) {
              const base = origin + (<usize>(c * plane + kh * Wp + kw) << 2);
              for (let l = 0; l < cols; l++) {
                const at = base + (<usize>load<i32>(table + (<usize>l << 2)) << 2);
                store<f32>(at, load<f32>(at) + load<f32>(row + (<usize>l << 2)));
              }
              row += 32;
            }
          }
        }
      }
    }
    readPadded(g, pad, dx + <usize>n * sampleIn);
  }
}

/** panel[p] = gather(padded + offset of position p) for p < P: the unfolding of the weight gradient. */
// @ts-ignore: decorator
@inline function unfoldPositionRows(
  segments: i32, origin: usize, OH: i32, OW: i32, rowStep: i32, SW: i32, table: usize, count: i32, panel: usize,
): void {
  const m0 = segmentMask(table, 0, 0), n0 = segmentMask(table, 0, 1), s0 = segmentSource(table, 0);
  const m1 = segmentMask(table, 1, 0), n1 = segmentMask(table, 1, 1), s1 = segmentSource(table, 1);
  const m2 = segmentMask(table, 2, 0), n2 = segmentMask(table, 2, 1), s2 = segmentSource(table, 2);
  let row = panel;
  for (let oh = 0; oh < OH; oh++) {
    let base = origin + (<usize>(oh * rowStep) << 2);
    for (let ow = 0; ow < OW; ow++) {
      gather(segments, base, table, count, row, m0, n0, s0, m1, n1, s1, m2, n2, s2);
      base += <usize>SW << 2;
      row += 32;
    }
  }
}

/**
 * dw = Σ_{n0 ≤ n < n1} dy_n · cols_nᵀ and db = Σ_{n0 ≤ n < n1} Σ_p dy_n (both overwritten):
 * x [N, C, H, W], dy [N, O, OH, OW], dw [O, K], db [O]. Samples are added in order, each one's sum over
 * positions first.
 */
export function conv2dWeightGrad(g: usize, x: usize, dy: usize, dw: usize, db: usize, n0: i32, n1: i32, scratch: usize): void {
  if (weightGradByDots(g)) {
    weightGradDots(g, x, dy, dw, db, n0, n1, scratch);
    return;
  }
  const O = field(g, OUT_CHANNELS);
  const K = columnLength(g);
  const OH = field(g, OUT_HEIGHT), OW = field(g, OUT_WIDTH);
  const P = OH * OW;
  const O4 = roundUp(O, TILE_ROWS);
  const K8 = roundUp(K, TILE_COLS);
  const SW = field(g, STRIDE_W);
  const rowStep = field(g, STRIDE_H) * (field(g, WIDTH) + 2 * field(g, PAD_W));
  const pad = scratch;
  const origin = paddedOrigin(g, pad);
  const table = pad + paddedBytes(g);
  const spare = table + TABLE_BYTES;
  const packed = scratch + packedOffset(g);
  const panel = scratch + panelOffset(g, PASS_WEIGHT_GRAD);
  const sum = scratch + outputOffset(g, PASS_WEIGHT_GRAD);
  clearPadded(g, pad);
  const sampleIn = <usize>(field(g, CHANNELS) * field(g, HEIGHT) * field(g, WIDTH)) << 2;
  const sampleOut = <usize>(O * P) << 2;
  for (let n = n0; n < n1; n++) {
    const first = n == n0;
    const dyn = dy + <usize>n * sampleOut;
    fillPadded(g, x + <usize>n * sampleIn, pad);
    packA(false, O, P, dyn, P, packed);
    for (let k0 = 0; k0 < K; k0 += TILE_COLS) {
      const count = kernelSegments(g, k0, min(TILE_COLS, K - k0), table);
      // panel[p][l] = cols_n[k0 + l, p]
      if (count == 1) unfoldPositionRows(1, origin, OH, OW, rowStep, SW, table, count, panel);
      else if (count == 2) unfoldPositionRows(2, origin, OH, OW, rowStep, SW, table, count, panel);
      else if (count == 3) unfoldPositionRows(3, origin, OH, OW, rowStep, SW, table, count, panel);
      else unfoldPositionRows(0, origin, OH, OW, rowStep, SW, table, count, panel);
      multiplyPanel(O4, TILE_COLS, P, 1, packed, panel, first ? 0 : 1, sum + (<usize>k0 << 2), K8, spare);
    }
    addBiasGradient(dyn, O, P, db, first);
  }
  for (let o = 0; o < O; o++) memory.copy(dw + (<usize>(o * K) << 2), sum + (<usize>(o * K8) << 2), <usize>K << 2);
}

/** conv2dWeightGrad as dot products over virtual positions (see weightGradByDots), summing into dw directly. */
function weightGradDots(g: usize, x: usize, dy: usize, dw: usize, db: usize, n0: i32, n1: i32, scratch: usize): void {
  const C = field(g, CHANNELS), KH = field(g, KERNEL_H), KW = field(g, KERNEL_W);
  const O = field(g, OUT_CHANNELS);
  const K = columnLength(g);
  const OH = field(g, OUT_HEIGHT), OW = field(g, OUT_WIDTH);
  const P = OH * OW;
  const Wp = field(g, WIDTH) + 2 * field(g, PAD_W);
  const virtual = OH * Wp;
  const plane = paddedPlane(g);
  const pad = scratch;
  const origin = paddedOrigin(g, pad);
  const widened = scratch + packedOffset(g);
  clearPadded(g, pad);
  memory.fill(widened, 0, <usize>(O * virtual) << 2);
  const sampleIn = <usize>(C * field(g, HEIGHT) * field(g, WIDTH)) << 2;
  const sampleOut = <usize>(O * P) << 2;
  const rowBytes = <usize>OW << 2;
  for (let n = n0; n < n1; n++) {
    const first = n == n0;
    const dyn = dy + <usize>n * sampleOut;
    fillPadded(g, x + <usize>n * sampleIn, pad);
    for (let o = 0; o < O; o++) {
      for (let oh = 0; oh < OH; oh++) {
        memory.copy(widened + (<usize>(o * virtual + oh * Wp) << 2), dyn + (<usize>(o * P + oh * OW) << 2), rowBytes);
      }
    }
    // dw[o, (c, kh, kw)] (+)= Σ_q widened[o, q] · padded[c, kh, kw + q]: KW rows of B, one float apart
    for (let c = 0; c < C; c++) {
      for (let kh = 0; kh < KH; kh++) {
        gemmDot(O, KW, virtual, 1, widened, virtual, origin + (<usize>(c * plane + kh * Wp) << 2), 1,
          first ? 0 : 1, dw + (<usize>((c * KH + kh) * KW) << 2), K);
      }
    }
    addBiasGradient(dyn, O, P, db, first);
  }
}

/** Σ of `count` floats at `src`: four lanes, then the lanes added, then the leftovers one by one. */
function sumRow(src: usize, count: i32): f32 {
  const vectorEnd = <usize>(count & ~3) << 2;
  const end = <usize>count << 2;
  let acc = f32x4.splat(0);
  let offset: usize = 0;
  for (; offset < vectorEnd; offset += 16) acc = f32x4.add(acc, v128.load(src + offset));
  let total = (f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1)) + (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
  for (; offset < end; offset += 4) total += load<f32>(src + offset);
  return total;
}

/** db[o] = (first ? 0 : db[o]) + Σ_p dy_n[o, p] for o < O: one sample's share of the bias gradient. */
function addBiasGradient(dyn: usize, O: i32, P: i32, db: usize, first: bool): void {
  for (let o = 0; o < O; o++) {
    const total = sumRow(dyn + (<usize>(o * P) << 2), P);
    const at = db + (<usize>o << 2);
    store<f32>(at, first ? total : load<f32>(at) + total);
  }
}

/** dst[i] += src[i] for i < length (the weight gradient's ranges, added in order by the binding). */
export function accumulate(dst: usize, src: usize, length: i32): void {
  const vectorEnd = <usize>(length & ~3) << 2;
  const end = <usize>length << 2;
  let offset: usize = 0;
  for (; offset < vectorEnd; offset += 16) v128.store(dst + offset, f32x4.add(v128.load(dst + offset), v128.load(src + offset)));
  for (; offset < end; offset += 4) store<f32>(dst + offset, load<f32>(dst + offset) + load<f32>(src + offset));
}

// ---- pooling (no padding: every window lies inside its plane) -------------------------------------
// The common 2×2 window with stride 2 has its own paths (pairWindows): four outputs at a time from two
// input rows, the lanes of each row split into even and odd columns by shuffles. Other windows go one
// output at a time. Either way each output is computed as the reference defines it.

/** Whether the pool is the 2×2 window with stride 2, which the vector paths below handle. */
// @ts-ignore: decorator
@inline function pairWindows(g: usize): bool {
  return field(g, KERNEL_H) == 2 && field(g, KERNEL_W) == 2 && field(g, STRIDE_H) == 2 && field(g, STRIDE_W) == 2;
}

/** Input columns 2j of lanes j = 0..3 and their odd neighbours, [0, 2, 4, 6] and [1, 3, 5, 7]. */
const EVEN_COLUMNS = memory.data<i32>([0, 2, 4, 6]);

/**
 * The reference's running maximum as one step on four lanes: `later` (the next value in row-major order)
 * replaces `best` when greater or NaN. The result's lanes select `later` where the mask is all ones.
 */
// @ts-ignore: decorator
@inline function replaces(best: v128, later: v128): v128 {
  return v128.or(f32x4.gt(later, best), f32x4.ne(later, later));
}

/**
 * The maximum of the window at `start` (h·W + w within the plane at `src`) and where it is: the values in
 * row-major order, each replacing the best so far when greater or NaN (the first of equal maxima stays,
 * the last NaN wins). Returns the offset; the maximum is stored at `y`.
 */
// @ts-ignore: decorator
@inline function windowMax(src: usize, start: i32, W: i32, KH: i32, KW: i32, y: usize): i32 {
  let best = -Infinity as f32;
  let where = start;
  for (let p = 0; p < KH; p++) {
    const rowStart = start + p * W;
    for (let q = 0; q < KW; q++) {
      const value = load<f32>(src + (<usize>(rowStart + q) << 2));
      if (value > best || value != value) {
        best = value;
        where = rowStart + q;
      }
    }
  }
  store<f32>(y, best);
  return where;
}

/**
 * y = window maxima of planes [n0·C, n1·C), indices = where each is within its plane (h·W + w). A value
 * replaces the best so far when greater, or when NaN, so the first maximum wins a tie and the last NaN
 * wins over numbers, as in the reference. In the 2×2 path the step is associative, so the window's
 * four values (a b / c d) are taken as (a then b) then (c then d), which keeps row-major order.
 */
export function maxpool2dForward(g: usize, x: usize, y: usize, indices: usize, n0: i32, n1: i32): void {
  const C = field(g, CHANNELS), W = field(g, WIDTH);
  const KH = field(g, KERNEL_H), KW = field(g, KERNEL_W), SH = field(g, STRIDE_H), SW = field(g, STRIDE_W);
  const OH = field(g, OUT_HEIGHT), OW = field(g, OUT_WIDTH);
  const planeIn = field(g, HEIGHT) * W;
  const pairs = pairWindows(g);
  const vectorOW = pairs ? OW & ~3 : 0;
  const evenColumns = v128.load(EVEN_COLUMNS);
  const rowBelow = i32x4.splat(W);
  const eight = i32x4.splat(8);
  for (let plane = n0 * C; plane < n1 * C; plane++) {
    const src = x + (<usize>(plane * planeIn) << 2);
    let out = <usize>(plane * OH * OW) << 2;
    for (let i = 0; i < OH; i++) {
      let j = 0;
      if (vectorOW > 0) {
        const top = src + (<usize>(2 * i * W) << 2);
        const bottom = top + (<usize>W << 2);
        let at = i32x4.add(i32x4.splat(2 * i * W), evenColumns);
        for (; j < vectorOW; j += 4) {
          const offset = <usize>j << 3;
          const t0 = v128.load(top + offset), t1 = v128.load(top + offset, 16);
          const b0 = v128.load(bottom + offset), b1 = v128.load(bottom + offset, 16);
          const a = v128.shuffle<f32>(t0, t1, 0, 2, 4, 6);
          const b = v128.shuffle<f32>(t0, t1, 1, 3, 5, 7);
          const c = v128.shuffle<f32>(b0, b1, 0, 2, 4, 6);
          const d = v128.shuffle<f32>(b0, b1, 1, 3, 5, 7);
          // a mask lane is −1 where the odd column wins: subtracting it moves the index one column on
          const pickTop = replaces(a, b);
          const pickBottom = replaces(c, d);
          const bestTop = v128.bitselect(b, a, pickTop);
          const bestBottom = v128.bitselect(d, c, pickBottom);
          const whereTop = i32x4.sub(at, pickTop);
          const whereBottom = i32x4.add(i32x4.sub(at, pickBottom), rowBelow);
          const pick = replaces(bestTop, bestBottom);
          v128.store(y + out, v128.bitselect(bestBottom, bestTop, pick));
          v128.store(indices + out, v128.bitselect(whereBottom, whereTop, pick));
          at = i32x4.add(at, eight);
          out += 16;
        }
      }
      if (pairs) {
        // the row's last OW mod 4 windows, the same steps one lane at a time
        for (; j < OW; j++) {
          const start = 2 * i * W + 2 * j;
          const top = src + (<usize>start << 2);
          const bottom = top + (<usize>W << 2);
          let best = load<f32>(top), where = start;
          let value = load<f32>(top, 4);
          if (value > best || value != value) { best = value; where = start + 1; }
          let lower = load<f32>(bottom), below = start + W;
          value = load<f32>(bottom, 4);
          if (value > lower || value != value) { lower = value; below = start + W + 1; }
          if (lower > best || lower != lower) { best = lower; where = below; }
          store<f32>(y + out, best);
          store<i32>(indices + out, where);
          out += 4;
        }
      }
      for (; j < OW; j++) {
        store<i32>(indices + out, windowMax(src, i * SH * W + j * SW, W, KH, KW, y + out));
        out += 4;
      }
    }
  }
}

/**
 * dx (overwritten) = dy routed to the maxima: for each output, in row-major order, dx[indices] += dy.
 * An index outside its output's window is skipped (the reference never finds it there either). In the
 * 2×2 path windows do not overlap, so each window's four inputs are written at once: dy where the index
 * points, 0 elsewhere (dy + 0, so that −0 comes out +0 as the reference's sum from 0 does).
 */
export function maxpool2dBackward(g: usize, dy: usize, indices: usize, dx: usize, n0: i32, n1: i32): void {
  const C = field(g, CHANNELS), H = field(g, HEIGHT), W = field(g, WIDTH);
  const KH = field(g, KERNEL_H), KW = field(g, KERNEL_W), SH = field(g, STRIDE_H), SW = field(g, STRIDE_W);
  const OH = field(g, OUT_HEIGHT), OW = field(g, OUT_WIDTH);
  const planeIn = H * W;
  if (pairWindows(g)) {
    maxpool2x2Backward(g, dy, indices, dx, n0, n1);
    return;
  }
  for (let plane = n0 * C; plane < n1 * C; plane++) {
    const dst = dx + (<usize>(plane * planeIn) << 2);
    memory.fill(dst, 0, <usize>planeIn << 2);
    let out = <usize>(plane * OH * OW) << 2;
    for (let i = 0; i < OH; i++) {
      for (let j = 0; j < OW; j++) {
        const where = load<i32>(indices + out);
        // where = start + p·W + q with p < KH, q < KW exactly when it lies in the window
        let offset = where - (i * SH * W + j * SW);
        let inside = false;
        for (let p = 0; p < KH; p++) {
          if (<u32>offset < <u32>KW) inside = true;
          offset -= W;
        }
        if (inside) {
          const at = dst + (<usize>where << 2);
          store<f32>(at, load<f32>(at) + load<f32>(dy + out));
        }
        out += 4;
      }
    }
  }
}

/** maxpool2dBackward of a 2×2 window with stride 2: every input written once, no accumulation. */
function maxpool2x2Backward(g: usize, dy: usize, indices: usize, dx: usize, n0: i32, n1: i32): void {
  const C = field(g, CHANNELS), H = field(g, HEIGHT), W = field(g, WIDTH);
  const OH = field(g, OUT_HEIGHT), OW = field(g, OUT_WIDTH);
  const planeIn = H * W;
  const vectorOW = OW & ~3;
  // an odd last row or column lies in no window
  const uncovered = H != 2 * OH || W != 2 * OW;
  const evenColumns = v128.load(EVEN_COLUMNS);
  const zero = f32x4.splat(0);
  const one = i32x4.splat(1);
  const below = i32x4.splat(W);
  const belowNext = i32x4.splat(W + 1);
  const eight = i32x4.splat(8);
  for (let plane = n0 * C; plane < n1 * C; plane++) {
    const dst = dx + (<usize>(plane * planeIn) << 2);
    if (uncovered) memory.fill(dst, 0, <usize>planeIn << 2);
    let out = <usize>(plane * OH * OW) << 2;
    for (let i = 0; i < OH; i++) {
      const start = 2 * i * W;
      const top = dst + (<usize>start << 2);
      const bottom = top + (<usize>W << 2);
      let at = i32x4.add(i32x4.splat(start), evenColumns);
      let j = 0;
      for (; j < vectorOW; j += 4) {
        const offset = i32x4.sub(v128.load(indices + out), at);
        const value = f32x4.add(v128.load(dy + out), zero);
        const a = v128.and(value, i32x4.eq(offset, zero));
        const b = v128.and(value, i32x4.eq(offset, one));
        const c = v128.and(value, i32x4.eq(offset, below));
        const d = v128.and(value, i32x4.eq(offset, belowNext));
        const columns = <usize>j << 3;
        v128.store(top + columns, v128.shuffle<f32>(a, b, 0, 4, 1, 5));
        v128.store(top + columns, v128.shuffle<f32>(a, b, 2, 6, 3, 7), 16);
        v128.store(bottom + columns, v128.shuffle<f32>(c, d, 0, 4, 1, 5));
        v128.store(bottom + columns, v128.shuffle<f32>(c, d, 2, 6, 3, 7), 16);
        at = i32x4.add(at, eight);
        out += 16;
      }
      for (; j < OW; j++) {
        const offset = load<i32>(indices + out) - (start + 2 * j);
        const value = load<f32>(dy + out) + 0;
        const columns = <usize>j << 3;
        store<f32>(top + columns, offset == 0 ? value : 0);
        store<f32>(top + columns, offset == 1 ? value : 0, 4);
        store<f32>(bottom + columns, offset == W ? value : 0);
        store<f32>(bottom + columns, offset == W + 1 ? value : 0, 4);
        out += 4;
      }
    }
  }
}

/**
 * y = window means of planes [n0·C, n1·C): the window's sum in row-major order, divided by KH·KW (the
 * 2×2 path adds in the same order, four outputs at a time).
 */
export function avgpool2dForward(g: usize, x: usize, y: usize, n0: i32, n1: i32): void {
  const C = field(g, CHANNELS), W = field(g, WIDTH);
  const KH = field(g, KERNEL_H), KW = field(g, KERNEL_W), SH = field(g, STRIDE_H), SW = field(g, STRIDE_W);
  const OH = field(g, OUT_HEIGHT), OW = field(g, OUT_WIDTH);
  const planeIn = field(g, HEIGHT) * W;
  const count = <f32>(KH * KW);
  const vectorOW = pairWindows(g) ? OW & ~3 : 0;
  const four = f32x4.splat(4);
  for (let plane = n0 * C; plane < n1 * C; plane++) {
    const src = x + (<usize>(plane * planeIn) << 2);
    let out = y + (<usize>(plane * OH * OW) << 2);
    for (let i = 0; i < OH; i++) {
      let j = 0;
      if (vectorOW > 0) {
        const top = src + (<usize>(2 * i * W) << 2);
        const bottom = top + (<usize>W << 2);
        for (; j < vectorOW; j += 4) {
          const offset = <usize>j << 3;
          const t0 = v128.load(top + offset), t1 = v128.load(top + offset, 16);
          const b0 = v128.load(bottom + offset), b1 = v128.load(bottom + offset, 16);
          let sum = f32x4.add(v128.shuffle<f32>(t0, t1, 0, 2, 4, 6), v128.shuffle<f32>(t0, t1, 1, 3, 5, 7));
          sum = f32x4.add(sum, v128.shuffle<f32>(b0, b1, 0, 2, 4, 6));
          sum = f32x4.add(sum, v128.shuffle<f32>(b0, b1, 1, 3, 5, 7));
          v128.store(out, f32x4.div(sum, four));
          out += 16;
        }
      }
      for (; j < OW; j++) {
        let sum: f32 = 0;
        let row = src + (<usize>(i * SH * W + j * SW) << 2);
        for (let p = 0; p < KH; p++) {
          for (let q = 0; q < KW; q++) sum += load<f32>(row + (<usize>q << 2));
          row += <usize>W << 2;
        }
        store<f32>(out, sum / count);
        out += 4;
      }
    }
  }
}

/**
 * dx (overwritten) = (Σ dy over the windows containing each input) / (KH·KW), windows in row-major order.
 * In the 2×2 path each input lies in one window: dx = (dy + 0) / 4, written a window at a time.
 */
export function avgpool2dBackward(g: usize, dy: usize, dx: usize, n0: i32, n1: i32): void {
  const C = field(g, CHANNELS), H = field(g, HEIGHT), W = field(g, WIDTH);
  const KH = field(g, KERNEL_H), KW = field(g, KERNEL_W), SH = field(g, STRIDE_H), SW = field(g, STRIDE_W);
  const OH = field(g, OUT_HEIGHT), OW = field(g, OUT_WIDTH);
  const planeIn = H * W;
  const count = f32x4.splat(<f32>(KH * KW));
  if (pairWindows(g)) {
    const vectorOW = OW & ~3;
    const uncovered = H != 2 * OH || W != 2 * OW;
    const zero = f32x4.splat(0);
    for (let plane = n0 * C; plane < n1 * C; plane++) {
      const dst = dx + (<usize>(plane * planeIn) << 2);
      if (uncovered) memory.fill(dst, 0, <usize>planeIn << 2);
      let out = dy + (<usize>(plane * OH * OW) << 2);
      for (let i = 0; i < OH; i++) {
        const top = dst + (<usize>(2 * i * W) << 2);
        const bottom = top + (<usize>W << 2);
        let j = 0;
        for (; j < vectorOW; j += 4) {
          const value = f32x4.div(f32x4.add(v128.load(out), zero), count);
          const lo = v128.shuffle<f32>(value, value, 0, 0, 1, 1);
          const hi = v128.shuffle<f32>(value, value, 2, 2, 3, 3);
          const columns = <usize>j << 3;
          v128.store(top + columns, lo);
          v128.store(top + columns, hi, 16);
          v128.store(bottom + columns, lo);
          v128.store(bottom + columns, hi, 16);
          out += 16;
        }
        for (; j < OW; j++) {
          const value = (load<f32>(out) + 0) / 4;
          const columns = <usize>j << 3;
          store<f32>(top + columns, value);
          store<f32>(top + columns, value, 4);
          store<f32>(bottom + columns, value);
          store<f32>(bottom + columns, value, 4);
          out += 4;
        }
      }
    }
    return;
  }
  for (let plane = n0 * C; plane < n1 * C; plane++) {
    const dst = dx + (<usize>(plane * planeIn) << 2);
    memory.fill(dst, 0, <usize>planeIn << 2);
    let out = dy + (<usize>(plane * OH * OW) << 2);
    for (let i = 0; i < OH; i++) {
      for (let j = 0; j < OW; j++) {
        const value = load<f32>(out);
        let row = dst + (<usize>(i * SH * W + j * SW) << 2);
        for (let p = 0; p < KH; p++) {
          for (let q = 0; q < KW; q++) {
            const at = row + (<usize>q << 2);
            store<f32>(at, load<f32>(at) + value);
          }
          row += <usize>W << 2;
        }
        out += 4;
      }
    }
    divideBy(dst, planeIn, count);
  }
}

/** v[i] /= divisor for i < length (a lane at a time for the last length mod 4). */
function divideBy(v: usize, length: i32, divisor: v128): void {
  const vectorEnd = <usize>(length & ~3) << 2;
  const end = <usize>length << 2;
  let offset: usize = 0;
  for (; offset < vectorEnd; offset += 16) v128.store(v + offset, f32x4.div(v128.load(v + offset), divisor));
  for (; offset < end; offset += 4) store<f32>(v + offset, load<f32>(v + offset) / f32x4.extract_lane(divisor, 0));
}

// ---- element-wise ---------------------------------------------------------------------------------

/** y[i] = act(x[i]) for i < count (y may be x); the last count mod 4 through the same vector code. */
export function activationForward(activation: i32, x: usize, y: usize, count: i32): void {
  const vectorEnd = <usize>(count & ~3) << 2;
  const end = <usize>count << 2;
  let offset: usize = 0;
  for (; offset < vectorEnd; offset += 16) v128.store(y + offset, activate(activation, v128.load(x + offset)));
  for (; offset < end; offset += 4) {
    store<f32>(y + offset, f32x4.extract_lane(activate(activation, f32x4.splat(load<f32>(x + offset))), 0));
  }
}

/**
 * out[i] = in[i] · (keep[i] ≠ 0 ? scale : 0) for i < count, scale = 1 / (1 − p) rounded to float32 by
 * the caller: dropout forward (x → y) and backward (dy → dx) alike. Multiplying by 0 keeps NaN a NaN.
 */
export function dropout(input: usize, keep: usize, scale: f32, out: usize, count: i32): void {
  const vectorCount = count & ~3;
  const factor = f32x4.splat(scale);
  let i = 0;
  for (; i < vectorCount; i += 4) {
    const bytes = v128.load32_zero(keep + <usize>i);
    const kept = i32x4.ne(i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(bytes)), i32x4.splat(0));
    const at = <usize>i << 2;
    v128.store(out + at, f32x4.mul(v128.load(input + at), v128.and(factor, kept)));
  }
  for (; i < count; i++) {
    const at = <usize>i << 2;
    store<f32>(out + at, load<f32>(input + at) * (load<u8>(keep + <usize>i) != 0 ? scale : 0));
  }
}

// ---- batch normalization: x, y, dx, dy [N, C, S]; per-channel arrays [C] ---------------------------
// Channel sums run in float64 (as the reference's), over N runs of S contiguous values; the element-wise
// passes run in float32 with coefficients computed in float64.

/** Σ_n Σ_s f(x[n, c, s]) in float64, with f the identity or (· − mu)² (`squares`). */
// @ts-ignore: decorator
@inline function channelSum(x: usize, N: i32, C: i32, S: i32, c: i32, squares: bool, mu: f64): f64 {
  const vectorEnd = <usize>(S & ~3) << 2;
  const end = <usize>S << 2;
  const center = f64x2.splat(mu);
  let acc0 = f64x2.splat(0);
  let acc1 = f64x2.splat(0);
  let tail: f64 = 0;
  for (let n = 0; n < N; n++) {
    const run = x + (<usize>((n * C + c) * S) << 2);
    let offset: usize = 0;
    for (; offset < vectorEnd; offset += 16) {
      const v = v128.load(run + offset);
      let low = f64x2.promote_low_f32x4(v);
      let high = f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1));
      if (squares) {
        low = f64x2.sub(low, center);
        high = f64x2.sub(high, center);
        low = f64x2.mul(low, low);
        high = f64x2.mul(high, high);
      }
      acc0 = f64x2.add(acc0, low);
      acc1 = f64x2.add(acc1, high);
    }
    for (; offset < end; offset += 4) {
      const value = <f64>load<f32>(run + offset);
      tail += squares ? (value - mu) * (value - mu) : value;
    }
  }
  const acc = f64x2.add(acc0, acc1);
  return (f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1)) + tail;
}

/** out[n, c, s] = (x[n, c, s] − center)·scale + shift over channel c, in float32. */
// @ts-ignore: decorator
@inline function channelAffine(x: usize, out: usize, N: i32, C: i32, S: i32, c: i32, center: f32, scale: f32, shift: f32): void {
  const vectorEnd = <usize>(S & ~3) << 2;
  const end = <usize>S << 2;
  const centerV = f32x4.splat(center);
  const scaleV = f32x4.splat(scale);
  const shiftV = f32x4.splat(shift);
  for (let n = 0; n < N; n++) {
    const at = <usize>((n * C + c) * S) << 2;
    let offset: usize = 0;
    for (; offset < vectorEnd; offset += 16) {
      const v = v128.load(x + at + offset);
      v128.store(out + at + offset, f32x4.add(f32x4.mul(f32x4.sub(v, centerV), scaleV), shiftV));
    }
    for (; offset < end; offset += 4) store<f32>(out + at + offset, (load<f32>(x + at + offset) - center) * scale + shift);
  }
}

/** Training forward (see src/core/reference-batchnorm.ts): batch statistics, y, mean, invStd, running statistics. */
export function batchnormForwardTraining(
  N: i32, C: i32, S: i32, x: usize, gamma: usize, beta: usize, eps: f64, momentum: f64,
  runningMean: usize, runningVar: usize, y: usize, mean: usize, invStd: usize,
): void {
  const M = <f64>N * <f64>S;
  for (let c = 0; c < C; c++) {
    const at = <usize>c << 2;
    const mu = channelSum(x, N, C, S, c, false, 0) / M;
    const variance = channelSum(x, N, C, S, c, true, mu) / M;
    const inv = 1 / Math.sqrt(variance + eps);
    store<f32>(mean + at, <f32>mu);
    store<f32>(invStd + at, <f32>inv);
    store<f32>(runningMean + at, <f32>((1 - momentum) * <f64>load<f32>(runningMean + at) + momentum * mu));
    store<f32>(runningVar + at, <f32>((1 - momentum) * <f64>load<f32>(runningVar + at) + momentum * variance * M / (M - 1)));
    channelAffine(x, y, N, C, S, c, <f32>mu, <f32>(<f64>load<f32>(gamma + at) * inv), load<f32>(beta + at));
  }
}

/** Evaluation forward: y = (x − runningMean)·γ/√(runningVar + ε) + β. */
export function batchnormForwardEval(
  N: i32, C: i32, S: i32, x: usize, gamma: usize, beta: usize, eps: f64, runningMean: usize, runningVar: usize, y: usize,
): void {
  for (let c = 0; c < C; c++) {
    const at = <usize>c << 2;
    const inv = 1 / Math.sqrt(<f64>load<f32>(runningVar + at) + eps);
    channelAffine(x, y, N, C, S, c, load<f32>(runningMean + at), <f32>(<f64>load<f32>(gamma + at) * inv), load<f32>(beta + at));
  }
}

/** [Σ dy, Σ dy·(x − center)·inv] over channel c, in float64. */
// @ts-ignore: decorator
@inline function gradientSums(x: usize, dy: usize, N: i32, C: i32, S: i32, c: i32, center: f64, inv: f64): v128 {
  const vectorEnd = <usize>(S & ~3) << 2;
  const end = <usize>S << 2;
  const centerV = f64x2.splat(center);
  let sumDy = f64x2.splat(0);
  let sumDyX = f64x2.splat(0);
  let tailDy: f64 = 0;
  let tailDyX: f64 = 0;
  for (let n = 0; n < N; n++) {
    const at = <usize>((n * C + c) * S) << 2;
    let offset: usize = 0;
    for (; offset < vectorEnd; offset += 16) {
      const xv = v128.load(x + at + offset);
      const gv = v128.load(dy + at + offset);
      const g0 = f64x2.promote_low_f32x4(gv);
      const g1 = f64x2.promote_low_f32x4(v128.shuffle<f32>(gv, gv, 2, 3, 0, 1));
      const x0 = f64x2.sub(f64x2.promote_low_f32x4(xv), centerV);
      const x1 = f64x2.sub(f64x2.promote_low_f32x4(v128.shuffle<f32>(xv, xv, 2, 3, 0, 1)), centerV);
      sumDy = f64x2.add(sumDy, f64x2.add(g0, g1));
      sumDyX = f64x2.add(sumDyX, f64x2.add(f64x2.mul(g0, x0), f64x2.mul(g1, x1)));
    }
    for (; offset < end; offset += 4) {
      const g = <f64>load<f32>(dy + at + offset);
      tailDy += g;
      tailDyX += g * (<f64>load<f32>(x + at + offset) - center);
    }
  }
  const total = (f64x2.extract_lane(sumDy, 0) + f64x2.extract_lane(sumDy, 1)) + tailDy;
  const totalX = ((f64x2.extract_lane(sumDyX, 0) + f64x2.extract_lane(sumDyX, 1)) + tailDyX) * inv;
  return f64x2.replace_lane(f64x2.splat(total), 1, totalX);
}

/**
 * Training backward: dβ = Σ dy, dγ = Σ dy·x̂ and dx = (γ·invStd/M)·(M·dy − dβ − x̂·dγ), written
 * dx = a·dy − (b + (x − μ)·e) with a = γ·invStd, b = a·dβ/M, e = a·invStd·dγ/M.
 */
export function batchnormBackwardTraining(
  N: i32, C: i32, S: i32, x: usize, dy: usize, gamma: usize, mean: usize, invStd: usize, dx: usize, dgamma: usize, dbeta: usize,
): void {
  const M = <f64>N * <f64>S;
  const vectorEnd = <usize>(S & ~3) << 2;
  const end = <usize>S << 2;
  for (let c = 0; c < C; c++) {
    const at = <usize>c << 2;
    const mu = load<f32>(mean + at);
    const inv = <f64>load<f32>(invStd + at);
    const sums = gradientSums(x, dy, N, C, S, c, mu, inv);
    const sumDy = f64x2.extract_lane(sums, 0);
    const sumDyXhat = f64x2.extract_lane(sums, 1);
    const a64 = <f64>load<f32>(gamma + at) * inv;
    const a = <f32>a64;
    const b = <f32>(a64 * sumDy / M);
    const e = <f32>(a64 * inv * sumDyXhat / M);
    const aV = f32x4.splat(a), bV = f32x4.splat(b), eV = f32x4.splat(e), muV = f32x4.splat(mu);
    for (let n = 0; n < N; n++) {
      const start = <usize>((n * C + c) * S) << 2;
      let offset: usize = 0;
      for (; offset < vectorEnd; offset += 16) {
        const xv = v128.load(x + start + offset);
        const gv = v128.load(dy + start + offset);
        v128.store(dx + start + offset, f32x4.sub(f32x4.mul(aV, gv), f32x4.add(bV, f32x4.mul(f32x4.sub(xv, muV), eV))));
      }
      for (; offset < end; offset += 4) {
        const xs = load<f32>(x + start + offset);
        store<f32>(dx + start + offset, a * load<f32>(dy + start + offset) - (b + (xs - mu) * e));
      }
    }
    store<f32>(dgamma + at, <f32>sumDyXhat);
    store<f32>(dbeta + at, <f32>sumDy);
  }
}

/** Evaluation backward: dβ = Σ dy, dγ = Σ dy·(x − runningMean)·inv, dx = dy·γ·inv with inv = 1/√(runningVar + ε). */
export function batchnormBackwardEval(
  N: i32, C: i32, S: i32, x: usize, dy: usize, gamma: usize, eps: f64, runningMean: usize, runningVar: usize,
  dx: usize, dgamma: usize, dbeta: usize,
): void {
  for (let c = 0; c < C; c++) {
    const at = <usize>c << 2;
    const inv = 1 / Math.sqrt(<f64>load<f32>(runningVar + at) + eps);
    const sums = gradientSums(x, dy, N, C, S, c, <f64>load<f32>(runningMean + at), inv);
    channelAffine(dy, dx, N, C, S, c, 0, <f32>(<f64>load<f32>(gamma + at) * inv), 0);
    store<f32>(dgamma + at, <f32>f64x2.extract_lane(sums, 1));
    store<f32>(dbeta + at, <f32>f64x2.extract_lane(sums, 0));
  }
}

// ---- convolution of sparse inputs -----------------------------------------------------------------
// x given by its nonzeros, listed by sample as a NonzeroIndex's by-row listing (assembly/sparse.ts):
// sample n's entries are rowCols/rowValues[rowStart[n] .. rowStart[n + 1]), column c·H·W + h·W + w.
// Each nonzero x[c, h, w] = v is scattered to the taps whose windows cover it: (kh, kw) with
// h + PH − kh = oh·SH and w + PW − kw = ow·SW inside the output. The forward adds v·W[:, c, kh, kw] to
// output position (oh, ow); the weight gradient adds v·dy_n[:, oh, ow] to dW[:, c, kh, kw]. Both keep
// those rows channels-last, O4 floats with the output channels innermost (lanes from O on are 0), so a
// tap is O4/4 vector multiply-adds; the forward's sums y_n [P][O4] and the gradient's dy_n [P][O4] are
// transposed from and to NCHW once per sample. The work is the nonzeros' taps, not the positions'.
// The zeros are skipped, not multiplied: W (forward) and dy (weight gradient) must be finite.

/**
 * dst[0..rowBytes) += v · src[0..rowBytes) (rowBytes a multiple of 16): the step of every sparse tap,
 * written out for rows of up to 8 vectors so that no loop runs per tap.
 */
// @ts-ignore: decorator
@inline function axpyRow(dst: usize, src: usize, v: v128, rowBytes: usize): void {
  if (rowBytes <= 32) {
    v128.store(dst, madd(v, v128.load(src), v128.load(dst)));
    if (rowBytes == 32) v128.store(dst, madd(v, v128.load(src, 16), v128.load(dst, 16)), 16);
  } else if (rowBytes <= 128 && (rowBytes & 31) == 0) {
    v128.store(dst, madd(v, v128.load(src), v128.load(dst)));
    v128.store(dst, madd(v, v128.load(src, 16), v128.load(dst, 16)), 16);
    v128.store(dst, madd(v, v128.load(src, 32), v128.load(dst, 32)), 32);
    v128.store(dst, madd(v, v128.load(src, 48), v128.load(dst, 48)), 48);
    if (rowBytes >= 96) {
      v128.store(dst, madd(v, v128.load(src, 64), v128.load(dst, 64)), 64);
      v128.store(dst, madd(v, v128.load(src, 80), v128.load(dst, 80)), 80);
    }
    if (rowBytes == 128) {
      v128.store(dst, madd(v, v128.load(src, 96), v128.load(dst, 96)), 96);
      v128.store(dst, madd(v, v128.load(src, 112), v128.load(dst, 112)), 112);
    }
  } else {
    for (let offset: usize = 0; offset < rowBytes; offset += 16) {
      v128.store(dst + offset, madd(v, v128.load(src + offset), v128.load(dst + offset)));
    }
  }
}

/**
 * The weight gradients' inner product, with the sums in registers: for T kernel taps and V vectors of
 * 4 lanes each, dst[t][v] += Σ_i values[i] · src(i)[t][v] for i < count, where src(i) is base +
 * offsets[i] and tap t is t·step bytes on (step may wrap below zero). Each sum runs over the entries in
 * order and is added to dst once. T ≤ 6, V ≤ 2 (constants where it is inlined): up to 12 sums, each a
 * chain of dependent multiply-adds, so the more taps a call takes, the more of them run at once.
 */
// @ts-ignore: decorator
@inline function sumTaps(T: i32, V: i32, count: i32, offsets: usize, values: usize, base: usize, step: usize, dst: usize, dstStep: usize): void {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  let a4 = f32x4.splat(0), a5 = f32x4.splat(0), a6 = f32x4.splat(0), a7 = f32x4.splat(0);
  let a8 = f32x4.splat(0), a9 = f32x4.splat(0), a10 = f32x4.splat(0), a11 = f32x4.splat(0);
  for (let i = 0; i < count; i++) {
    const at = base + <usize>load<i32>(offsets + (<usize>i << 2));
    const v = v128.load32_splat(values + (<usize>i << 2));
    a0 = madd(v, v128.load(at), a0);
    if (V == 2) a1 = madd(v, v128.load(at, 16), a1);
    if (T > 1) {
      a2 = madd(v, v128.load(at + step), a2);
      if (V == 2) a3 = madd(v, v128.load(at + step, 16), a3);
    }
    if (T > 2) {
      a4 = madd(v, v128.load(at + 2 * step), a4);
      if (V == 2) a5 = madd(v, v128.load(at + 2 * step, 16), a5);
    }
    if (T > 3) {
      a6 = madd(v, v128.load(at + 3 * step), a6);
      if (V == 2) a7 = madd(v, v128.load(at + 3 * step, 16), a7);
    }
    if (T > 4) {
      a8 = madd(v, v128.load(at + 4 * step), a8);
      if (V == 2) a9 = madd(v, v128.load(at + 4 * step, 16), a9);
    }
    if (T > 5) {
      a10 = madd(v, v128.load(at + 5 * step), a10);
      if (V == 2) a11 = madd(v, v128.load(at + 5 * step, 16), a11);
    }
  }
  addTap(V, dst, a0, a1);
  if (T > 1) addTap(V, dst + dstStep, a2, a3);
  if (T > 2) addTap(V, dst + 2 * dstStep, a4, a5);
  if (T > 3) addTap(V, dst + 3 * dstStep, a6, a7);
  if (T > 4) addTap(V, dst + 4 * dstStep, a8, a9);
  if (T > 5) addTap(V, dst + 5 * dstStep, a10, a11);
}

/** dst[0..4) += low, and dst[4..8) += high when V is 2. */
// @ts-ignore: decorator
@inline function addTap(V: i32, dst: usize, low: v128, high: v128): void {
  v128.store(dst, f32x4.add(v128.load(dst), low));
  if (V == 2) v128.store(dst, f32x4.add(v128.load(dst, 16), high), 16);
}

/** sumTaps with T (≤ 6) known only at run time: one branch per count, each with T and V constant. */
// @ts-ignore: decorator
@inline function sumGroup(T: i32, V: i32, count: i32, offsets: usize, values: usize, base: usize, step: usize, dst: usize, dstStep: usize): void {
  if (T == 6) sumTaps(6, V, count, offsets, values, base, step, dst, dstStep);
  else if (T == 5) sumTaps(5, V, count, offsets, values, base, step, dst, dstStep);
  else if (T == 4) sumTaps(4, V, count, offsets, values, base, step, dst, dstStep);
  else if (T == 3) sumTaps(3, V, count, offsets, values, base, step, dst, dstStep);
  else if (T == 2) sumTaps(2, V, count, offsets, values, base, step, dst, dstStep);
  else sumTaps(1, V, count, offsets, values, base, step, dst, dstStep);
}

/**
 * sumTaps over all `taps` taps of a kernel row and all `rowBytes` of lanes: lanes in blocks of 8 (and
 * a last one of 4), taps in as few groups of at most 6 as there can be, of near-equal sizes.
 */
// @ts-ignore: decorator
@inline function sumKernelRow(taps: i32, rowBytes: usize, count: i32, offsets: usize, values: usize, base: usize, step: usize, dst: usize): void {
  // (no division in the common case of one group: this runs once per nonzero position and kernel row)
  const groups = taps <= 6 ? 1 : (taps + 5) / 6;
  for (let lane: usize = 0; lane < rowBytes; lane += 32) {
    const two = rowBytes - lane >= 32;
    let t0 = 0;
    for (let group = 0; group < groups; group++) {
      const T = groups == 1 ? taps : (taps - t0) / (groups - group);
      const from = base + lane + <usize>t0 * step;
      const to = dst + lane + <usize>t0 * rowBytes;
      if (two) sumGroup(T, 2, count, offsets, values, from, step, to, rowBytes);
      else sumGroup(T, 1, count, offsets, values, from, step, to, rowBytes);
      t0 += T;
    }
  }
}

/**
 * Lists the entries from e on that lie in plane `plane` (columns plane·size … plane·size + size − 1, as a
 * by-row listing sorted by column keeps them together): for entry i of the group, at (r, c) within its
 * plane of rows `width` wide, offsets[i] = (r·rowStep + c·colStep + base)·rowBytes and values[i] its
 * value. Returns the entry after the group.
 */
function listPlane(
  e: i32, e1: i32, rowCols: usize, rowValues: usize, plane: i32, size: i32, width: i32, rowStep: i32, colStep: i32, base: i32,
  rowBytes: usize, offsets: usize, values: usize,
): i32 {
  const first = e;
  const end = (plane + 1) * size;
  for (; e < e1; e++) {
    const column = load<i32>(rowCols + (<usize>e << 2));
    if (column >= end) break;
    const q = column - plane * size;
    const r = q / width;
    const at = <usize>(e - first) << 2;
    store<i32>(offsets + at, (r * rowStep + (q - r * width) * colStep + base) * <i32>rowBytes);
    store<f32>(values + at, load<f32>(rowValues + (<usize>e << 2)));
  }
  return e;
}

/** Bytes of scratch one thread needs for a sparse-input pass (PASS_FORWARD or PASS_WEIGHT_GRAD). */
export function conv2dSparseScratchBytes(g: usize, pass: i32): usize {
  const O4 = roundUp(field(g, OUT_CHANNELS), TILE_ROWS);
  if (pass == PASS_WEIGHT_GRAD) {
    // the padded dy_n (see conv2dWeightGradSparse), the sums, one channel's entries (offset and value)
    return <usize>(O4 * (columnLength(g) + borderedPlane(g)) + 2 * field(g, HEIGHT) * field(g, WIDTH)) << 2;
  }
  return <usize>(O4 * (columnLength(g) + positions(g))) << 2;
}

/** Positions of dy_n with a border of KH − 1 rows and KW − 1 columns of zeros on each side. */
// @ts-ignore: decorator
@inline function borderedPlane(g: usize): i32 {
  return (field(g, OUT_HEIGHT) + 2 * (field(g, KERNEL_H) - 1)) * (field(g, OUT_WIDTH) + 2 * (field(g, KERNEL_W) - 1));
}

/**
 * out[o·ld + p] = act(rows[p][o] + b[o]) for o < O, p < P: channels-last rows of O4 floats back to
 * channels first (b = 0: no bias, and then 0 is added, so −0 comes out +0 as from a sum from 0).
 */
function positionsToChannels(rows: usize, O4: i32, O: i32, P: i32, b: usize, activation: i32, out: usize, ld: i32): void {
  const rowBytes = <usize>O4 << 2;
  const vectorP = P & ~3;
  for (let o4 = 0; o4 < O; o4 += 4) {
    const lanes = min(4, O - o4);
    const at = b + (<usize>o4 << 2);
    const b0 = f32x4.splat(b != 0 ? load<f32>(at) : 0);
    const b1 = f32x4.splat(b != 0 && lanes > 1 ? load<f32>(at, 4) : 0);
    const b2 = f32x4.splat(b != 0 && lanes > 2 ? load<f32>(at, 8) : 0);
    const b3 = f32x4.splat(b != 0 && lanes > 3 ? load<f32>(at, 12) : 0);
    let src = rows + (<usize>o4 << 2);
    const dst = out + (<usize>(o4 * ld) << 2);
    const stride = <usize>ld << 2;
    let p = 0;
    for (; p < vectorP; p += 4) {
      const r0 = v128.load(src), r1 = v128.load(src + rowBytes);
      const r2 = v128.load(src + 2 * rowBytes), r3 = v128.load(src + 3 * rowBytes);
      const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
      const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7), t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
      const at = dst + (<usize>p << 2);
      v128.store(at, activate(activation, f32x4.add(v128.shuffle<f32>(t0, t1, 0, 1, 4, 5), b0)));
      if (lanes > 1) v128.store(at + stride, activate(activation, f32x4.add(v128.shuffle<f32>(t0, t1, 2, 3, 6, 7), b1)));
      if (lanes > 2) v128.store(at + 2 * stride, activate(activation, f32x4.add(v128.shuffle<f32>(t2, t3, 0, 1, 4, 5), b2)));
      if (lanes > 3) v128.store(at + 3 * stride, activate(activation, f32x4.add(v128.shuffle<f32>(t2, t3, 2, 3, 6, 7), b3)));
      src += 4 * rowBytes;
    }
    for (; p < P; p++) {
      for (let l = 0; l < lanes; l++) {
        const bias: f32 = b != 0 ? load<f32>(b + (<usize>(o4 + l) << 2)) : 0;
        const value = f32x4.add(f32x4.splat(load<f32>(src + (<usize>l << 2))), f32x4.splat(bias));
        store<f32>(dst + (<usize>(l * ld + p) << 2), f32x4.extract_lane(activate(activation, value), 0));
      }
      src += rowBytes;
    }
  }
}

/** rows[p][o] = src[o·ld + p] for o < O, p < P; lanes from O on are left as they are (0). */
function channelsToPositions(src: usize, O: i32, P: i32, ld: i32, O4: i32, rows: usize): void {
  const rowBytes = <usize>O4 << 2;
  const vectorP = P & ~3;
  const stride = <usize>ld << 2;
  for (let o4 = 0; o4 < O; o4 += 4) {
    const lanes = min(4, O - o4);
    const from = src + (<usize>(o4 * ld) << 2);
    let dst = rows + (<usize>o4 << 2);
    let p = 0;
    if (lanes == 4) {
      for (; p < vectorP; p += 4) {
        const at = from + (<usize>p << 2);
        const r0 = v128.load(at), r1 = v128.load(at + stride), r2 = v128.load(at + 2 * stride), r3 = v128.load(at + 3 * stride);
        const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
        const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7), t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
        v128.store(dst, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
        v128.store(dst + rowBytes, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7));
        v128.store(dst + 2 * rowBytes, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5));
        v128.store(dst + 3 * rowBytes, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7));
        dst += 4 * rowBytes;
      }
    }
    for (; p < P; p++) {
      for (let l = 0; l < lanes; l++) store<f32>(dst + (<usize>l << 2), load<f32>(from + (<usize>(l * ld + p) << 2)));
      dst += rowBytes;
    }
  }
}

/**
 * y[n] = act(conv2d(x_n, W) + b) for n in [n0, n1), x_n from its nonzeros (see above): w [O, K],
 * b [O], y [N, O, OH, OW]. The scratch holds W channels-last [K][O4], then the sums [P][O4].
 */
export function conv2dForwardSparse(
  g: usize, rowStart: usize, rowCols: usize, rowValues: usize, w: usize, b: usize, y: usize, activation: i32,
  n0: i32, n1: i32, scratch: usize,
): void {
  const H = field(g, HEIGHT), W = field(g, WIDTH);
  const O = field(g, OUT_CHANNELS), KH = field(g, KERNEL_H), KW = field(g, KERNEL_W);
  const SH = field(g, STRIDE_H), SW = field(g, STRIDE_W), PH = field(g, PAD_H), PW = field(g, PAD_W);
  const OH = field(g, OUT_HEIGHT), OW = field(g, OUT_WIDTH);
  const K = columnLength(g);
  const P = OH * OW;
  const O4 = roundUp(O, TILE_ROWS);
  const rowBytes = <usize>O4 << 2;
  const packed = scratch;
  const sums = scratch + <usize>K * rowBytes;
  memory.fill(packed, 0, <usize>K * rowBytes);
  for (let o = 0; o < O; o++) {
    for (let k = 0; k < K; k++) store<f32>(packed + <usize>k * rowBytes + (<usize>o << 2), load<f32>(w + (<usize>(o * K + k) << 2)));
  }
  const plane = H * W;
  for (let n = n0; n < n1; n++) {
    memory.fill(sums, 0, <usize>P * rowBytes);
    const e1 = load<i32>(rowStart + (<usize>(n + 1) << 2));
    for (let e = load<i32>(rowStart + (<usize>n << 2)); e < e1; e++) {
      const column = load<i32>(rowCols + (<usize>e << 2));
      const v = v128.load32_splat(rowValues + (<usize>e << 2));
      const c = column / plane;
      const h = (column - c * plane) / W;
      const hp = h + PH;
      const wp = column - c * plane - h * W + PW;
      // the first tap at or above max(0, hp − (OH − 1)·SH) with hp − kh a multiple of SH, then every SH
      let kh = max(0, hp - (OH - 1) * SH);
      kh += (hp - kh) % SH;
      const khEnd = min(KH - 1, hp);
      let kw0 = max(0, wp - (OW - 1) * SW);
      kw0 += (wp - kw0) % SW;
      const kwEnd = min(KW - 1, wp);
      // tap (kh, kw) meets output (oh, ow) = ((hp − kh)/SH, (wp − kw)/SW): one row or column back per step
      let rowAt = sums + <usize>((hp - kh) / SH * OW + (wp - kw0) / SW) * rowBytes;
      let tapAt = packed + <usize>((c * KH + kh) * KW + kw0) * rowBytes;
      const rowBack = <usize>OW * rowBytes;
      const tapStep = <usize>SW * rowBytes;
      const tapRowStep = <usize>(SH * KW) * rowBytes;
      for (; kh <= khEnd; kh += SH) {
        let dst = rowAt;
        let src = tapAt;
        for (let kw = kw0; kw <= kwEnd; kw += SW) {
          axpyRow(dst, src, v, rowBytes);
          dst -= rowBytes;
          src += tapStep;
        }
        rowAt -= rowBack;
        tapAt += tapRowStep;
      }
    }
    positionsToChannels(sums, O4, O, P, b, activation, y + (<usize>(n * O * P) << 2), P);
  }
}

/**
 * dw = Σ_{n0 ≤ n < n1} dy_n · cols_nᵀ and db = Σ_n Σ_p dy_n (both overwritten) with x_n from its nonzeros:
 * dy [N, O, OH, OW], dw [O, K], db [O]; db is summed as conv2dWeightGrad sums it. With stride 1, dy_n
 * goes channels-last into a bordered plane [OH + 2(KH − 1)][OW + 2(KW − 1)][O4] whose border is 0, so
 * every tap of every nonzero input reads a position there (the ones outside dy_n read zeros); a
 * sample's nonzeros come grouped by input channel, and each kernel row's taps of dW are summed over
 * the group in registers (sumKernelRow) and added once. Other strides take weightGradSparseStrided.
 */
export function conv2dWeightGradSparse(
  g: usize, rowStart: usize, rowCols: usize, rowValues: usize, dy: usize, dw: usize, db: usize, n0: i32, n1: i32, scratch: usize,
): void {
  if (field(g, STRIDE_H) != 1 || field(g, STRIDE_W) != 1) {
    weightGradSparseStrided(g, rowStart, rowCols, rowValues, dy, dw, db, n0, n1, scratch);
    return;
  }
  const H = field(g, HEIGHT), W = field(g, WIDTH);
  const O = field(g, OUT_CHANNELS), KH = field(g, KERNEL_H), KW = field(g, KERNEL_W);
  const PH = field(g, PAD_H), PW = field(g, PAD_W);
  const OH = field(g, OUT_HEIGHT), OW = field(g, OUT_WIDTH);
  const K = columnLength(g);
  const P = OH * OW;
  const OWb = OW + 2 * (KW - 1);
  const O4 = roundUp(O, TILE_ROWS);
  const rowBytes = <usize>O4 << 2;
  const bordered = scratch;
  const sums = bordered + <usize>borderedPlane(g) * rowBytes;
  const offsets = sums + <usize>K * rowBytes;
  const values = offsets + (<usize>(H * W) << 2);
  memory.fill(scratch, 0, <usize>(borderedPlane(g) + K) * rowBytes);
  const plane = H * W;
  const kernelRowBack = <usize>OWb * rowBytes;
  for (let n = n0; n < n1; n++) {
    const dyn = dy + (<usize>(n * O * P) << 2);
    for (let oh = 0; oh < OH; oh++) {
      channelsToPositions(dyn + (<usize>(oh * OW) << 2), O, OW, P, O4, bordered + <usize>((oh + KH - 1) * OWb + KW - 1) * rowBytes);
    }
    const e1 = load<i32>(rowStart + (<usize>(n + 1) << 2));
    let e = load<i32>(rowStart + (<usize>n << 2));
    while (e < e1) {
      const c = load<i32>(rowCols + (<usize>e << 2)) / plane;
      // tap (0, 0) of input (h, w) meets output (h + PH, w + PW): bordered position (h + PH + KH − 1, w + PW + KW − 1)
      const next = listPlane(e, e1, rowCols, rowValues, c, plane, W, OWb, 1, (PH + KH - 1) * OWb + PW + KW - 1, rowBytes, offsets, values);
      const count = next - e;
      e = next;
      // tap (kh, kw) is kh bordered rows and kw positions back from tap (0, 0)
      let base = bordered;
      let dst = sums + <usize>(c * KH * KW) * rowBytes;
      for (let kh = 0; kh < KH; kh++) {
        sumKernelRow(KW, rowBytes, count, offsets, values, base, 0 - rowBytes, dst);
        base -= kernelRowBack;
        dst += <usize>KW * rowBytes;
      }
    }
    const first = n == n0;
    addBiasGradient(dyn, O, P, db, first);
  }
  for (let o = 0; o < O; o++) {
    for (let k = 0; k < K; k++) store<f32>(dw + (<usize>(o * K + k) << 2), load<f32>(sums + <usize>k * rowBytes + (<usize>o << 2)));
  }
}

/** conv2dWeightGradSparse for strides above 1: each nonzero's taps added to the sums one by one. */
function weightGradSparseStrided(
  g: usize, rowStart: usize, rowCols: usize, rowValues: usize, dy: usize, dw: usize, db: usize, n0: i32, n1: i32, scratch: usize,
): void {
  const H = field(g, HEIGHT), W = field(g, WIDTH);
  const O = field(g, OUT_CHANNELS), KH = field(g, KERNEL_H), KW = field(g, KERNEL_W);
  const SH = field(g, STRIDE_H), SW = field(g, STRIDE_W), PH = field(g, PAD_H), PW = field(g, PAD_W);
  const OH = field(g, OUT_HEIGHT), OW = field(g, OUT_WIDTH);
  const K = columnLength(g);
  const P = OH * OW;
  const O4 = roundUp(O, TILE_ROWS);
  const rowBytes = <usize>O4 << 2;
  const gradient = scratch;
  const sums = scratch + <usize>P * rowBytes;
  memory.fill(scratch, 0, <usize>(P + K) * rowBytes);
  const plane = H * W;
  for (let n = n0; n < n1; n++) {
    const dyn = dy + (<usize>(n * O * P) << 2);
    channelsToPositions(dyn, O, P, P, O4, gradient);
    const e1 = load<i32>(rowStart + (<usize>(n + 1) << 2));
    for (let e = load<i32>(rowStart + (<usize>n << 2)); e < e1; e++) {
      const column = load<i32>(rowCols + (<usize>e << 2));
      const v = v128.load32_splat(rowValues + (<usize>e << 2));
      const c = column / plane;
      const h = (column - c * plane) / W;
      const hp = h + PH;
      const wp = column - c * plane - h * W + PW;
      let kh = max(0, hp - (OH - 1) * SH);
      kh += (hp - kh) % SH;
      const khEnd = min(KH - 1, hp);
      let kw0 = max(0, wp - (OW - 1) * SW);
      kw0 += (wp - kw0) % SW;
      const kwEnd = min(KW - 1, wp);
      let rowAt = gradient + <usize>((hp - kh) / SH * OW + (wp - kw0) / SW) * rowBytes;
      let tapAt = sums + <usize>((c * KH + kh) * KW + kw0) * rowBytes;
      const rowBack = <usize>OW * rowBytes;
      const tapStep = <usize>SW * rowBytes;
      const tapRowStep = <usize>(SH * KW) * rowBytes;
      for (; kh <= khEnd; kh += SH) {
        let src = rowAt;
        let dst = tapAt;
        for (let kw = kw0; kw <= kwEnd; kw += SW) {
          axpyRow(dst, src, v, rowBytes);
          src -= rowBytes;
          dst += tapStep;
        }
        rowAt -= rowBack;
        tapAt += tapRowStep;
      }
    }
    const first = n == n0;
    addBiasGradient(dyn, O, P, db, first);
  }
  for (let o = 0; o < O; o++) {
    for (let k = 0; k < K; k++) store<f32>(dw + (<usize>(o * K + k) << 2), load<f32>(sums + <usize>k * rowBytes + (<usize>o << 2)));
  }
}

// ---- convolution gradients from sparse output gradients --------------------------------------------
// dy given by its nonzeros (a ReLU's and a max pool's gradients are mostly zeros: a 2×2 pool passes
// one of four), listed by sample as for sparse inputs, column o·P + oh·OW + ow. Each nonzero
// dy[o, oh, ow] = v reaches the padded input window at (oh·SH, ow·SW): the input gradient adds
// v·W[o, :, kh, kw] to dx[:, oh·SH + kh, ow·SW + kw], the weight gradient adds v·x[:, oh·SH + kh,
// ow·SW + kw] to dW[o, :, kh, kw]. Both run channels-last over the input channels (C4 floats, lanes from
// C on 0): the padded input (gradient) as [Hp·Wp][C4], the weights as [O][KH][KW][C4].

/** Bytes of scratch one thread needs for the input gradient (PASS_INPUT_GRAD) or the weight gradient. */
export function conv2dSparseGradScratchBytes(g: usize, pass: i32): usize {
  const C4 = roundUp(field(g, CHANNELS), TILE_ROWS);
  const taps = field(g, OUT_CHANNELS) * field(g, KERNEL_H) * field(g, KERNEL_W);
  // the weight gradient lists one output channel's entries (a byte offset and a value each); the input
  // gradient a sample's entries by position (P + 1 starts, then an offset and a value per entry)
  const P = positions(g);
  const entries = pass == PASS_WEIGHT_GRAD ? 2 * P : P + 1 + 2 * field(g, OUT_CHANNELS) * P;
  return <usize>(C4 * (taps + paddedPlane(g)) + entries) << 2;
}

/**
 * dx[n] = conv2dᵀ(dy_n, W) for n in [n0, n1), dy_n from its nonzeros: w [O, C, KH, KW], dx [N, C, H, W]
 * (overwritten). The scratch holds W as [O·KH·KW][C4], then the padded gradient [Hp·Wp][C4], then a
 * sample's entries sorted by output position (a counting sort, keeping each position's channels in
 * order). All the nonzeros at one position reach the same window of the gradient, so each kernel row
 * of that window is summed over them in registers (sumKernelRow) and added once.
 */
export function conv2dInputGradSparse(
  g: usize, rowStart: usize, rowCols: usize, rowValues: usize, w: usize, dx: usize, n0: i32, n1: i32, scratch: usize,
): void {
  const C = field(g, CHANNELS), H = field(g, HEIGHT), W = field(g, WIDTH);
  const O = field(g, OUT_CHANNELS), KH = field(g, KERNEL_H), KW = field(g, KERNEL_W);
  const SH = field(g, STRIDE_H), SW = field(g, STRIDE_W), PH = field(g, PAD_H), PW = field(g, PAD_W);
  const OW = field(g, OUT_WIDTH);
  const P = positions(g);
  const Wp = W + 2 * PW;
  const C4 = roundUp(C, TILE_ROWS);
  const rowBytes = <usize>C4 << 2;
  const taps = KH * KW;
  const packed = scratch;
  const grad = scratch + <usize>(O * taps) * rowBytes;
  const gradBytes = <usize>paddedPlane(g) * rowBytes;
  const starts = grad + gradBytes;
  const offsets = starts + (<usize>(P + 1) << 2);
  const values = offsets + (<usize>(O * P) << 2);
  memory.fill(packed, 0, <usize>(O * taps) * rowBytes);
  for (let o = 0; o < O; o++) {
    for (let c = 0; c < C; c++) {
      for (let t = 0; t < taps; t++) {
        store<f32>(packed + <usize>(o * taps + t) * rowBytes + (<usize>c << 2), load<f32>(w + (<usize>((o * C + c) * taps + t) << 2)));
      }
    }
  }
  const windowRow = <usize>Wp * rowBytes;
  const tapRow = <usize>KW * rowBytes;
  for (let n = n0; n < n1; n++) {
    memory.fill(grad, 0, gradBytes);
    const e0 = load<i32>(rowStart + (<usize>n << 2));
    const e1 = load<i32>(rowStart + (<usize>(n + 1) << 2));
    // starts[p + 1] = entries at position p, then their running sums: position p's entries begin at starts[p]
    memory.fill(starts, 0, <usize>(P + 1) << 2);
    for (let e = e0; e < e1; e++) {
      const at = starts + (<usize>(load<i32>(rowCols + (<usize>e << 2)) % P + 1) << 2);
      store<i32>(at, load<i32>(at) + 1);
    }
    for (let p = 0; p < P; p++) {
      const at = starts + (<usize>(p + 1) << 2);
      store<i32>(at, load<i32>(at) + load<i32>(at - 4));
    }
    // each entry into its position's next free slot, as the byte offset of its channel's W rows and its value
    for (let e = e0; e < e1; e++) {
      const column = load<i32>(rowCols + (<usize>e << 2));
      const o = column / P;
      const at = starts + (<usize>(column - o * P) << 2);
      const slot = load<i32>(at);
      store<i32>(at, slot + 1);
      store<i32>(offsets + (<usize>slot << 2), o * taps * <i32>rowBytes);
      store<f32>(values + (<usize>slot << 2), load<f32>(rowValues + (<usize>e << 2)));
    }
    // now starts[p] is where position p's entries end (and p + 1's begin)
    let begin = 0;
    for (let p = 0; p < P; p++) {
      const finish = load<i32>(starts + (<usize>p << 2));
      const count = finish - begin;
      if (count > 0) {
        const oh = p / OW;
        let dst = grad + <usize>(oh * SH * Wp + (p - oh * OW) * SW) * rowBytes;
        let base = packed;
        const from = offsets + (<usize>begin << 2);
        const scale = values + (<usize>begin << 2);
        for (let kh = 0; kh < KH; kh++) {
          sumKernelRow(KW, rowBytes, count, from, scale, base, rowBytes, dst);
          base += tapRow;
          dst += windowRow;
        }
      }
      begin = finish;
    }
    const dxn = dx + (<usize>(n * C * H * W) << 2);
    for (let h = 0; h < H; h++) {
      positionsToChannels(grad + <usize>((h + PH) * Wp + PW) * rowBytes, C4, C, W, 0, 0, dxn + (<usize>(h * W) << 2), H * W);
    }
  }
}

/**
 * dw = Σ_{n0 ≤ n < n1} dy_n · cols_nᵀ and db = Σ_n Σ_p dy_n (both overwritten), dy_n from its nonzeros:
 * x [N, C, H, W], dy [N, O, OH, OW] (for db, summed as conv2dWeightGrad sums it), dw [O, C, KH, KW].
 * The scratch holds the padded x_n as [Hp·Wp][C4], then the sums [O·KH·KW][C4], then one output
 * channel's entries (byte offsets of their windows, values). A sample's entries come grouped by output
 * channel o (the listing is ascending); each kernel row's taps of dW[o] are summed over the group in
 * registers (sumKernelRow) and added once.
 */
export function conv2dWeightGradSparseDy(
  g: usize, x: usize, rowStart: usize, rowCols: usize, rowValues: usize, dy: usize, dw: usize, db: usize,
  n0: i32, n1: i32, scratch: usize,
): void {
  const C = field(g, CHANNELS), H = field(g, HEIGHT), W = field(g, WIDTH);
  const O = field(g, OUT_CHANNELS), KH = field(g, KERNEL_H), KW = field(g, KERNEL_W);
  const SH = field(g, STRIDE_H), SW = field(g, STRIDE_W), PH = field(g, PAD_H), PW = field(g, PAD_W);
  const OW = field(g, OUT_WIDTH);
  const P = positions(g);
  const Wp = W + 2 * PW;
  const C4 = roundUp(C, TILE_ROWS);
  const rowBytes = <usize>C4 << 2;
  const taps = KH * KW;
  const input = scratch;
  const sums = scratch + <usize>paddedPlane(g) * rowBytes;
  const offsets = sums + <usize>(O * taps) * rowBytes;
  const values = offsets + (<usize>P << 2);
  // the padding (and the lanes from C on) stay 0: only interiors are written below
  memory.fill(scratch, 0, <usize>(paddedPlane(g) + O * taps) * rowBytes);
  const windowRow = <usize>Wp * rowBytes;
  for (let n = n0; n < n1; n++) {
    const xn = x + (<usize>(n * C * H * W) << 2);
    for (let h = 0; h < H; h++) {
      channelsToPositions(xn + (<usize>(h * W) << 2), C, W, H * W, C4, input + <usize>((h + PH) * Wp + PW) * rowBytes);
    }
    const e1 = load<i32>(rowStart + (<usize>(n + 1) << 2));
    let e = load<i32>(rowStart + (<usize>n << 2));
    while (e < e1) {
      const o = load<i32>(rowCols + (<usize>e << 2)) / P;
      // output (oh, ow) reads the padded input window at (oh·SH, ow·SW)
      const next = listPlane(e, e1, rowCols, rowValues, o, P, OW, SH * Wp, SW, 0, rowBytes, offsets, values);
      const count = next - e;
      e = next;
      let dst = sums + <usize>(o * taps) * rowBytes;
      let base = input;
      for (let kh = 0; kh < KH; kh++) {
        sumKernelRow(KW, rowBytes, count, offsets, values, base, rowBytes, dst);
        base += windowRow;
        dst += <usize>KW * rowBytes;
      }
    }
    const first = n == n0;
    const dyn = dy + (<usize>(n * O * P) << 2);
    addBiasGradient(dyn, O, P, db, first);
  }
  for (let o = 0; o < O; o++) {
    for (let c = 0; c < C; c++) {
      for (let t = 0; t < taps; t++) {
        store<f32>(dw + (<usize>((o * C + c) * taps + t) << 2), load<f32>(sums + <usize>(o * taps + t) * rowBytes + (<usize>c << 2)));
      }
    }
  }
}
