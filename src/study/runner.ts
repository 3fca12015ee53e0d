/**
 * Runs a study: expands the spec into trials, records them, and trains the unfinished ones on a
 * pool of worker threads (one trial per thread, one thread per core by default). Finished trials of
 * an earlier run are kept; interrupted ones continue from their checkpoints. With pruning, trials
 * are compared at rungs (successive halving) and the hopeless ones stop there.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, hostname } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { dataWarnings } from '../data/checks.js';
import type { KernelBackend } from '../core/index.js';
import type { Activation } from '../core/kernels.js';
import { parseLayers } from '../io/layer-text.js';
import { formatLayers, summarizeModel } from '../io/model-spec.js';
import type { OptimizerName } from '../optim/index.js';
import type { ScheduleSpec } from '../optim/schedules.js';
import { modelSpecFor } from '../train/settings.js';
import { TypedEmitter } from '../train/events.js';
import type { EpochRecord, TrainSettings } from '../train/trainer.js';
import { VERDICT, type TrialInput, type WorkerMessage } from './messages.js';
import { RungBook } from './pruning.js';
import { designName } from './results.js';
import { drawDesign, drawnTrials, type SearchParams } from './sampler.js';
import { checkNetworks, expandTrials, isSampledSearch, pruneRungs, type StudySpec, type TrialPlan } from './spec.js';
import { openStudyStorage } from './open-storage.js';
import { FINISHED_STATUSES, LeaseLostError, type DrawTrials, type TrialOutcome, type TrialRow, type TrialStatus } from './storage.js';
import { loadTrialData } from './worker.js';

export interface StudyRunOptions {
  spec: StudySpec;
  /** The spec as written (kept in the study's storage). */
  specText: string;
  /**
   * This machine's folder for the study: the trial folders (checkpoints, models). With a folder
   * storage it is the study folder itself.
   */
  out: string;
  /** Where the study is recorded: a folder (SQLite) or a postgres:// URL (default: `out`). */
  storage?: string;
  /** Seconds a claim on a trial holds without a heartbeat (default 60): how soon a dead worker's trial is taken over. */
  leaseSeconds?: number;
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
  /** `toDraw`: trials a sampled search has yet to draw (not in toRun: their designs are not known yet). */
  start: { trials: number; finished: number; toRun: TrialProgress[]; toDraw: number; workers: number; resumed: boolean; trainImages: number; warnings: string[] };
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
    const leaseMs = (this.options.leaseSeconds ?? LEASE_SECONDS) * 1000;

    mkdirSync(out, { recursive: true });
    const store = await openStudyStorage(this.options.storage ?? out, { create: true, study: spec.name });
    try {
      const extrasOf = (plan: TrialPlan, searchParams?: SearchParams) => {
        const size = sizeOf(plan);
        return {
          settings: {
            data: spec.data, validation, train_subset: spec.trainSubset, ...trialSettings(spec, plan),
            ...(plan.network ? { network: plan.network.layers, preset: plan.network.preset } : {}),
            params: size.params, multiply_adds: size.multiplyAdds, ...(searchParams ? { search_params: searchParams } : {}),
          },
          layers: formatLayers(modelSpecFor(trialSettings(spec, plan), data.train).layers),
        };
      };
      const created = await store.initialize(spec, this.options.specText, plans, (plan) => extrasOf(plan));
      // A sampled search draws its trials as lanes come free, up to its budget, learning (tpe) from the finished ones.
      const sampled = isSampledSearch(spec);
      const limit = spec.budget.trials ?? 0;
      const draw: DrawTrials = (next, trials) => {
        const finished = trials.flatMap((t) =>
          t.params && (FINISHED_STATUSES as readonly string[]).includes(t.status) ? [{ params: t.params, score: t.status === 'diverged' ? 0 : (t.bestValAccuracy ?? 0) }] : []);
        const { design, params } = drawDesign(spec, next, finished);
        return drawnTrials(spec, next, design, limit - trials.length).map((plan) => ({ plan, extras: extrasOf(plan, params) }));
      };
      await store.setStudyState('running');
      const rows = await store.trials();
      const book = new RungBook(spec.prune.reduction, await store.rungs());
      const rungs = this.options.prune ? pruneRungs(spec) : [];
      const progressOf = (row: TrialRow): TrialProgress => ({
        number: row.number,
        label: designName(row) + (spec.seeds.length > 1 ? ` seed ${row.seed}` : ''),
        epochs: spec.epochs,
        ...sizeOf(row as TrialRow & TrialPlan),
      });

      await store.requeueFailed();
      // A trial whose rung verdict was recorded just before the process died is pruned, not rerun.
      for (const row of rows) {
        if ((FINISHED_STATUSES as readonly string[]).includes(row.status)) continue;
        const verdict = book.prunedAt(row.id);
        if (verdict) {
          await store.finish(row.id, null, { ...emptyOutcome('pruned'), params: progressOf(row).params, bytes: progressOf(row).params * 4, prunedReason: verdict });
          row.status = 'pruned';
        }
      }
      const queue = rows.filter((row) => !(FINISHED_STATUSES as readonly string[]).includes(row.status));
      const toDraw = sampled ? Math.max(0, limit - rows.length) : 0;
      const workers = Math.max(1, Math.min(this.options.workers ?? availableParallelism(), queue.length + toDraw || 1));
      this.emit('start', {
        trials: rows.length + toDraw,
        finished: rows.length - queue.length,
        toRun: queue.map(progressOf),
        toDraw,
        workers,
        resumed: !created,
        trainImages: data.train.count,
        warnings: dataWarnings(data).map((warning) => warning.message),
      });

      const deadline = spec.budget.minutes === null ? Infinity : performance.now() + spec.budget.minutes * 60_000;
      const signal = this.options.signal;
      const active = new Map<number, Worker>();
      let ran = 0;
      const stopAll = () => active.forEach((worker) => worker.postMessage({ type: 'stop' }));
      signal?.addEventListener('abort', stopAll, { once: true });
      const takenOver = 'another worker took the trial over: this one did not renew its lease in time';
      /** Trials the heartbeat found another worker holds: stopped here, and not put back in the queue. */
      const lost = new Set<number>();

      const runOne = (row: TrialRow, owner: string) =>
        new Promise<void>((resolve, reject) => {
          const verdict = new SharedArrayBuffer(4);
          const flag = new Int32Array(verdict);
          const dir = join(out, 'trials', String(row.number).padStart(3, '0'));
          const checkpoint = join(dir, 'checkpoint.safetensors');
          const input: TrialInput = {
            kind: 'digitlab-trial',
            data: spec.data,
            validation,
            trainSubset: spec.trainSubset,
            settings: trialSettings(spec, planOf(row)),
            dir,
            backend: this.options.backend ?? 'auto',
            rungs,
            verdict,
          };
          const progress = progressOf(row);
          let worker: Worker | null = null;
          let settled = false;
          let resumedFrom: number | null = null;
          let started = false;
          const wall = performance.now();
          // The storage's writes about this trial, one after another in the order the worker spoke.
          let writes: Promise<unknown> = Promise.resolve();
          const write = (work: () => Promise<unknown>) => {
            writes = writes.then(work).catch((error: unknown) => {
              if (error instanceof LeaseLostError) {
                // another worker trains it now: stop ours, and write nothing more about it
                end('running', takenOver, null);
                return;
              }
              fail(error);
            });
          };
          /** Lets a worker waiting at a rung go (to stop) when the trial ends without a verdict. */
          const release = () => {
            Atomics.store(flag, 0, VERDICT.prune);
            Atomics.notify(flag, 0);
          };
          const end = (status: TrialStatus | null, reason: string | null, testAccuracy: number | null) => {
            if (settled) return;
            settled = true;
            release();
            active.delete(row.id);
            if (status) this.emit('trialEnd', { number: row.number, status, reason, testAccuracy });
            void worker?.terminate();
            resolve();
          };
          const fail = (error: unknown) => {
            if (settled) return;
            settled = true;
            release();
            active.delete(row.id);
            void worker?.terminate();
            reject(error);
          };
          const announce = () => {
            if (started) return;
            started = true;
            this.emit('trialStart', { ...progress, resumedFrom });
          };
          const onMessage = (message: WorkerMessage) => {
            switch (message.type) {
              case 'started':
                break;
              case 'resumed':
                resumedFrom = message.epoch;
                write(() => store.resumeEpochs(row.id, owner, message.history));
                break;
              case 'batch':
                announce();
                this.emit('trialBatch', { number: row.number, epoch: message.epoch, batch: message.batch, batches: message.batches });
                break;
              case 'epoch': {
                announce();
                // the checkpoint of this epoch is on disk already: where the storage keeps checkpoints, it goes there too
                const kept = store.keepsCheckpoints ? readFileSync(checkpoint) : null;
                write(async () => {
                  await store.recordEpoch(row.id, owner, message.record);
                  if (kept) await store.saveCheckpoint(row.id, owner, message.record.epoch, kept);
                  // told once it is recorded: what the progress shows survives a kill
                  this.emit('trialEpoch', { number: row.number, record: message.record });
                });
                break;
              }
              case 'rung':
                write(async () => {
                  // the trials before this one that are still training reach the rung first: the verdict is
                  // then the one a single worker would give, however the trials were spread
                  while (!settled && !signal?.aborted && (await store.earlierAtWork(row.id, rungs.indexOf(message.epoch)))) await abortableSleep(200, signal);
                  const decision = await store.decideRung(
                    row.id, owner, { index: rungs.indexOf(message.epoch), epoch: message.epoch, metric: message.metric, reduction: spec.prune.reduction },
                    (reason) => ({ ...emptyOutcome('pruned'), params: progress.params, bytes: progress.params * 4, prunedReason: reason }),
                  );
                  Atomics.store(flag, 0, decision.row.kept ? VERDICT.keep : VERDICT.prune);
                  Atomics.notify(flag, 0);
                });
                break;
              case 'pruned':
                write(async () => {
                  await store.recordTimings(row.id, { load: message.timings.load, train: message.timings.train, wall: (performance.now() - wall) / 1000 });
                  const pruned = await store.trial(row.id);
                  end('pruned', pruned?.pruned_reason ?? null, null);
                });
                break;
              case 'stopped':
                // Interrupted: the checkpoint stays and the next run continues the trial.
                write(async () => {
                  if (lost.has(row.id)) return end('running', takenOver, null);
                  await store.markInterrupted(row.id, owner);
                  end(null, null, null);
                });
                break;
              case 'done': {
                const r = message.result;
                const status: TrialStatus = r.diverged ? 'diverged' : 'done';
                write(async () => {
                  await store.finish(row.id, owner, {
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
                  await store.recordTimings(row.id, { ...message.timings, wall: (performance.now() - wall) / 1000 });
                  ran++;
                  end(status, r.diverged ? 'the loss became NaN or infinite' : null, r.diverged ? null : r.testAccuracy);
                });
                break;
              }
              case 'error':
                write(async () => {
                  await store.finish(row.id, owner, { ...emptyOutcome('failed'), error: message.message });
                  end('failed', message.message, null);
                });
                break;
            }
          };
          const begin = async () => {
            mkdirSync(dir, { recursive: true });
            if (store.keepsCheckpoints) {
              // The storage's checkpoint is the trial's truth: the one its last worker, here or elsewhere, kept.
              const kept = await store.loadCheckpoint(row.id);
              if (kept) writeFileAtomic(checkpoint, kept.bytes);
              else rmSync(checkpoint, { force: true });
            }
            if (settled) return;
            worker = startWorker(input);
            active.set(row.id, worker);
            if (signal?.aborted) worker.postMessage({ type: 'stop' });
            worker.on('message', onMessage);
            worker.on('error', (error) => {
              if (settled) return;
              write(async () => {
                await store.finish(row.id, owner, { ...emptyOutcome('failed'), error: error.message });
                end('failed', error.message, null);
              });
            });
            worker.on('exit', (code) => {
              // a worker ends after its last message; only one that exits without saying why failed
              write(async () => {
                if (settled) return;
                const message = `the trial's worker exited with code ${code}`;
                await store.finish(row.id, owner, { ...emptyOutcome('failed'), error: message });
                end('failed', message, null);
              });
            });
          };
          begin().catch(fail);
        });

      // A fixed pool of lanes, each claiming the next trial no one trains until none is left. Other
      // processes, here or on other machines, may share the study: a claim is a lease that this
      // process renews while it works, and a trial whose owner died (or went silent past its lease)
      // is claimed again and resumed from its last checkpoint. While others still train, a lane with
      // nothing to claim waits: if one of them dies, its trial is taken over here.
      const base = ownerName();
      const owners = Array.from({ length: workers }, (_, lane) => `${base}/${lane + 1}`);
      const heartbeat = setInterval(() => {
        // only trials claimed before this beat: a claim made while it is on its way is not in its answer
        const beating = new Set(active.keys());
        store.renewLeases(owners, leaseMs).then(
          (held) => {
            // a trial this process still trains but no longer holds: another worker took it over
            for (const [id, worker] of active) {
              if (!beating.has(id) || held.includes(id)) continue;
              lost.add(id);
              worker.postMessage({ type: 'stop' });
            }
          },
          () => {
            // the database is away for a moment: the next beat tries again, well within the lease
          },
        );
      }, leaseMs / 4);
      heartbeat.unref();
      const pause = Math.min(5000, leaseMs / 4);
      const lane = async (owner: string) => {
        while (!signal?.aborted && performance.now() < deadline) {
          const row = (await store.claimNext(owner, leaseMs, ownerGone)) ?? (sampled ? await store.drawTrials(owner, leaseMs, limit, draw) : null);
          if (row) {
            await runOne(row, owner);
            continue;
          }
          // nothing to claim now, but trials of others left: one may die (or its lease has run out and
          // another claimer holds it for a moment), so look again shortly
          if (!(await store.othersLeft(owners))) break;
          await abortableSleep(pause, signal);
        }
      };
      try {
        await Promise.all(owners.map(lane));
      } catch (error) {
        // the storage failed for good (the database away past every retry): no lane can record
        // anything more, so no trial trains on; their claims run out and other workers take them
        for (const worker of active.values()) void worker.terminate();
        throw error;
      } finally {
        clearInterval(heartbeat);
        signal?.removeEventListener('abort', stopAll);
      }

      const stopped = Boolean(signal?.aborted);
      const all = await store.trials();
      const complete = all.every((row) => (FINISHED_STATUSES as readonly string[]).includes(row.status)) && (!sampled || all.length >= limit);
      await store.setStudyState(complete ? 'complete' : (await store.othersAtWork(owners)) ? 'running' : 'stopped');
      this.emit('done', { stopped, ran });
      return { stopped, ran };
    } finally {
      await store.close();
    }
  }
}

/** Waits `ms`, or less if the signal aborts. */
function abortableSleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Writes a file whole or not at all (a temporary name, then a rename). */
function writeFileAtomic(path: string, bytes: Uint8Array): void {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, bytes);
  renameSync(temporary, path);
}

/** How long a claim on a trial holds without a heartbeat: after it, another worker may take the trial over. */
export const LEASE_SECONDS = 60;

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
