import type { Kernels } from '../core/kernels.js';
import { Random } from '../core/random.js';
import { Augmenter, checkAugmentSpec } from '../data/augment.js';
import type { DatasetSplits } from '../data/dataset.js';
import type { ModelSpec } from '../io/model-spec.js';
import { Sequential } from '../nn/sequential.js';
import { createOptimizer, type Optimizer } from '../optim/index.js';
import { applySchedule, createSchedule, ONE_CYCLE_DEFAULTS } from '../optim/schedules.js';
import { BatchBuffer } from './batches.js';
import { ConvergenceTracker } from './convergence.js';
import { evaluate, evaluateDetailed, type DetailedEvaluation } from './evaluate.js';
import { TypedEmitter } from './events.js';
import { decodeCheckpoint, encodeCheckpoint, fileCheckpointStore, type CheckpointState, type CheckpointStore } from './checkpoint.js';

import { modelSpecFor, type EpochRecord, type TrainSettings } from './settings.js';

export { DEFAULT_SETTINGS, modelSpecFor, type EpochRecord, type TrainSettings } from './settings.js';

export interface TrainResult {
  settings: TrainSettings;
  spec: ModelSpec;
  params: number;
  bytes: number;
  epochs: EpochRecord[];
  converged_epoch: number | null;
  seconds_to_converge: number | null;
  /** Training time: the sum of the epochs' seconds. */
  seconds: number;
  /** Epoch whose weights the final model has. */
  best_epoch: number;
  stopped_early: boolean;
  diverged: boolean;
  test: DetailedEvaluation;
}

export interface TrainEvents {
  epochStart: { epoch: number; epochs: number; batches: number; samples: number };
  batchEnd: { epoch: number; batch: number; batches: number; loss: number; samples: number };
  epochEnd: EpochRecord;
  checkpoint: { path: string; epoch: number };
  resumed: { epoch: number; path: string };
  done: TrainResult;
}

export interface TrainRunOptions {
  kernels: Kernels;
  data: DatasetSplits;
  settings: TrainSettings;
  /** Where `checkpoint.safetensors` is written after every epoch (none when absent). */
  checkpointPath?: string;
  /** Keeps the checkpoint elsewhere than in a file (a browser's IndexedDB); instead of checkpointPath. */
  checkpointStore?: CheckpointStore;
  /** Continue from the checkpoint if there is one. */
  resume?: boolean;
  /** Stops the run at the next batch boundary; the last checkpoint stays. */
  signal?: AbortSignal;
}

export class TrainingAbortedError extends Error {
  constructor(
    readonly epoch: number,
    /** Whether a checkpoint of an earlier epoch is on disk, to continue from. */
    readonly checkpointKept = true,
  ) {
    super(
      checkpointKept
        ? `training stopped during epoch ${epoch}; the last checkpoint is kept (rerun with --resume to continue)`
        : epoch === 1
          ? `training stopped during epoch 1, before its first checkpoint: nothing was saved`
          : `training stopped during epoch ${epoch}; the run keeps no checkpoints, so nothing was saved`,
    );
    this.name = 'TrainingAbortedError';
  }
}

/**
 * One training run: batches → forward → loss → backward → optimizer step, validation after each
 * epoch, convergence and early stopping, a checkpoint per epoch, and a final test evaluation.
 */
export class TrainingRun extends TypedEmitter<TrainEvents> {
  readonly model: Sequential;
  readonly optimizer: Optimizer;
  /**
   * The batch size the run trains with: the settings' size, or the whole training set when that is
   * smaller (one batch an epoch).
   */
  readonly batchSize: number;
  readonly settings: TrainSettings;

  constructor(private readonly options: TrainRunOptions) {
    super();
    const { kernels, data, settings } = options;
    validateSettings(settings);
    this.settings = settings;
    const train = data.train;
    if (data.validation.count === 0 && settings.earlyStoppingPatience !== null) {
      throw new RangeError('early stopping watches the validation loss, and this run holds out no validation images: hold some out, or train without early stopping');
    }
    this.batchSize = Math.min(settings.batchSize, train.count);
    this.model = Sequential.create(kernels, modelSpecFor(settings, train), settings.seed);
    this.optimizer = createOptimizer(settings.optimizer, kernels, this.model.params(), optimizerOptionsFor(settings));
  }

