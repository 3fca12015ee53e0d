/**
 * Segmentation of a row of handwritten digits (a zip code, a number) into one MNIST-style input per
 * digit (of the model's input shape, 28×28 unless told): connected components of the ink, joining of pieces of one broken stroke, and splitting of
 * components that hold several touching digits. Pure TypeScript (no Node modules): the browser app
 * segments with the same code as `digitlab read`.
 */
import { preprocessDigit } from '../data/preprocess.js';

export interface SegmentOptions {
  /** How many digits the row holds, when known (a 5-digit zip code): segments are split or joined to match. */
  digits?: number;
  /** 'auto' (default) decides from the border; 'dark-on-light' is ink on paper; 'light-on-dark' the reverse. */
  polarity?: 'auto' | 'dark-on-light' | 'light-on-dark';
  /** Fraction of the ink range above which a pixel is ink for the components (default 0.2). */
  threshold?: number;
  /** The model's confidence in candidate digits, to choose where touching digits are cut. */
  scorer?: SegmentScorer;
  /** [height, width] of the inputs to prepare: the model's input shape (default [28, 28]). */
  inputShape?: readonly [number, number];
}

export interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

export interface DigitSegment {
  /** Where the digit's ink lies in the source image. */
  box: Box;
  /** The input for the network (values in [0, 1], the options' input shape), prepared as MNIST was. */
  pixels: Float32Array;
  /** How many connected components were joined into this digit (more than 1: a broken stroke). */
  components: number;
  /** Whether the digit was cut out of a component holding touching digits. */
  split: boolean;
}

/** A set of ink pixels with its bounding box and ink mass. */
interface Piece {
  pixels: number[];
  left: number;
  right: number;
  top: number;
  bottom: number;
  mass: number;
  components: number;
  split: boolean;
}

const width = (piece: Piece) => piece.right - piece.left + 1;
const height = (piece: Piece) => piece.bottom - piece.top + 1;

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Ink in [0, 1] (background 0), with the polarity and background level found the way preprocessDigit finds them. */
function inkMap(gray: Uint8Array, w: number, h: number, polarity: SegmentOptions['polarity']): Float32Array | null {
  const border: number[] = [];
  for (let x = 0; x < w; x++) border.push(gray[x], gray[(h - 1) * w + x]);
  for (let y = 1; y < h - 1; y++) border.push(gray[y * w], gray[y * w + w - 1]);
  const backgroundRaw = w > 2 && h > 2 ? median(border) : median(Array.from(gray));
  const invert = polarity === 'dark-on-light' || (polarity !== 'light-on-dark' && backgroundRaw > 127);
  const background = invert ? 255 - backgroundRaw : backgroundRaw;
  const ink = new Float32Array(gray.length);
  let max = 0;
  for (let i = 0; i < gray.length; i++) {
    ink[i] = invert ? 255 - gray[i] : gray[i];
    if (ink[i] > max) max = ink[i];
  }
  const range = max - background;
  if (range <= 8) return null;
  for (let i = 0; i < ink.length; i++) ink[i] = Math.min(1, Math.max(0, (ink[i] - background) / range));
  return ink;
}

/**
 * 8-connected components of the pixels above `threshold`. The faint antialiased rim below it is then
 * given to the component it touches (two rounds of growth), so each digit keeps its soft edges, as
 * the MNIST images it is compared with have them.
 */
