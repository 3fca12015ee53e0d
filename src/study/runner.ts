/**
 * Runs a study: expands the spec into trials, records them, and trains the unfinished ones on a
 * pool of worker threads (one trial per thread, one thread per core by default). Finished trials of
 * an earlier run are kept; interrupted ones continue from their checkpoints. With pruning, trials
 * are compared at rungs (successive halving) and the hopeless ones stop there.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { availableParallelism, hostname } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { dataWarnings } from '../data/checks.js';
import type { KernelBackend } from '../core/index.js';
import type { Activation } from '../core/kernels.js';
import { parseLayers } from '../io/layer-text.js';
import { summarizeModel } from '../io/model-spec.js';
import type { OptimizerName } from '../optim/index.js';
import type { ScheduleSpec } from '../optim/schedules.js';
import { modelSpecFor } from '../train/settings.js';
import { TypedEmitter } from '../train/events.js';
import type { EpochRecord, TrainSettings } from '../train/trainer.js';
import { VERDICT, type TrialInput, type WorkerMessage } from './messages.js';
import { RungBook } from './pruning.js';
import { designName } from './results.js';
import { checkNetworks, expandTrials, pruneRungs, type StudySpec, type TrialPlan } from './spec.js';
import { FINISHED_STATUSES, StudyStore, type TrialOutcome, type TrialRow, type TrialStatus } from './storage.js';
import { loadTrialData } from './worker.js';

export interface StudyRunOptions {
  spec: StudySpec;
  /** The spec as written (kept in the study's storage). */
  specText: string;
  /** The study folder. */
  out: string;
  /** Trials trained at once (default: the cores available). */
  workers?: number;
  /** Successive-halving pruning at the spec's rungs. */
  prune?: boolean;
  backend?: KernelBackend;
  /** Stops the study cleanly: running trials keep their checkpoints and continue on the next run. */
  signal?: AbortSignal;
}

/** A trial as the progress display sees it. */
export interface TrialProgress {
  number: number;
  label: string;
  epochs: number;
  params: number;
  /** Multiply-adds of one image's forward pass: what an epoch's time goes with. */
  multiplyAdds: number;
}

export interface StudyEvents {
  start: { trials: number; finished: number; toRun: TrialProgress[]; workers: number; resumed: boolean; trainImages: number; warnings: string[] };
  trialStart: TrialProgress & { resumedFrom: number | null };
  trialBatch: { number: number; epoch: number; batch: number; batches: number };
  trialEpoch: { number: number; record: EpochRecord };
  trialEnd: { number: number; status: TrialStatus; reason: string | null; testAccuracy: number | null };
  done: { stopped: boolean; ran: number };
}

/** The settings a trial trains with. */
export function trialSettings(
  spec: StudySpec,
  plan: Pick<TrialPlan, 'hidden' | 'activation' | 'optimizer' | 'lr' | 'options' | 'schedule' | 'seed'> & Partial<Pick<TrialPlan, 'network' | 'augment'>>,
): TrainSettings {
  return {
    hidden: plan.hidden,
    activation: plan.activation,
    // A network design trains its layer list; an MLP has no `layers` key at all (as before).
    ...(plan.network ? { layers: parseLayers(plan.network.layers) } : {}),
    optimizer: plan.optimizer,
    optimizerOptions: { ...plan.options, lr: plan.lr },
    schedule: plan.schedule,
    ...(plan.augment ? { augment: plan.augment } : {}),
    epochs: spec.epochs,
    batchSize: spec.batchSize,
    seed: plan.seed,
    // Without an early-stopping rule the patience is the whole run: training never stops early, but
    // the trial still ends with its best validation epoch's weights, the model the study keeps.
    earlyStoppingPatience: spec.earlyStopping ?? spec.epochs,
    restoreBest: true,
    convergence: spec.convergence,
  };
}

/** A stored trial's design as trialSettings takes it (the storage keeps the schedule as JSON text). */
function planOf(row: TrialRow): Parameters<typeof trialSettings>[1] {
  return { ...row, activation: row.activation as Activation, optimizer: row.optimizer as OptimizerName, schedule: row.schedule ? (JSON.parse(row.schedule) as ScheduleSpec) : null };
}

export class StudyRunner extends TypedEmitter<StudyEvents> {
  constructor(private readonly options: StudyRunOptions) {
    super();
  }

