/**
 * The work a picture sent to the server asks for, the same on the server's thread (small pictures)
 * and in a picture worker (large ones): decode with the pixel limit, then either prepare one digit
 * as the network's input or read a row of digits. Results are plain data, so they cross threads.
 */
import { decodeInk, preprocessDigit } from '../data/images.js';
import type { Box } from '../read/segment.js';
import { readDigits, type DigitPredictor } from '../read/read.js';

/** How request bodies are named in error messages. */
export const REQUEST_BODY = 'the request body';

/** One digit: the picture prepared as the model's input of `shape`, values in [0, 1]. */
export interface DigitJob {
  kind: 'digit';
  bytes: Uint8Array;
  maxPixels: number;
  shape: { height: number; width: number };
}

/** A row of digits, read with the model in `modelDir` (a worker loads it from there). */
export interface RowJob {
  kind: 'row';
  bytes: Uint8Array;
  maxPixels: number;
  modelDir: string;
  digits?: number;
}

export type PictureJob = DigitJob | RowJob;

export interface RowReading {
  text: string;
  digits: Array<{ digit: number; label: string; confidence: number; probabilities: number[]; box: Box; split: boolean; components: number }>;
}

export function digitInput(job: DigitJob): Float32Array {
  const image = decodeInk(job.bytes, REQUEST_BODY, { maxPixels: job.maxPixels });
  return preprocessDigit(image.data, image.width, image.height, job.shape);
}

export function readRow(predictor: DigitPredictor, job: RowJob): RowReading {
  const image = decodeInk(job.bytes, REQUEST_BODY, { maxPixels: job.maxPixels });
  const result = readDigits(predictor, image.data, image.width, image.height, { digits: job.digits });
  return {
    text: result.text,
    digits: result.digits.map((d) => ({ digit: d.digit, label: d.label, confidence: d.confidence, probabilities: d.probabilities, box: d.box, split: d.split, components: d.components })),
  };
}