  /** The data the run trains, validates and tests on. */
  get data(): DatasetSplits {
    return this.options.data;
  }

  async run(): Promise<TrainResult> {
    const { data, settings } = { data: this.options.data, settings: this.settings };
    const model = this.model;
    const optimizer = this.optimizer;
    const train = data.train;
    const batchSize = this.batchSize;
    model.reserve(batchSize);
    const batch = new BatchBuffer(model, batchSize);
    const batches = Math.ceil(train.count / batchSize);
    const schedule = settings.schedule
      ? createSchedule(settings.schedule, optimizer.lr, { epochs: settings.epochs, batchesPerEpoch: batches }) : null;

    // A second stream for shuffling, so the initialization does not depend on the data order.
    let state: CheckpointState = {
      epoch: 0,
      history: [],
      shuffleRandom: new Random(settings.seed ^ 0x5bd1e995).getState(),
      convergence: new ConvergenceTracker(settings.convergence).state,
      bestEpoch: 0,
      bestValLoss: Infinity,
      epochsWithoutImprovement: 0,
      diverged: false,
      stoppedEarly: false,
    };
    const best = model.snapshot();
    const store = this.options.checkpointStore ?? (this.options.checkpointPath === undefined ? undefined : fileCheckpointStore(this.options.checkpointPath));
    const path = store?.name;
    if (this.options.resume && store) {
      const bytes = await store.read();
      if (bytes) {
        state = decodeCheckpoint(bytes, store.name, settings, model, optimizer, best);
        if (state.modelRandom) model.randomState = state.modelRandom;
        this.emit('resumed', { epoch: state.epoch, path: store.name });
      }
    }
    const shuffle = Random.fromState(state.shuffleRandom);
    // A third stream for the distortions, seeded apart from the other two.
    const augmenter = settings.augment
      ? new Augmenter(model.kernels, settings.augment, (settings.seed ^ 0x2c1b3c6d) >>> 0, batchSize, train.height, train.width) : undefined;
    if (augmenter && state.augmentRandom) augmenter.state = state.augmentRandom;
    const convergence = new ConvergenceTracker(settings.convergence);
    convergence.state = state.convergence;
    const validates = data.validation.count > 0;
    const order = new Uint32Array(train.count);
    let lastYield = performance.now();

    while (state.epoch < settings.epochs && !state.stoppedEarly && !state.diverged) {
      const epoch = state.epoch + 1;
      if (schedule?.per === 'epoch') applySchedule(optimizer, schedule, epoch - 1);
      const started = performance.now();
      this.emit('epochStart', { epoch, epochs: settings.epochs, batches, samples: train.count });
      for (let i = 0; i < order.length; i++) order[i] = i;
      shuffle.shuffle(order);
      let lossSum = 0;
      for (let b = 0; b < batches; b++) {
        if (performance.now() - lastYield > 50) {
          // Let signals, timers and listeners run: a stop request lands within ~50 ms.
          await yieldToEventLoop();
          lastYield = performance.now();
        }
        if (this.options.signal?.aborted) throw new TrainingAbortedError(epoch, path !== undefined && state.epoch > 0);
        const start = b * batchSize;
        const rows = Math.min(batchSize, train.count - start);
        batch.fill(train, order, start, rows, augmenter);
        batch.forward(rows, true);
        const loss = model.lossAndGradient(batch.labels, rows);
        model.backward(rows);
        if (schedule?.per === 'batch') applySchedule(optimizer, schedule, (epoch - 1) * batches + b);
        optimizer.step();
        lossSum += loss * rows;
        this.emit('batchEnd', { epoch, batch: b + 1, batches, loss, samples: start + rows });
        if (!Number.isFinite(loss)) {
          state.diverged = true;
          break;
        }
      }
      // A run that holds out no validation images (its design chosen already, trained on all of
      // them) has no validation loss to watch: no convergence, and its last epoch is its best.
      const validation = validates ? evaluate(model, data.validation) : null;
      const seconds = (performance.now() - started) / 1000;
      const trainLoss = lossSum / train.count;
      const record: EpochRecord = {
        epoch,
        train_loss: trainLoss,
        val_loss: validation ? validation.loss : null,
        val_accuracy: validation ? validation.accuracy : null,
        seconds,
        lr: optimizer.lr,
      };
      state.history.push(record);
      state.epoch = epoch;
      if (!Number.isFinite(validation ? validation.loss : trainLoss)) state.diverged = true;
      const elapsed = state.history.reduce((sum, e) => sum + e.seconds, 0);
      if (validation) convergence.update(epoch, validation.loss, elapsed);
      if (!validation) {
        state.bestEpoch = epoch;
      } else if (validation.loss < state.bestValLoss) {
        state.bestValLoss = validation.loss;
        state.bestEpoch = epoch;
        state.epochsWithoutImprovement = 0;
        model.copyWeightsTo(best);
      } else {
        state.epochsWithoutImprovement++;
        const patience = settings.earlyStoppingPatience;
        if (patience !== null && state.epochsWithoutImprovement >= patience) state.stoppedEarly = true;
      }
      state.shuffleRandom = shuffle.getState();
      state.modelRandom = model.randomState;
      if (augmenter) state.augmentRandom = augmenter.state;
      state.convergence = convergence.state;
      // The checkpoint is kept before listeners hear of the epoch's end.
      if (store) await store.write(encodeCheckpoint(settings, state, model, optimizer, best));
      this.emit('epochEnd', record);
      if (store) this.emit('checkpoint', { path: store.name, epoch });
    }

    let finalEpoch = state.epoch;
    if (settings.earlyStoppingPatience !== null && settings.restoreBest && state.bestEpoch > 0) {
      model.copyWeightsFrom(best);
      finalEpoch = state.bestEpoch;
    }
    const test = evaluateDetailed(model, data.test);
    const result: TrainResult = {
      settings,
      spec: model.spec,
      params: model.parameterCount,
      bytes: model.byteSize,
      epochs: state.history,
      converged_epoch: state.convergence.convergedEpoch,
      seconds_to_converge: state.convergence.secondsToConverge,
      seconds: state.history.reduce((sum, e) => sum + e.seconds, 0),
      best_epoch: finalEpoch,
      stopped_early: state.stoppedEarly,
      diverged: state.diverged,
      test,
    };
    this.emit('done', result);
    return result;
  }
}

