/**
 * Decoding pictures off the server's thread: a few worker threads, a bounded queue in front of them,
 * a cap on the jobs one client may have at once, and a time limit per job. A 16-megapixel PNG takes
 * pngjs over a second to decode; on the server's own thread that second would hold up every other
 * request, and six of them in a row held a plain JSON prediction for half a minute.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { HttpError } from './errors.js';
import type { PictureJob } from './picture-jobs.js';

export interface PicturePoolOptions {
  /** Worker threads (default: 2, or 1 on a single core). */
  workers: number;
  /** Jobs that may wait for a worker; one more is refused with 503 (default 16). */
  queue: number;
  /** Jobs one client may have waiting or running; one more is refused with 429 (default 2). */
  perClient: number;
  /** A job that runs longer is stopped (its worker replaced) and refused with 422 (default 20). */
  timeoutSeconds: number;
}

export const DEFAULT_PICTURE_POOL: PicturePoolOptions = {
  workers: Math.min(2, availableParallelism()),
  queue: 16,
  perClient: 2,
  timeoutSeconds: 20,
};

/** What the server posts to a worker, and what the worker answers. */
export interface WorkerRequest {
  id: number;
  job: PictureJob;
}
export type WorkerReply =
  | { id: number; started: true }
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; status: number; message: string };

interface Task {
  id: number;
  job: PictureJob;
  client: string;
  resolve(result: unknown): void;
  reject(error: Error): void;
}

interface Slot {
  worker: Worker;
  task: Task | null;
  timer: NodeJS.Timeout | null;
}

/**
 * Starts a picture worker: the compiled JavaScript next to this module, or, when this module runs from
 * TypeScript source (tests run through tsx), the source with tsx's loader registered in the worker
 * first, since a worker thread does not inherit the loader hooks of its parent.
 */
