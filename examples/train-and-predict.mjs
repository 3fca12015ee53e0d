// Train a two-hidden-layer network with SGD + Nesterov momentum, then read a digit from a PNG.
// Run from the project folder after `npm install`: node examples/train-and-predict.mjs
import { readFileSync, writeFileSync } from 'node:fs';
import {
  Classifier, createKernels, DEFAULT_SETTINGS, decodeGrayscale, encodeGrayscalePng, loadData, preprocessDigit, trainAndSave, TrainingRun,
} from 'digitlab';

const data = loadData('mnist'); // or 'idx:DIR', 'pkl:FILE'
const kernels = await createKernels(); // WebAssembly SIMD (relaxed SIMD where available)
const run = new TrainingRun({
  kernels,
  data,
  settings: {
    ...DEFAULT_SETTINGS,
    hidden: [256, 128],
    optimizer: 'sgd',
    optimizerOptions: { lr: 0.05, momentum: 0.9, nesterov: true },
    epochs: 2,
  },
});
run.on('epochEnd', (e) => console.log(`epoch ${e.epoch}: val loss ${e.val_loss.toFixed(4)}, val accuracy ${e.val_accuracy}`));
// trains, then saves config.json (the layers, data and settings) and model.safetensors
const { result } = await trainAndSave(run, 'runs/example');
console.log(`test accuracy ${result.test.accuracy}, ${result.params} parameters`);

const classifier = await Classifier.load(kernels, 'runs/example');

// A test digit written as a PNG, read back as any picture would be.
const pixels = data.test.images.subarray(0, 784);
writeFileSync('runs/example/digit.png', encodeGrayscalePng(pixels, 28, 28));
const picture = decodeGrayscale(readFileSync('runs/example/digit.png'));
const { digit, probabilities } = classifier.predict(preprocessDigit(picture.data, picture.width, picture.height));
console.log(`runs/example/digit.png reads as ${digit} (${(probabilities[digit] * 100).toFixed(1)}%), labelled ${data.test.labels[0]}`);