/**
 * Lets pending events run (a stop request, timers, messages to a worker) and resumes at once:
 * setImmediate on Node.js, a message to itself in a browser (a timer would wait at least 4 ms).
 */
function yieldToEventLoop(): Promise<void> {
  const scope = globalThis as { setImmediate?: (callback: () => void) => void };
  if (scope.setImmediate) return new Promise((resolve) => scope.setImmediate!(resolve));
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    const port = channel.port1 as unknown as { onmessage: (() => void) | null; close(): void };
    port.onmessage = () => {
      port.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}

/**
 * The optimizer's options for a run: the settings' own, except that a one-cycle schedule that cycles
 * the momentum of SGD or RMSprop made without momentum gets its maxMomentum, as PyTorch's OneCycleLR
 * sets the momentum when it starts (the optimizer needs its momentum buffers from the start).
 */
export function optimizerOptionsFor(settings: Pick<TrainSettings, 'optimizer' | 'optimizerOptions' | 'schedule'>): Record<string, number | boolean> {
  const schedule = settings.schedule;
  const options = settings.optimizerOptions;
  const cycles = schedule?.type === 'onecycle' && schedule.cycleMomentum !== false;
  if (cycles && (settings.optimizer === 'sgd' || settings.optimizer === 'rmsprop') && !options.momentum) {
    return { ...options, momentum: schedule.maxMomentum ?? ONE_CYCLE_DEFAULTS.maxMomentum };
  }
  return options;
}

/** Throws a clear error for settings no run could use. */
export function validateSettings(s: TrainSettings): void {
  const positiveInt = (v: number) => Number.isInteger(v) && v > 0;
  if (!positiveInt(s.epochs)) throw new RangeError(`epochs must be a positive integer, got ${s.epochs}`);
  if (!positiveInt(s.batchSize)) throw new RangeError(`batch size must be a positive integer, got ${s.batchSize}`);
  if (!Number.isInteger(s.seed) || s.seed < 0) throw new RangeError(`seed must be a non-negative integer, got ${s.seed}`);
  if (s.earlyStoppingPatience !== null && !positiveInt(s.earlyStoppingPatience)) {
    throw new RangeError(`early-stopping patience must be a positive integer, got ${s.earlyStoppingPatience}`);
  }
  if (s.augment) checkAugmentSpec(s.augment);
}