function components(ink: Float32Array, w: number, h: number, threshold: number): Piece[] {
  const label = new Int32Array(ink.length).fill(-1);
  const pieces: Piece[] = [];
  const stack: number[] = [];
  for (let start = 0; start < ink.length; start++) {
    if (ink[start] <= threshold || label[start] >= 0) continue;
    const id = pieces.length;
    const piece: Piece = { pixels: [], left: w, right: -1, top: h, bottom: -1, mass: 0, components: 1, split: false };
    pieces.push(piece);
    label[start] = id;
    stack.push(start);
    while (stack.length > 0) {
      const p = stack.pop() as number;
      piece.pixels.push(p);
      const x = p % w;
      const y = (p - x) / w;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= h) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if (nx < 0 || nx >= w) continue;
          const q = ny * w + nx;
          if (label[q] < 0 && ink[q] > threshold) {
            label[q] = id;
            stack.push(q);
          }
        }
      }
    }
  }
  for (let round = 0; round < 2; round++) {
    const grown: [number, number][] = [];
    for (let p = 0; p < ink.length; p++) {
      if (label[p] >= 0 || ink[p] <= 0.02) continue;
      const x = p % w;
      const y = (p - x) / w;
      let owner = -1;
      for (let dy = -1; dy <= 1 && owner < 0; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          const ny = y + dy;
          if (nx >= 0 && nx < w && ny >= 0 && ny < h && label[ny * w + nx] >= 0) {
            owner = label[ny * w + nx];
            break;
          }
        }
      }
      if (owner >= 0) grown.push([p, owner]);
    }
    for (const [p, owner] of grown) {
      label[p] = owner;
      pieces[owner].pixels.push(p);
    }
  }
  for (const piece of pieces) measure(piece, ink, w);
  return pieces;
}

function measure(piece: Piece, ink: Float32Array, w: number): void {
  piece.left = Infinity;
  piece.right = -1;
  piece.top = Infinity;
  piece.bottom = -1;
  piece.mass = 0;
  for (const p of piece.pixels) {
    const x = p % w;
    const y = (p - x) / w;
    if (x < piece.left) piece.left = x;
    if (x > piece.right) piece.right = x;
    if (y < piece.top) piece.top = y;
    if (y > piece.bottom) piece.bottom = y;
    piece.mass += ink[p];
  }
}

function merge(a: Piece, b: Piece): Piece {
  return {
    pixels: a.pixels.concat(b.pixels),
    left: Math.min(a.left, b.left),
    right: Math.max(a.right, b.right),
    top: Math.min(a.top, b.top),
    bottom: Math.max(a.bottom, b.bottom),
    mass: a.mass + b.mass,
    components: a.components + b.components,
    split: a.split || b.split,
  };
}

/** Columns two pieces share, as a fraction of the narrower one's width. */
function horizontalOverlap(a: Piece, b: Piece): number {
  const shared = Math.min(a.right, b.right) - Math.max(a.left, b.left) + 1;
  return shared / Math.min(width(a), width(b));
}

/** The horizontal gap between two pieces in pixels (negative when they overlap). */
function gap(a: Piece, b: Piece): number {
  return Math.max(a.left, b.left) - Math.min(a.right, b.right) - 1;
}

/**
 * Joins the pieces of broken strokes: pieces stacked over each other (sharing most of their columns,
 * as the two halves of a broken 4 do), and fragments too short or too light to be a digit on their
 * own (the detached bar of a 5), which go to their nearest neighbour when it is close enough.
 */
function joinBroken(pieces: Piece[], rowHeight: number): Piece[] {
  let joined = true;
  while (joined && pieces.length > 1) {
    joined = false;
    pieces.sort((a, b) => a.left - b.left);
    const typicalMass = median(pieces.map((p) => p.mass));
    for (let i = 0; i < pieces.length && !joined; i++) {
      for (let j = i + 1; j < pieces.length && !joined; j++) {
        if (horizontalOverlap(pieces[i], pieces[j]) > 0.5) {
          pieces[i] = merge(pieces[i], pieces[j]);
          pieces.splice(j, 1);
          joined = true;
        }
      }
    }
    if (joined) continue;
    for (let i = 0; i < pieces.length && !joined; i++) {
      const piece = pieces[i];
      const fragment = height(piece) < 0.55 * rowHeight || piece.mass < 0.2 * typicalMass;
      if (!fragment) continue;
      let nearest = -1;
      for (let j = 0; j < pieces.length; j++) {
        if (j !== i && (nearest < 0 || gap(piece, pieces[j]) < gap(piece, pieces[nearest]))) nearest = j;
      }
      if (nearest >= 0 && gap(piece, pieces[nearest]) <= 0.3 * rowHeight) {
        const [first, second] = i < nearest ? [i, nearest] : [nearest, i];
        pieces[first] = merge(pieces[first], pieces[second]);
        pieces.splice(second, 1);
        joined = true;
      }
    }
  }
  return pieces;
}