function startWorker(): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./picture-worker.js', import.meta.url));
  const source = new URL('./picture-worker.ts', import.meta.url).href;
  return new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(source)}); })`, { eval: true });
}

export class PicturePool {
  readonly options: PicturePoolOptions;
  private readonly slots: Slot[] = [];
  private readonly waiting: Task[] = [];
  private readonly jobsOf = new Map<string, number>();
  private nextId = 1;
  private closed = false;

  constructor(options: Partial<PicturePoolOptions> = {}) {
    this.options = { ...DEFAULT_PICTURE_POOL, ...options };
    for (const key of ['workers', 'perClient'] as const) {
      if (!Number.isInteger(this.options[key]) || this.options[key] < 1) throw new RangeError(`pictures.${key} must be a positive integer, got ${this.options[key]}`);
    }
    if (!Number.isInteger(this.options.queue) || this.options.queue < 0) throw new RangeError(`pictures.queue must be an integer ≥ 0, got ${this.options.queue}`);
    if (!(this.options.timeoutSeconds > 0)) throw new RangeError(`pictures.timeoutSeconds must be positive, got ${this.options.timeoutSeconds}`);
  }

  /** Jobs running and waiting. */
  get load(): { running: number; waiting: number } {
    return { running: this.slots.filter((slot) => slot.task).length, waiting: this.waiting.length };
  }

  /**
   * Runs a job in a worker for `client` (the key it is counted under). Refuses at once, instead of
   * queueing, when the client already has its share of jobs (429) or the queue is full (503).
   */
  run<T>(job: PictureJob, client: string): Promise<T> {
    if (this.closed) return Promise.reject(new HttpError(503, 'the server is shutting down'));
    const { perClient, queue } = this.options;
    const mine = this.jobsOf.get(client) ?? 0;
    if (mine >= perClient) {
      return Promise.reject(new HttpError(429, `${client} already has ${mine} picture${mine === 1 ? '' : 's'} being decoded, the most one client may have at once: send the next when an answer arrives`, 1));
    }
    const idle = this.idleSlot();
    if (!idle && this.waiting.length >= queue) {
      const { running, waiting } = this.load;
      return Promise.reject(new HttpError(503, `the server is busy decoding pictures (${running} running, ${waiting} waiting, the most it queues): try again in a moment`, 1));
    }
    this.jobsOf.set(client, mine + 1);
    return new Promise<T>((resolve, reject) => {
      const task: Task = { id: this.nextId++, job, client, resolve: resolve as (result: unknown) => void, reject };
      if (idle) this.assign(idle, task);
      else this.waiting.push(task);
    });
  }

  /** Ends the workers; jobs still waiting or running are refused with 503. */
  async close(): Promise<void> {
    this.closed = true;
    const closing = () => new HttpError(503, 'the server is shutting down');
    for (const task of this.waiting.splice(0)) this.settle(task, closing());
    const slots = this.slots.splice(0);
    for (const slot of slots) {
      const task = this.detach(slot);
      if (task) this.settle(task, closing());
    }
    await Promise.all(slots.map((slot) => slot.worker.terminate()));
  }

  /** A worker with nothing to do, started when fewer than `workers` are running; null when all are busy. */
  private idleSlot(): Slot | null {
    const idle = this.slots.find((slot) => slot.task === null);
    if (idle) return idle;
    if (this.slots.length >= this.options.workers) return null;
    const slot: Slot = { worker: startWorker(), task: null, timer: null };
    // idle workers do not keep the process alive; a running job's request does
    slot.worker.unref();
    slot.worker.on('message', (reply: WorkerReply) => this.answered(slot, reply));
    slot.worker.on('error', (error) => this.lost(slot, new HttpError(500, `the picture worker failed (${error.message}); the picture was not read`)));
    slot.worker.on('exit', (code) => this.lost(slot, new HttpError(500, `the picture worker stopped (exit code ${code}); the picture was not read`)));
    this.slots.push(slot);
    return slot;
  }

  private assign(slot: Slot, task: Task): void {
    slot.task = task;
    slot.worker.postMessage({ id: task.id, job: task.job } satisfies WorkerRequest);
  }

  private answered(slot: Slot, reply: WorkerReply): void {
    if (slot.task?.id !== reply.id) return;
    if ('started' in reply) {
      // timed from here, so a worker's start-up does not count against the picture
      const seconds = this.options.timeoutSeconds;
      slot.timer = setTimeout(() => {
        // the worker is stopped mid-job and replaced by a fresh one when next needed
        this.lost(slot, new HttpError(422, `the picture took longer than ${seconds} s to decode, the most one may take: send a smaller or simpler one (a PNG or a baseline JPEG)`));
        void slot.worker.terminate();
      }, seconds * 1000);
      slot.timer.unref();
      return;
    }
    const task = this.detach(slot)!;
    if (reply.ok) this.settle(task, null, reply.result);
    else this.settle(task, new HttpError(reply.status, reply.message));
    this.next();
  }

  /** A worker that failed, stopped or ran out of time: taken out of the pool, its job (if any) refused with `error`. */
  private lost(slot: Slot, error: Error): void {
    const index = this.slots.indexOf(slot);
    if (index < 0) return;
    this.slots.splice(index, 1);
    const task = this.detach(slot);
    if (task) this.settle(task, error);
    this.next();
  }

  /** The slot's job, taken off it (its timer stopped). */
  private detach(slot: Slot): Task | null {
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = null;
    const task = slot.task;
    slot.task = null;
    return task;
  }

  private next(): void {
    while (this.waiting.length > 0 && !this.closed) {
      const slot = this.idleSlot();
      if (!slot) return;
      this.assign(slot, this.waiting.shift()!);
    }
  }

  private settle(task: Task, error: Error | null, result?: unknown): void {
    const count = (this.jobsOf.get(task.client) ?? 1) - 1;
    if (count > 0) this.jobsOf.set(task.client, count);
    else this.jobsOf.delete(task.client);
    if (error) task.reject(error);
    else task.resolve(result);
  }
}
