/**
 * A model's gallery computed in the page or its worker, as the server's GET /api/models/:id/gallery
 * gives it: the test accuracy, the confusion matrix and the 48 mistakes it was surest about.
 */
import { evaluateDetailed, mostConfidentlyWrong, type DatasetSplits, type Sequential } from '../../src/browser.js';
import type { GalleryData } from './train-protocol.js';

export function computeGallery(model: Sequential, data: DatasetSplits): GalleryData {
  const test = data.test;
  const evaluation = evaluateDetailed(model, test);
  const wrong = mostConfidentlyWrong(evaluation, test, 48).map((w) => ({
    index: w.index, label: w.label, predicted: w.predicted, confidence: w.confidence,
    pixels: btoa(String.fromCharCode(...Uint8Array.from(w.image, (v) => Math.round(v * 255)))),
  }));
  return { data: data.source, accuracy: evaluation.accuracy, count: evaluation.count, confusion: evaluation.confusion, inputShape: [test.height, test.width], wrong };
}