/** A piece cut in two, with how much ink the cut went through. */
interface CutParts {
  parts: [Piece, Piece];
  /** Ink on the cut (per pixel of its width): a joint where two digits touch is thin. */
  crossed: number;
}

/**
 * Cuts a piece in two along `path` (the cut's column in each row, from the piece's top). The pixels
 * on the path (the joint where touching digits meet, `band` pixels wide) are set aside and the rest
 * regrouped by connectivity of their strokes (pixels above `threshold`; the faint rims of two strokes
 * often overlap where the strokes themselves do not), each group going to the side holding most of
 * its ink: a digit that reaches past the cut (the bar of a 7 over its neighbour) stays whole and its
 * neighbour's strokes stay out of it. Rim pixels follow the stroke they touch. When the path does not
 * separate anything, the pixels simply go to their side of it.
 */
function cutAt(piece: Piece, path: Int32Array, band: number, ink: Float32Array, w: number, threshold: number): CutParts {
  const cutOf = (p: number) => path[Math.floor(p / w) - piece.top];
  const inBand = (p: number) => p % w >= cutOf(p) && p % w < cutOf(p) + band;
  // group of each stroke pixel outside the band (-1: not grouped yet)
  const group = new Map<number, number>();
  let crossed = 0;
  for (const p of piece.pixels) {
    if (inBand(p)) crossed += ink[p];
    else if (ink[p] > threshold) group.set(p, -1);
  }
  const masses: [number, number][] = [];
  const stack: number[] = [];
  for (const start of group.keys()) {
    if ((group.get(start) as number) >= 0) continue;
    const id = masses.length;
    const mass: [number, number] = [0, 0];
    masses.push(mass);
    group.set(start, id);
    stack.push(start);
    while (stack.length > 0) {
      const p = stack.pop() as number;
      mass[p % w < cutOf(p) ? 0 : 1] += ink[p];
      const x = p % w;
      for (const dy of [-w, 0, w]) {
        for (const dx of [-1, 0, 1]) {
          if ((dx < 0 && x === 0) || (dx > 0 && x === w - 1)) continue;
          const q = p + dy + dx;
          if (group.get(q) === -1) {
            group.set(q, id);
            stack.push(q);
          }
        }
      }
    }
  }
  const goesLeft = masses.map(([left, right]) => left >= right);
  const left: number[] = [];
  const right: number[] = [];
  const separated = goesLeft.some((g) => g) && goesLeft.some((g) => !g);
  for (const p of piece.pixels) {
    let side: boolean;
    const id = group.get(p);
    if (!separated) side = p % w < cutOf(p);
    else if (id !== undefined) side = goesLeft[id];
    else if (inBand(p)) side = p % w < cutOf(p) + band / 2;
    else {
      // a rim pixel: the side of a stroke pixel next to it, else its side of the cut
      side = p % w < cutOf(p);
      const x = p % w;
      search: for (const dy of [0, -w, w]) {
        for (const dx of [-1, 1, 0]) {
          if ((dx < 0 && x === 0) || (dx > 0 && x === w - 1)) continue;
          const owner = group.get(p + dy + dx);
          if (owner !== undefined) {
            side = goesLeft[owner];
            break search;
          }
        }
      }
    }
    (side ? left : right).push(p);
  }
  const parts = [left, right].map((pixels) => {
    const part: Piece = { pixels, left: 0, right: 0, top: 0, bottom: 0, mass: 0, components: piece.components, split: true };
    measure(part, ink, w);
    return part;
  }) as [Piece, Piece];
  return { parts, crossed: crossed / band };
}

/**
 * Digits that barely touch are often joined only by faint pixels (the antialiased edges of two
 * strokes): above a higher threshold the piece falls apart into two large cores. Every pixel then goes
 * to the core it reaches first through the piece's own pixels (breadth first), so each digit keeps its
 * strokes and soft edges and none of its neighbour's. Null when the threshold `level` does not leave
 * two cores of a real digit's mass.
 */