  /** Runs every unfinished trial; resolves when all are done or the study was stopped. */
  async run(): Promise<{ stopped: boolean; ran: number }> {
    const { spec, out } = this.options;
    const plans = expandTrials(spec);
    // Load the data once here so a bad source or split fails before any trial starts.
    const data = loadTrialData(spec.data, spec.validation, spec.trainSubset);
    if (spec.trainSubset !== null && spec.trainSubset > data.train.count) {
      throw new RangeError(`train_subset is ${spec.trainSubset} but ${spec.data} has only ${data.train.count} training images after validation`);
    }
    // the split every trial uses: the spec's, or the data's default, fixed here for every worker
    const validation = data.validation.count;
    // Every network must fit the data's images: checked here, before the study folder or any trial.
    checkNetworks(spec, [1, data.train.height, data.train.width], data.train.classes);
    /** Parameters and multiply-adds of a design's model on this data (MLP or any network). */
    const sizeOf = (plan: Parameters<typeof trialSettings>[1]) => {
      const summary = summarizeModel(modelSpecFor(trialSettings(spec, plan), data.train));
      return { params: summary.params, multiplyAdds: summary.multiplyAdds };
    };

    mkdirSync(out, { recursive: true });
    const store = StudyStore.open(out, { create: true });
    try {
      const created = store.initialize(spec, this.options.specText, plans, (plan) => {
        const size = sizeOf(plan);
        return {
          data: spec.data, validation, train_subset: spec.trainSubset, ...trialSettings(spec, plan),
          ...(plan.network ? { network: plan.network.layers, preset: plan.network.preset } : {}),
          params: size.params, multiply_adds: size.multiplyAdds,
        };
      });
      store.setStudyState('running');
      const rows = store.trials();
      const book = new RungBook(spec.prune.reduction, store.rungs());
      const rungs = this.options.prune ? pruneRungs(spec) : [];
      const progressOf = (row: TrialRow): TrialProgress => ({
        number: row.number,
        label: designName(row) + (spec.seeds.length > 1 ? ` seed ${row.seed}` : ''),
        epochs: spec.epochs,
        ...sizeOf(row as TrialRow & TrialPlan),
      });

      const owner = ownerName();
      store.requeueFailed();
      // A trial whose rung verdict was recorded just before the process died is pruned, not rerun.
      for (const row of rows) {
        if ((FINISHED_STATUSES as readonly string[]).includes(row.status)) continue;
        const verdict = book.prunedAt(row.id);
        if (verdict) {
          store.finish(row.id, { ...emptyOutcome('pruned'), params: progressOf(row).params, bytes: progressOf(row).params * 4, prunedReason: verdict });
          row.status = 'pruned';
        }
      }
      const queue = rows.filter((row) => !(FINISHED_STATUSES as readonly string[]).includes(row.status));
      const workers = Math.max(1, Math.min(this.options.workers ?? availableParallelism(), queue.length || 1));
      this.emit('start', {
        trials: rows.length,
        finished: rows.length - queue.length,
        toRun: queue.map(progressOf),
        workers,
        resumed: !created,
        trainImages: data.train.count,
        warnings: dataWarnings(data).map((warning) => warning.message),
      });

      const deadline = spec.budget.minutes === null ? Infinity : performance.now() + spec.budget.minutes * 60_000;
      const signal = this.options.signal;
      const active = new Set<Worker>();
      let ran = 0;
      const stopAll = () => active.forEach((worker) => worker.postMessage({ type: 'stop' }));
      signal?.addEventListener('abort', stopAll, { once: true });

      const runOne = (row: TrialRow) =>
        new Promise<void>((resolve) => {
          const verdict = new SharedArrayBuffer(4);
          const flag = new Int32Array(verdict);
          const input: TrialInput = {
            kind: 'digitlab-trial',
            data: spec.data,
            validation,
            trainSubset: spec.trainSubset,
            settings: trialSettings(spec, planOf(row)),
            dir: join(out, 'trials', String(row.number).padStart(3, '0')),
            backend: this.options.backend ?? 'auto',
            rungs,
            verdict,
          };
          mkdirSync(input.dir, { recursive: true });
          const progress = progressOf(row);
          const worker = startWorker(input);
          active.add(worker);
          let settled = false;
          let resumedFrom: number | null = null;
          let started = false;
          const wall = performance.now();
          const end = (status: TrialStatus | null, reason: string | null, testAccuracy: number | null) => {
            if (settled) return;
            settled = true;
            active.delete(worker);
            if (status) this.emit('trialEnd', { number: row.number, status, reason, testAccuracy });
            void worker.terminate();
            resolve();
          };
          const announce = () => {
            if (started) return;
            started = true;
            this.emit('trialStart', { ...progress, resumedFrom });
          };
          worker.on('message', (message: WorkerMessage) => {
            switch (message.type) {
              case 'started':
                break;
              case 'resumed':
                resumedFrom = message.epoch;
                store.truncateEpochs(row.id, message.epoch);
                for (const record of message.history) store.recordEpoch(row.id, record);
                break;
              case 'batch':
                announce();
                this.emit('trialBatch', { number: row.number, epoch: message.epoch, batch: message.batch, batches: message.batches });
                break;
              case 'epoch':
                announce();
                store.recordEpoch(row.id, message.record);
                this.emit('trialEpoch', { number: row.number, record: message.record });
                break;
              case 'rung': {
                // against every rung recorded so far, by any process sharing the study, under its write lock
                const decision = store.exclusive(() => {
                  const found = new RungBook(spec.prune.reduction, store.rungs()).decide(row.id, rungs.indexOf(message.epoch), message.epoch, message.metric);
                  store.recordRung(found.row);
                  if (!found.row.kept) store.finish(row.id, { ...emptyOutcome('pruned'), params: progress.params, bytes: progress.params * 4, prunedReason: found.reason });
                  return found;
                });
                Atomics.store(flag, 0, decision.row.kept ? VERDICT.keep : VERDICT.prune);
                Atomics.notify(flag, 0);
                break;
              }
              case 'pruned': {
                store.recordTiming(row.id, 'load', message.timings.load);
                store.recordTiming(row.id, 'train', message.timings.train);
                store.recordTiming(row.id, 'wall', (performance.now() - wall) / 1000);
                const pruned = store.trials().find((t) => t.id === row.id);
                end('pruned', pruned?.pruned_reason ?? null, null);
                break;
              }
              case 'stopped':
                // Interrupted: the checkpoint stays and the next run continues the trial.
                store.markInterrupted(row.id);
                end(null, null, null);
                break;
              case 'done': {
                const r = message.result;
                const status: TrialStatus = r.diverged ? 'diverged' : 'done';
                store.finish(row.id, {
                  status,
                  params: r.params,
                  bytes: r.bytes,
                  bestEpoch: r.bestEpoch,
                  testAccuracy: r.diverged ? null : r.testAccuracy,
                  testLoss: r.diverged ? null : r.testLoss,
                  convergedEpoch: r.convergedEpoch,
                  secondsToConverge: r.secondsToConverge,
                  seconds: r.seconds,
                  confusion: r.diverged ? null : r.confusion,
                  modelDir: r.modelDir,
                  prunedReason: null,
                  error: null,
                });
                for (const [phase, seconds] of Object.entries(message.timings)) store.recordTiming(row.id, phase, seconds);
                store.recordTiming(row.id, 'wall', (performance.now() - wall) / 1000);
                ran++;
                end(status, r.diverged ? 'the loss became NaN or infinite' : null, r.diverged ? null : r.testAccuracy);
                break;
              }
              case 'error':
                store.finish(row.id, { ...emptyOutcome('failed'), error: message.message });
                end('failed', message.message, null);
                break;
            }
          });
          worker.on('error', (error) => {
            store.finish(row.id, { ...emptyOutcome('failed'), error: error.message });
            end('failed', error.message, null);
          });
          worker.on('exit', (code) => {
            if (settled) return;
            const message = `the trial's worker exited with code ${code}`;
            store.finish(row.id, { ...emptyOutcome('failed'), error: message });
            end('failed', message, null);
          });
        });

      // A fixed pool of lanes, each claiming the next trial no one trains until none is left. Other
      // processes may share the study: a claim is a lease that this process renews while it works,
      // and a trial whose owner died (or went silent past its lease) is claimed again and resumed.
      const heartbeat = setInterval(() => store.renewLeases(owner, LEASE_MS), LEASE_MS / 4);
      heartbeat.unref();
      const lane = async () => {
        while (!signal?.aborted && performance.now() < deadline) {
          const row = store.claimNext(owner, LEASE_MS, ownerGone);
          if (!row) break;
          await runOne(row);
        }
      };
      try {
        await Promise.all(Array.from({ length: workers }, lane));
      } finally {
        clearInterval(heartbeat);
      }
      signal?.removeEventListener('abort', stopAll);

      const stopped = Boolean(signal?.aborted);
      const complete = store.trials().every((row) => (FINISHED_STATUSES as readonly string[]).includes(row.status));
      store.setStudyState(complete ? 'complete' : store.othersAtWork(owner) ? 'running' : 'stopped');
      this.emit('done', { stopped, ran });
      return { stopped, ran };
    } finally {
      store.close();
    }
  }
}

