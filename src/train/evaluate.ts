import type { Dataset } from '../data/dataset.js';
import type { Sequential } from '../nn/sequential.js';
import { BatchBuffer } from './batches.js';

export interface Evaluation {
  loss: number;
  accuracy: number;
  count: number;
}

export interface DetailedEvaluation extends Evaluation {
  /** confusion[true][predicted] counts. */
  confusion: number[][];
  /** Predicted class of each image. */
  predictions: Uint8Array;
  /** Probability the network gave its prediction, per image. */
  confidence: Float32Array;
}

/** Mean cross-entropy and accuracy of the network over a whole dataset, in batches. */
export function evaluate(model: Sequential, data: Dataset, batchSize = 1000): Evaluation {
  const { loss, accuracy, count } = evaluateDetailed(model, data, batchSize, false);
  return { loss, accuracy, count };
}

export function evaluateDetailed(model: Sequential, data: Dataset, batchSize = 1000, details = true): DetailedEvaluation {
  const classes = model.classes;
  const rowsMax = Math.min(batchSize, data.count);
  model.reserve(rowsMax);
  const batch = evaluationBuffer(model, rowsMax);
  const labels = batch.labels;
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  const predictions = new Uint8Array(details ? data.count : 0);
  const confidence = new Float32Array(details ? data.count : 0);
  let lossSum = 0;
  let correct = 0;
  for (let first = 0; first < data.count; first += rowsMax) {
    const rows = Math.min(rowsMax, data.count - first);
    batch.fillRange(data, first, rows);
    const logits = batch.forward(rows);
    // Argmax and confidence from the logits before the loss kernel overwrites them with gradients.
    for (let r = 0; r < rows; r++) {
      let best = 0;
      let max = logits[r * classes];
      for (let c = 1; c < classes; c++) {
        if (logits[r * classes + c] > max) {
          max = logits[r * classes + c];
          best = c;
        }
      }
      if (best === labels[r]) correct++;
      if (details) {
        let sum = 0;
        for (let c = 0; c < classes; c++) sum += Math.exp(logits[r * classes + c] - max);
        predictions[first + r] = best;
        confidence[first + r] = 1 / sum;
        confusion[labels[r]][best]++;
      }
    }
    lossSum += model.lossAndGradient(labels, rows) * rows;
  }
  return { loss: lossSum / data.count, accuracy: correct / data.count, count: data.count, confusion, predictions, confidence };
}

const buffers = new WeakMap<Sequential, BatchBuffer>();

/** One evaluation buffer per model, grown when needed (no allocation per call). */
function evaluationBuffer(model: Sequential, rows: number): BatchBuffer {
  let found = buffers.get(model);
  if (!found || found.rows < rows) {
    found = new BatchBuffer(model, rows);
    buffers.set(model, found);
  }
  return found;
}

export interface WrongPrediction {
  index: number;
  label: number;
  predicted: number;
  confidence: number;
  /** The image's pixels, [height · width], in [0, 1]. */
  image: Float32Array;
}

/** The `limit` misclassified images the network was most sure about, most confident first. */
export function mostConfidentlyWrong(evaluation: DetailedEvaluation, data: Dataset, limit: number): WrongPrediction[] {
  const wrong: number[] = [];
  for (let i = 0; i < data.count; i++) if (evaluation.predictions[i] !== data.labels[i]) wrong.push(i);
  wrong.sort((a, b) => evaluation.confidence[b] - evaluation.confidence[a]);
  const size = data.height * data.width;
  return wrong.slice(0, limit).map((index) => {
    const image = new Float32Array(size);
    for (let j = 0; j < size; j++) image[j] = data.images[index * size + j] / data.pixelMax;
    return { index, label: data.labels[index], predicted: evaluation.predictions[index], confidence: evaluation.confidence[index], image };
  });
}