function cutAtCores(piece: Piece, level: number, ink: Float32Array, w: number): CutParts | null {
  const owner = new Map<number, number>();
  for (const p of piece.pixels) owner.set(p, ink[p] > level ? -1 : -2);
  const cores: { pixels: number[]; mass: number; left: number }[] = [];
  const stack: number[] = [];
  for (const start of piece.pixels) {
    if (owner.get(start) !== -1) continue;
    const core = { pixels: [] as number[], mass: 0, left: Infinity };
    owner.set(start, cores.length);
    stack.push(start);
    while (stack.length > 0) {
      const p = stack.pop() as number;
      core.pixels.push(p);
      core.mass += ink[p];
      core.left = Math.min(core.left, p % w);
      const x = p % w;
      for (const dy of [-w, 0, w]) {
        for (const dx of [-1, 0, 1]) {
          if ((dx < 0 && x === 0) || (dx > 0 && x === w - 1)) continue;
          const q = p + dy + dx;
          if (owner.get(q) === -1) {
            owner.set(q, cores.length);
            stack.push(q);
          }
        }
      }
    }
    cores.push(core);
  }
  // the two heaviest cores are the digits; lighter ones (specks of a faint stroke) are given away below
  const ranked = cores.map((core, id) => ({ ...core, id })).sort((a, b) => b.mass - a.mass);
  if (ranked.length < 2 || ranked[1].mass < 0.15 * piece.mass) return null;
  const [first, second] = ranked[0].left <= ranked[1].left ? [ranked[0], ranked[1]] : [ranked[1], ranked[0]];
  const side = new Map<number, boolean>();
  let frontier: number[] = [];
  for (const p of first.pixels) side.set(p, true);
  for (const p of second.pixels) side.set(p, false);
  frontier = first.pixels.concat(second.pixels);
  while (frontier.length > 0) {
    const next: number[] = [];
    for (const p of frontier) {
      const x = p % w;
      for (const dy of [-w, 0, w]) {
        for (const dx of [-1, 0, 1]) {
          if ((dx < 0 && x === 0) || (dx > 0 && x === w - 1)) continue;
          const q = p + dy + dx;
          if (owner.has(q) && !side.has(q)) {
            side.set(q, side.get(p) as boolean);
            next.push(q);
          }
        }
      }
    }
    frontier = next;
  }
  const left: number[] = [];
  const right: number[] = [];
  for (const p of piece.pixels) (side.get(p) ?? p % w < second.left ? left : right).push(p);
  const parts = [left, right].map((pixels) => {
    const part: Piece = { pixels, left: 0, right: 0, top: 0, bottom: 0, mass: 0, components: piece.components, split: true };
    measure(part, ink, w);
    return part;
  }) as [Piece, Piece];
  return { parts, crossed: 0 };
}

function straight(piece: Piece, column: number): Int32Array {
  return new Int32Array(height(piece)).fill(column);
}

/**
 * For each column in `ends` (ascending), the path through the piece from one edge to the other that
 * crosses the least ink and ends in that column at the bottom (`fromBottom` false) or at the top
 * (true), moving at most one column per row (dynamic programming, with a small cost per sideways step
 * so that a path goes straight where nothing is in the way). Digits that touch along a slant come
 * apart along such a path where no straight cut separates them; paths grown from both edges find
 * joints that lean either way.
 */