/** How long a claim on a trial holds without a heartbeat: after it, another process may take the trial over. */
const LEASE_MS = 60_000;

/** This process's name on its claims: host, process id, and a tag telling runners in one process apart. */
function ownerName(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

/**
 * Whether the owner of a claim is gone for sure: a process of this host that no longer exists (a
 * study killed and run again takes its trials back at once). Owners on other hosts, or alive, keep
 * their claims until the lease runs out.
 */
function ownerGone(owner: string): boolean {
  const [host, pidText] = owner.split(':');
  const pid = Number(pidText);
  if (host !== hostname() || !Number.isInteger(pid) || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function emptyOutcome(status: TrialStatus): TrialOutcome {
  return {
    status,
    params: null,
    bytes: null,
    bestEpoch: null,
    testAccuracy: null,
    testLoss: null,
    convergedEpoch: null,
    secondsToConverge: null,
    seconds: null,
    confusion: null,
    modelDir: null,
    prunedReason: null,
    error: null,
  };
}

/**
 * Starts a trial's worker: the compiled JavaScript next to this module, or, when this module runs
 * from TypeScript source (tests run through tsx), the source with tsx's loader registered in the
 * worker first, since a worker thread does not inherit the loader hooks of its parent.
 */
function startWorker(input: TrialInput): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./worker.js', import.meta.url), { workerData: input });
  const source = new URL('./worker.ts', import.meta.url).href;
  const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(source)}); })`;
  return new Worker(bootstrap, { eval: true, workerData: input });
}
