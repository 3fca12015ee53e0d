/**
 * Reading a row of handwritten digits: segment it, then classify every digit in one batch.
 * Pure TypeScript, shared by `digitlab read`, POST /api/read and the browser app.
 */
import type { Prediction } from '../nn/classifier.js';
import { segmentDigits, type Box, type SegmentOptions } from './segment.js';

/** What reading needs from a model: a Classifier has all three. */
export interface DigitPredictor {
  /** [height, width] of the inputs: every digit is prepared at that size. */
  readonly inputShape: readonly [number, number];
  predictBatch(pixels: Float32Array, rows: number): Prediction[];
  label(index: number): string;
}

export interface ReadDigit {
  /** The class index and its display name. */
  digit: number;
  label: string;
  /** Probability of the chosen class. */
  confidence: number;
  probabilities: number[];
  box: Box;
  /** The input the network saw, [height, width] of its input shape. */
  pixels: Float32Array;
  components: number;
  split: boolean;
}

export interface ReadResult {
  /** The digits' labels, left to right ('' for a blank picture). */
  text: string;
  digits: ReadDigit[];
}

export function readDigits(
  predictor: DigitPredictor,
  gray: Uint8Array,
  width: number,
  height: number,
  options: SegmentOptions = {},
): ReadResult {
  const inputShape = predictor.inputShape;
  const size = inputShape[0] * inputShape[1];
  const scorer = (inputs: Float32Array[]): number[] => {
    const batch = new Float32Array(inputs.length * size);
    inputs.forEach((input, i) => batch.set(input, i * size));
    return predictor.predictBatch(batch, inputs.length).map((p) => p.probabilities[p.digit]);
  };
  const segments = segmentDigits(gray, width, height, { scorer, ...options, inputShape });
  if (segments.length === 0) return { text: '', digits: [] };
  const batch = new Float32Array(segments.length * size);
  segments.forEach((segment, i) => batch.set(segment.pixels, i * size));
  const predictions = predictor.predictBatch(batch, segments.length);
  const digits = segments.map((segment, i): ReadDigit => {
    const { digit, probabilities } = predictions[i];
    return {
      digit,
      label: predictor.label(digit),
      confidence: probabilities[digit],
      probabilities,
      box: segment.box,
      pixels: segment.pixels,
      components: segment.components,
      split: segment.split,
    };
  });
  return { text: digits.map((d) => d.label).join(''), digits };
}