function leastInkPaths(piece: Piece, ends: number[], ink: Float32Array, w: number, fromBottom: boolean): Int32Array[] {
  const rows = height(piece);
  const first = ends[0];
  const columns = ends[ends.length - 1] - first + 1;
  // row r of the dynamic programme is image row r from the top, or from the bottom
  const own = new Float32Array(rows * columns);
  for (const p of piece.pixels) {
    const x = (p % w) - first;
    const y = Math.floor(p / w) - piece.top;
    if (x >= 0 && x < columns) own[(fromBottom ? rows - 1 - y : y) * columns + x] = ink[p];
  }
  const cost = new Float32Array(rows * columns);
  const from = new Int8Array(rows * columns);
  for (let x = 0; x < columns; x++) cost[x] = own[x];
  for (let r = 1; r < rows; r++) {
    for (let x = 0; x < columns; x++) {
      let best = cost[(r - 1) * columns + x];
      let step = 0;
      for (const dx of [-1, 1]) {
        const px = x + dx;
        if (px < 0 || px >= columns) continue;
        const candidate = cost[(r - 1) * columns + px] + 0.05;
        if (candidate < best) {
          best = candidate;
          step = dx;
        }
      }
      cost[r * columns + x] = best + own[r * columns + x];
      from[r * columns + x] = step;
    }
  }
  return ends.map((end) => {
    const path = new Int32Array(rows);
    let x = end - first;
    for (let r = rows - 1; r >= 0; r--) {
      path[fromBottom ? rows - 1 - r : r] = first + x;
      x += from[r * columns + x];
    }
    return path;
  });
}

/** Confidence of the model in each input: lets recognition choose between candidate cuts. */
export type SegmentScorer = (inputs: Float32Array[]) => number[];

/** The scorer applied to pieces of the picture (each prepared as an input first). */
type PieceScorer = (pieces: Piece[]) => number[];

interface Cut {
  parts: [Piece, Piece];
  /** The product of the two parts' confidences (0 without a scorer). */
  confidence: number;
  /**
   * How likely the cut is right, as a log-probability: the log confidences of the parts, less a
   * charge for the ink the cut goes through (digits that touch meet in a thin joint, a cut through
   * one digit crosses a whole stroke). -Infinity without a scorer.
   */
  score: number;
}

/**
 * Log-probability charged per unit of ink a cut goes through. This and the thresholds below were chosen
 * on synthetic codes of make_zipcodes seeds 1–3, not on the seeds the README reports.
 */
const CROSSED_INK_COST = 0.3;
/** Log-probability charged per unit of width beyond the widest usual digit, for a piece read as one digit. */
const WIDE_COST = 4;
/** Width over height of all but the widest MNIST digits (95% of the test digits are narrower). */
const WIDEST_DIGIT = 1.1;

/** Thresholds at which barely touching digits are looked for as separate cores. */
const CORE_LEVELS = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8];

const logOf = (confidence: number) => Math.log(Math.max(confidence, 1e-9));

/**
 * The best place to cut the first of `parts` digits off a piece: with a scorer, the cut with the best
 * score among straight cuts and least-ink paths around the even division and the split into cores;
 * without one, the column of least ink there (touching digits usually meet in a thin joint).
 */
function bestCut(piece: Piece, parts: number, rowHeight: number, ink: Float32Array, w: number, threshold: number, scorer: PieceScorer | undefined): Cut | null {
  const pieceWidth = width(piece);
  if (pieceWidth < 4) return null;
  const ideal = pieceWidth / parts;
  const low = Math.max(2, Math.round(0.35 * ideal));
  const high = Math.min(pieceWidth - 2, Math.round(parts === 2 ? pieceWidth - 0.35 * ideal : 1.5 * ideal));
  if (low > high) return null;
  const candidates: number[] = [];
  for (let c = low; c <= high; c++) candidates.push(piece.left + c);
  if (!scorer) {
    const columns = new Float64Array(pieceWidth);
    for (const p of piece.pixels) columns[(p % w) - piece.left] += ink[p];
    let best = candidates[0];
    for (const c of candidates) {
      // a small pull towards the even division keeps a faint gap inside one digit from winning far off
      const score = (x: number) => columns[x - piece.left] + 0.02 * Math.abs(x - piece.left - ideal);
      if (score(c) < score(best)) best = c;
    }
    return { parts: cutAt(piece, straight(piece, best), 1, ink, w, threshold).parts, confidence: 0, score: -Infinity };
  }
  // straight joints one to three pixels wide, and the least-ink paths from the top and from the bottom
  // ending at each candidate column; the same parts found twice are read once
  const down = leastInkPaths(piece, candidates, ink, w, false);
  const up = leastInkPaths(piece, candidates, ink, w, true);
  const seen = new Map<string, number>();
  const splits: CutParts[] = [];
  const add = (split: CutParts) => {
    const [left, right] = split.parts;
    if (left.pixels.length === 0 || right.pixels.length === 0) return;
    const key = `${left.pixels.length},${left.mass.toFixed(3)},${left.left},${left.right},${left.top},${left.bottom}`;
    const found = seen.get(key);
    // the same parts reached by a cut through less ink: the thinner joint is what they were cut at
    if (found !== undefined) splits[found].crossed = Math.min(splits[found].crossed, split.crossed);
    else {
      seen.set(key, splits.length);
      splits.push(split);
    }
  };
  candidates.forEach((c, i) => {
    for (const band of [1, 2, 3]) add(cutAt(piece, straight(piece, c), band, ink, w, threshold));
    add(cutAt(piece, down[i], 1, ink, w, threshold));
    add(cutAt(piece, up[i], 1, ink, w, threshold));
  });
  for (const level of CORE_LEVELS) {
    const split = cutAtCores(piece, level, ink, w);
    if (split) add(split);
  }
  if (splits.length === 0) return null;
  const confidence = scorer(splits.flatMap(({ parts }) => parts));
  let best: Cut | null = null;
  splits.forEach(({ parts: split, crossed }, i) => {
    // with more than two digits in the piece, the right side is not one digit yet: judge the left only
    // a part much shorter than the row's digits is a stroke cut off, not a digit
    const plausible = split.every((part) => height(part) >= 0.65 * rowHeight);
    const left = confidence[2 * i];
    const right = parts === 2 ? confidence[2 * i + 1] : 1;
    const score = plausible ? logOf(left) + logOf(right) - CROSSED_INK_COST * crossed : -Infinity;
    if (best === null || score > best.score) best = { parts: split, confidence: plausible ? left * right : 0, score };
  });
  return best;
}

/** Cuts a piece into `parts` digits, left to right. */
function splitPiece(piece: Piece, parts: number, rowHeight: number, ink: Float32Array, w: number, threshold: number, scorer: PieceScorer | undefined): Piece[] {
  if (parts < 2) return [piece];
  const cut = bestCut(piece, parts, rowHeight, ink, w, threshold, scorer);
  if (!cut) return [piece];
  return [cut.parts[0], ...splitPiece(cut.parts[1], parts - 1, rowHeight, ink, w, threshold, scorer)];
}

/** How many digits a piece of this width must hold, in a row whose digits are `rowHeight` tall. */
function digitsIn(piece: Piece, rowHeight: number): number {
  const ratio = width(piece) / rowHeight;
  if (ratio <= 1.2) return 1;
  return Math.max(2, Math.floor(ratio / 0.9));
}

/**
 * The piece read as one digit and as two: the best cut and the confidence in the whole, in both the
 * model's probabilities and as log-probabilities (null when it cannot be cut).
 */
function splitGain(piece: Piece, rowHeight: number, ink: Float32Array, w: number, threshold: number, scorer: PieceScorer): { gain: number; logGain: number; cut: Cut } | null {
  if (width(piece) < 0.5 * rowHeight) return null;
  const cut = bestCut(piece, 2, rowHeight, ink, w, threshold, scorer);
  if (!cut || cut.confidence === 0) return null;
  const whole = scorer([piece])[0];
  // a piece far wider than the digits are tall holds two of them, however confidently the model reads
  // it as one (it was never shown two digits and calls them one, sure of itself)
  const wide = Math.max(0, width(piece) / rowHeight - WIDEST_DIGIT);
  return { gain: cut.confidence - whole, logGain: cut.score - (logOf(whole) - WIDE_COST * wide), cut };
}

/**
 * Narrow touching pairs (a 1 against its neighbour) are no wider than one broad digit, so width alone
 * cannot tell them. The model decides: cut when it reads two digits far more confidently than one.
 */
function splitByRecognition(piece: Piece, rowHeight: number, ink: Float32Array, w: number, threshold: number, scorer: PieceScorer): Piece[] {
  const found = splitGain(piece, rowHeight, ink, w, threshold, scorer);
  return found && found.gain > 0.3 && found.cut.confidence > 0.5 ? found.cut.parts : [piece];
}
/**
 * Segments a grayscale picture of a row of digits, left to right. Returns an empty list for a blank
 * picture.
 */
export function segmentDigits(gray: Uint8Array, w: number, h: number, options: SegmentOptions = {}): DigitSegment[] {
  if (gray.length !== w * h || w === 0 || h === 0) throw new RangeError(`segmentDigits: ${gray.length} pixels for a ${w}x${h} image`);
  if (options.digits !== undefined && !(Number.isInteger(options.digits) && options.digits > 0)) {
    throw new RangeError(`segmentDigits: digits must be a positive integer, got ${options.digits}`);
  }
  const full = inkMap(gray, w, h, options.polarity);
  if (!full) return [];
  const threshold = options.threshold ?? 0.2;
  let pieces = components(full, w, h, threshold);
  if (pieces.length === 0) return [];
  // A photo's digits may be hundreds of pixels tall: cutting and scoring work on a copy shrunk until
  // they are about WORKING_HEIGHT pixels tall, and the boxes are scaled back. A cut's charges (the ink
  // it crosses, its sideways steps) are counted in pixels, and every candidate is prepared and read by
  // the model, so both the choice and its cost depend on the scale.
  const scale = Math.max(1, Math.floor(digitHeight(pieces, heaviestOf(pieces)) / WORKING_HEIGHT));
  const coarse = scale > 1 ? shrink(full, w, h, scale) : { ink: full, width: w, height: h };
  if (scale > 1) pieces = components(coarse.ink, coarse.width, coarse.height, threshold);
  const shape = options.inputShape ?? [28, 28];
  const found = segmentInk(pieces, coarse.ink, coarse.width, threshold, shape, options);
  if (scale === 1) return found.map((piece) => toSegment(piece, full, w, shape));
  // The digits themselves are prepared from the picture as it is: a fine pen's strokes, averaged into
  // the shrunk copy, are faint lines there, and only at full size can they be grown to MNIST's width.
  return found.map((piece) => toSegment(enlarge(piece, scale, w, h), full, w, shape));
}

/**
 * The piece of a copy shrunk by `scale` (its pixels are blocks of scale × scale) as the pixels of the
 * full-size picture (w × h) that its blocks cover.
 */
function enlarge(piece: Piece, scale: number, w: number, h: number): Piece {
  const coarseWidth = Math.ceil(w / scale);
  const pixels: number[] = [];
  for (const p of piece.pixels) {
    const cx = p % coarseWidth;
    const cy = (p - cx) / coarseWidth;
    for (let y = cy * scale; y < Math.min(h, (cy + 1) * scale); y++) {
      for (let x = cx * scale; x < Math.min(w, (cx + 1) * scale); x++) pixels.push(y * w + x);
    }
  }
  return {
    ...piece,
    pixels,
    left: piece.left * scale,
    top: piece.top * scale,
    right: Math.min(w, (piece.right + 1) * scale) - 1,
    bottom: Math.min(h, (piece.bottom + 1) * scale) - 1,
  };
}

const heaviestOf = (pieces: Piece[]) => Math.max(...pieces.map((p) => p.mass));

/** The height of the row's digits: the median over the pieces of at least a quarter of the heaviest's mass. */
function digitHeight(pieces: Piece[], heaviest: number): number {
  return median(pieces.filter((p) => p.mass >= 0.25 * heaviest).map(height));
}

/** Rows are segmented with their digits at most about this many pixels tall: the 20 pixels of MNIST's ink, the scale its cut charges were chosen at. */
const WORKING_HEIGHT = 20;

/** The ink averaged over blocks of `scale` × `scale` pixels (the last row and column of blocks may be partial). */
function shrink(ink: Float32Array, w: number, h: number, scale: number): { ink: Float32Array; width: number; height: number } {
  const width = Math.ceil(w / scale);
  const height = Math.ceil(h / scale);
  const sum = new Float32Array(width * height);
  const count = new Float32Array(width * height);
  for (let y = 0; y < h; y++) {
    const row = Math.floor(y / scale) * width;
    for (let x = 0; x < w; x++) {
      const cell = row + Math.floor(x / scale);
      sum[cell] += ink[y * w + x];
      count[cell]++;
    }
  }
  for (let i = 0; i < sum.length; i++) sum[i] /= count[i];
  return { ink: sum, width, height };
}

/** The segmentation proper, on an ink map whose components are `pieces`. */
function segmentInk(found: Piece[], ink: Float32Array, w: number, threshold: number, shape: readonly [number, number], options: SegmentOptions): Piece[] {
  if (found.length === 0) return [];
  // Specks (dust, a stray dot) are far lighter than any digit: drop them before anything is measured.
  const heaviest = heaviestOf(found);
  let pieces = found.filter((p) => p.mass >= 0.03 * heaviest);
  const rowHeight = () => digitHeight(pieces, heaviest);

  pieces = joinBroken(pieces, rowHeight());
  const expected = options.digits;
  const given = options.scorer;
  const scorer: PieceScorer | undefined = given && ((list) => given(list.map((piece) => toSegment(piece, ink, w, shape).pixels)));
  const tall = rowHeight();
  if (expected === undefined) {
    pieces = pieces.flatMap((p) => {
      const parts = digitsIn(p, tall);
      if (parts > 1) return splitPiece(p, parts, tall, ink, w, threshold, scorer);
      return scorer ? splitByRecognition(p, tall, ink, w, threshold, scorer) : [p];
    });
  } else {
    // Too few: cut a piece in two until the count is reached. With a model, the piece whose reading as
    // two digits is most likely against its reading as one (the row's reading as a whole is the
    // product of its digits', so only the pieces that change count); without one, the widest.
    const gains = new Map<Piece, ReturnType<typeof splitGain>>();
    while (pieces.length < expected) {
      let chosen: { piece: Piece; parts: Piece[] } | null = null;
      if (!scorer) {
        const widest = pieces.reduce((best, p) => (width(p) > width(best) ? p : best));
        chosen = { piece: widest, parts: splitPiece(widest, 2, tall, ink, w, threshold, scorer) };
      } else {
        let bestGain = -Infinity;
        for (const piece of pieces) {
          if (!gains.has(piece)) gains.set(piece, splitGain(piece, tall, ink, w, threshold, scorer));
          const found = gains.get(piece);
          if (found && found.logGain > bestGain) {
            bestGain = found.logGain;
            chosen = { piece, parts: found.cut.parts };
          }
        }
      }
      if (!chosen || chosen.parts.length < 2) break;
      pieces.splice(pieces.indexOf(chosen.piece), 1, ...chosen.parts);
    }
    // Too many: join the two neighbours with the smallest gap.
    while (pieces.length > expected) {
      pieces.sort((a, b) => a.left - b.left);
      let closest = 0;
      for (let i = 1; i + 1 < pieces.length; i++) if (gap(pieces[i], pieces[i + 1]) < gap(pieces[closest], pieces[closest + 1])) closest = i;
      pieces.splice(closest, 2, merge(pieces[closest], pieces[closest + 1]));
    }
  }
  return pieces.sort((a, b) => a.left - b.left);
}

/** The piece's own ink (neighbours' strokes inside its box left out) prepared as an input of `shape` ([height, width]). */
function toSegment(piece: Piece, ink: Float32Array, w: number, shape: readonly [number, number]): DigitSegment {
  const boxWidth = width(piece);
  const boxHeight = height(piece);
  const patch = new Uint8Array(boxWidth * boxHeight);
  for (const p of piece.pixels) {
    const x = p % w;
    const y = (p - x) / w;
    patch[(y - piece.top) * boxWidth + (x - piece.left)] = Math.round(255 * ink[p]);
  }
  return {
    box: { left: piece.left, top: piece.top, width: boxWidth, height: boxHeight },
    pixels: preprocessDigit(patch, boxWidth, boxHeight, { polarity: 'light-on-dark', height: shape[0], width: shape[1] }),
    components: piece.components,
    split: piece.split,
  };
}
