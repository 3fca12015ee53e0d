import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Command, Option } from 'commander';
import { packageFile } from '../io/package-files.js';
import { openStudy, type StudyResults } from '../study/results.js';
import { formatTextTable, hasNetworks, kindTable, trialTable, writeReport } from '../study/report.js';
import { LEASE_SECONDS, StudyRunner, type StudyEvents, type TrialProgress } from '../study/runner.js';
import { parseStudySpec, StudySpecError, type StudySpec } from '../study/spec.js';
import { STUDY_DATABASE } from '../study/storage-sqlite.js';
import { listStudyNames, openStudyStorage } from '../study/open-storage.js';
import { isDatabaseUrl, redactUrl } from '../study/storage.js';
import { TrainingAbortedError } from '../train/trainer.js';
import { createOutput, parseNumber, UsageError, type Output } from './output.js';

/** The study stopped on Ctrl-C: exit code 130, and the same command continues it. */
class StudyStoppedError extends TrainingAbortedError {
  constructor(message: string) {
    super(0);
    this.message = message;
  }
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

interface Running extends TrialProgress {
  epoch: number;
  fraction: number;
  valAccuracy: number | null;
}

/**
 * Progress of a study on stderr: one line per running trial and an overall line with the ETA. A
 * terminal redraws the block in place; logs and CI get a line at each epoch's end.
 *
 * The ETA assumes an epoch costs time in proportion to the network's multiply-adds per image (an
 * MLP's are about its parameters; a convolution reuses each weight at every position), with the rate
 * measured from the epochs finished so far, shared over the workers.
 */
class StudyProgress {
  private readonly tty = Boolean(process.stderr.isTTY);
  private readonly running = new Map<number, Running>();
  private readonly pending = new Map<number, TrialProgress>();
  private total = 0;
  private finished = 0;
  /** Trials a sampled search has yet to draw. */
  private toDraw = 0;
  private workers = 1;
  private secondsMeasured = 0;
  private costMeasured = 0;
  private drawnLines = 0;
  private lastDraw = 0;

  constructor(private readonly out: Output) {}

  attach(runner: StudyRunner): void {
    runner.on('start', (e) => this.onStart(e));
    runner.on('trialStart', (e) => {
      // a trial the search drew just now was not among those known at the start
      if (!this.pending.delete(e.number) && this.toDraw > 0) this.toDraw--;
      this.running.set(e.number, { ...e, epoch: e.resumedFrom ?? 0, fraction: 0, valAccuracy: null });
      if (e.resumedFrom) this.message(`${this.tag(e.number)} ${e.label}: continuing after epoch ${e.resumedFrom} from its checkpoint`);
      this.draw();
    });
    runner.on('trialBatch', (e) => {
      const trial = this.running.get(e.number);
      if (!trial) return;
      trial.epoch = e.epoch - 1;
      trial.fraction = e.batch / e.batches;
      this.draw();
    });
    runner.on('trialEpoch', ({ number, record }) => {
      const trial = this.running.get(number);
      if (!trial) return;
      trial.epoch = record.epoch;
      trial.fraction = 0;
      trial.valAccuracy = record.val_accuracy;
      this.secondsMeasured += record.seconds;
      this.costMeasured += trial.multiplyAdds;
      if (this.tty) this.draw(true);
      else {
        this.out.info(
          `${this.tag(number)} ${trial.label}: epoch ${record.epoch}/${trial.epochs}, val loss ${(record.val_loss ?? NaN).toFixed(4)}, ` +
            `val accuracy ${((record.val_accuracy ?? NaN) * 100).toFixed(2)}%, ${record.seconds.toFixed(1)} s | ${this.overall()}`,
        );
      }
    });
    runner.on('trialEnd', (e) => {
      const trial = this.running.get(e.number);
      this.running.delete(e.number);
      this.finished++;
      const what =
        e.status === 'done' ? `done, test accuracy ${((e.testAccuracy ?? 0) * 100).toFixed(2)}%` : e.reason ? `${e.status}: ${e.reason}` : e.status;
      this.message(`${this.tag(e.number)} ${trial?.label ?? ''}: ${what}`);
    });
    runner.on('done', () => this.clear());
  }

  private onStart(e: StudyEvents['start']): void {
    this.total = e.trials;
    this.finished = e.finished;
    this.toDraw = e.toDraw;
    this.workers = e.workers;
    for (const trial of e.toRun) this.pending.set(trial.number, trial);
    const first = e.resumed ? `continuing the study: ${e.finished} of ${e.trials} trials already finished` : `${e.trials} trials`;
    for (const warning of e.warnings) this.out.info(`warning: ${warning}`);
    this.out.info(`${first}; ${e.toRun.length} to run on ${e.workers} worker${e.workers === 1 ? '' : 's'}, ${e.trainImages.toLocaleString('en-US')} training images each`);
  }

  private tag(number: number): string {
    return `[${number}/${this.total}]`;
  }

  private eta(): string {
    if (this.costMeasured === 0) return 'ETA estimating';
    let remaining = 0;
    for (const t of this.pending.values()) remaining += t.multiplyAdds * t.epochs;
    for (const t of this.running.values()) remaining += t.multiplyAdds * Math.max(0, t.epochs - t.epoch - t.fraction);
    // trials not drawn yet: as costly as the ones known, on average
    const known = [...this.pending.values(), ...this.running.values()];
    if (this.toDraw > 0 && known.length > 0) remaining += (this.toDraw * known.reduce((sum, t) => sum + t.multiplyAdds * t.epochs, 0)) / known.length;
    const lanes = Math.max(1, Math.min(this.workers, this.pending.size + this.running.size + this.toDraw));
    return `ETA ${duration((remaining * this.secondsMeasured) / this.costMeasured / lanes)}`;
  }

  private overall(): string {
    return `${this.finished}/${this.total} trials finished, ${this.running.size} running, ${this.eta()}`;
  }

  /** A line above the live block. */
  private message(line: string): void {
    this.clear();
    this.out.info(line);
    this.draw(true);
  }

  private clear(): void {
    if (this.tty && this.drawnLines > 0) process.stderr.write(`\x1b[${this.drawnLines}A\x1b[J`);
    this.drawnLines = 0;
  }

  private draw(force = false): void {
    if (!this.tty) return;
    const now = performance.now();
    if (!force && now - this.lastDraw < 200) return;
    this.lastDraw = now;
    const columns = process.stderr.columns || 100;
    const lines = [...this.running.values()].map((t) => {
      const done = (t.epoch + t.fraction) / t.epochs;
      const width = 20;
      const filled = Math.round(done * width);
      const accuracy = t.valAccuracy === null ? '' : `, val acc ${(t.valAccuracy * 100).toFixed(2)}%`;
      return `${this.tag(t.number)} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] epoch ${Math.min(t.epoch + 1, t.epochs)}/${t.epochs} ${t.label}${accuracy}`;
    });
    lines.push(this.overall());
    this.clear();
    process.stderr.write(lines.map((l) => l.slice(0, columns - 1)).join('\n') + '\n');
    this.drawnLines = lines.length;
  }
}

function printTable(results: StudyResults, out: Output): void {
  for (const line of formatTextTable(trialTable(results))) out.print(line);
}

function printSummary(results: StudyResults, out: Output): void {
  printTable(results, out);
  out.print('');
  if (hasNetworks(results) && results.designs.length > 0) {
    // Network designs by kind, with each one's whole layer list (the trial table names them only).
    out.print('CNN vs MLP:');
    for (const line of formatTextTable(kindTable(results))) out.print(`  ${line}`);
    out.print('');
  }
  for (const line of results.summary.recommendation) out.print(`- ${line}`);
}

function isStudyFolder(dir: string): boolean {
  return existsSync(join(dir, STUDY_DATABASE));
}

function studyResultJson(results: StudyResults, report?: { html: string; markdown: string }) {
  return { ...results, report: report ?? null };
}

export function studyCommand(): Command {
  const study = new Command('study').description('run a study of many designs and compare them (run, ls, show, report)');

  study
    .command('run')
    .description('train every trial of a study spec (YAML or JSON) in parallel, then write its report; rerun to continue a stopped study')
    .argument('<spec>', 'the study spec, e.g. studies/seed.yaml (a name such as seed, quick or cnn-quick, or a path not found here, takes the spec digitlab ships)')
    .option('--out <dir>', 'study folder (default: studies/<name>); with a database --storage, this machine\'s trial folders and the report')
    .option('--storage <url>', 'record the study in a PostgreSQL database (postgres://user@host/db) that workers on other machines join (default: $DIGITLAB_STORAGE, else the --out folder)')
    .option('--workers <n>', 'trials trained at once (default: one per core)', parseNumber('--workers', 'positive-int'))
    .option('--prune', 'stop hopeless trials early (successive halving at the spec\'s rungs)')
    .option('--lease <seconds>', `how long a trial stays a silent worker's before another takes it over (default ${LEASE_SECONDS})`, parseNumber('--lease', 'positive'))
    .addOption(new Option('--backend <name>', 'compute kernels').choices(['auto', 'wasm', 'reference']).default('auto'))
    .option('--json', 'print the results as one JSON object')
    .action(async (given: string, opts) => {
      const out = createOutput(Boolean(opts.json));
      const specPath = findSpec(given, out);
      let text: string;
      try {
        text = readFileSync(specPath, 'utf8');
      } catch (error) {
        throw new StudySpecError(specPath, '', null, `cannot read the spec (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
      }
      const spec = parseStudySpec(text, specPath);
      const dir: string = opts.out ?? join('studies', spec.name);
      const storage: string = opts.storage ?? process.env.DIGITLAB_STORAGE ?? dir;
      if (!isDatabaseUrl(storage) && opts.out !== undefined && opts.storage !== undefined && storage !== opts.out) {
        throw new UsageError(`--storage ${storage} and --out ${opts.out} name two folders: a study folder is its storage, so give one of them`);
      }
      await runStudy(spec, text, isDatabaseUrl(storage) ? dir : storage, storage, opts, out);
    });

  study
    .command('worker')
    .description('join a study started by `study run` (in a PostgreSQL database from any machine, or in a folder of this one) and train its trials until none is left')
    .option('--storage <url>', 'the study\'s database (postgres://user@host/db) or folder (default: $DIGITLAB_STORAGE)')
    .option('--study <name>', 'the study to join (needed when the database holds several; refused if a folder holds another)')
    .option('--out <dir>', 'with a database: this machine\'s trial folders (default: studies/<name>)')
    .option('--workers <n>', 'trials trained at once (default: one per core)', parseNumber('--workers', 'positive-int'))
    .option('--prune', 'stop hopeless trials early (successive halving at the spec\'s rungs)')
    .option('--lease <seconds>', `how long a trial stays a silent worker's before another takes it over (default ${LEASE_SECONDS})`, parseNumber('--lease', 'positive'))
    .addOption(new Option('--backend <name>', 'compute kernels').choices(['auto', 'wasm', 'reference']).default('auto'))
    .option('--json', 'print the results as one JSON object')
    .action(async (opts) => {
      const out = createOutput(Boolean(opts.json));
      const storage: string | undefined = opts.storage ?? process.env.DIGITLAB_STORAGE;
      if (storage === undefined) throw new UsageError('give the study\'s --storage: its database (postgres://user@host/db) or its folder');
      const shown = isDatabaseUrl(storage) ? redactUrl(storage) : storage;
      if (!isDatabaseUrl(storage) && !isStudyFolder(storage)) {
        throw new UsageError(`--storage ${storage} is not a study folder (no ${STUDY_DATABASE}): start the study there with \`digitlab study run SPEC --out ${storage}\``);
      }
      const names = await listStudyNames(storage);
      const start = isDatabaseUrl(storage) ? `--storage ${shown}` : `--out ${storage}`;
      if (names.length === 0) throw new UsageError(`--storage ${shown} holds no study yet: start it with \`digitlab study run SPEC ${start}\``);
      let name: string;
      if (opts.study !== undefined) {
        if (!names.includes(opts.study)) throw new UsageError(`--storage ${shown} holds no study '${opts.study}' (it holds ${names.map((n) => `'${n}'`).join(', ')})`);
        name = opts.study;
      } else if (names.length === 1) name = names[0];
      else throw new UsageError(`--storage ${shown} holds ${names.length} studies (${names.map((n) => `'${n}'`).join(', ')}): choose one with --study NAME`);
      const store = await openStudyStorage(storage, { readonly: true, study: name });
      const stored = await store.study();
      await store.close();
      if (!stored) throw new UsageError(`--storage ${shown} holds no study '${name}'`);
      const dir = isDatabaseUrl(storage) ? (opts.out ?? join('studies', name)) : storage;
      await runStudy(parseStudySpec(stored.spec_text, `${shown} study '${name}'`), stored.spec_text, dir, storage, opts, out);
    });

  study
    .command('ls')
    .description('list the studies in a folder, or in a PostgreSQL database')
    .argument('[where]', 'folder holding study folders, or a database URL (postgres://user@host/db)', process.env.DIGITLAB_STORAGE ?? 'studies')
    .option('--json', 'print one JSON array')
    .action(async (dir: string, opts) => {
      const out = createOutput(Boolean(opts.json));
      const database = isDatabaseUrl(dir);
      if (!database && (!existsSync(dir) || !statSync(dir).isDirectory())) throw new UsageError(`${dir} is not a folder`);
      const folders = database ? await listStudyNames(dir) : isStudyFolder(dir) ? [dir] : readdirSync(dir).map((name) => join(dir, name)).filter(isStudyFolder).sort();
      const listed = [];
      for (const folder of folders) {
        const results = database ? await openStudy(dir, folder) : await openStudy(folder);
        const { counts, best } = results.summary;
        listed.push({
          path: database ? results.path : folder,
          name: results.name,
          state: results.state,
          trials: results.summary.trials,
          finished: counts.done + counts.pruned + counts.diverged,
          best: best ? { design: best.label, val_accuracy: best.bestValAccuracy.mean, test_accuracy: best.testAccuracy.mean } : null,
          updated: results.updatedAt,
        });
      }
      if (listed.length === 0) out.print(`no studies in ${database ? redactUrl(dir) : dir}`);
      else {
        const table = {
          header: ['study', 'state', 'trials', 'best design', 'test acc', 'updated'],
          rows: listed.map((s) => [database ? s.name : s.path, s.state, `${s.finished}/${s.trials}`, s.best?.design ?? '–', s.best ? `${(s.best.test_accuracy * 100).toFixed(2)}%` : '–', s.updated.replace('T', ' ').slice(0, 19)]),
        };
        for (const line of formatTextTable(table)) out.print(line);
      }
      out.result(listed);
    });

  study
    .command('show')
    .description('print a study\'s table of trials and its recommendation')
    .argument('<study>', 'the study folder, or with a database --storage the study\'s name')
    .option('--storage <url>', 'the PostgreSQL database holding the study (default: $DIGITLAB_STORAGE)')
    .option('--json', 'print the results (trials with their epochs, designs, summary) as one JSON object')
    .action(async (dir: string, opts) => {
      const out = createOutput(Boolean(opts.json));
      const results = await openNamedStudy(dir, opts.storage);
      out.print(`study ${results.name} (${results.state}): ${results.path}`);
      printSummary(results, out);
      out.result(studyResultJson(results));
    });

  study
    .command('report')
    .description('write a study\'s report: report.html (charts) and report.md')
    .argument('<study>', 'the study folder, or with a database --storage the study\'s name')
    .option('--storage <url>', 'the PostgreSQL database holding the study (default: $DIGITLAB_STORAGE)')
    .option('--out <dir>', 'where to write the report (default: the study folder; for a study in a database, studies/<name>)')
    .option('--json', 'print the report\'s paths as JSON')
    .action(async (dir: string, opts) => {
      const out = createOutput(Boolean(opts.json));
      const results = await openNamedStudy(dir, opts.storage);
      const report = await writeReport(results, opts.out ?? (isStudyFolder(dir) ? dir : join('studies', results.name)));
      out.print(`report: ${report.html} (and ${basename(report.markdown)})`);
      out.result(report);
    });

  return study;
}

/**
 * The spec file to read: `given` when it exists, else the spec of that name digitlab ships in its
 * package's studies/ folder (`quick`, `studies/quick.yaml` and `quick.yaml` all find it), saying so.
 */
function findSpec(given: string, out: Output): string {
  if (existsSync(given)) return given;
  const name = basename(given).replace(/\.ya?ml$/, '');
  const shipped = /^[\w-]+$/.test(name) ? packageFile('studies', `${name}.yaml`) : null;
  if (shipped === null) return given;
  out.info(`${given} is not here: using the spec digitlab ships, ${shipped}`);
  return shipped;
}

/**
 * A study for show and report: a study folder, or the study of that name in the database of
 * `--storage` or $DIGITLAB_STORAGE.
 */
async function openNamedStudy(given: string, storage: string | undefined): Promise<StudyResults> {
  if (storage !== undefined && !isDatabaseUrl(storage)) throw new UsageError(`--storage takes a database URL (postgres://user@host/db); a study folder is given as the argument: ${storage}`);
  const database = storage ?? process.env.DIGITLAB_STORAGE;
  if (database !== undefined && isDatabaseUrl(database) && !isStudyFolder(given)) return openStudy(database, given);
  return openStudy(given);
}

/**
 * Trains a study's trials (with any other process working on it), then prints and reports it: `dir`
 * is this machine's folder for it, `storage` where it is recorded (the same folder, or a database).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function runStudy(spec: StudySpec, text: string, dir: string, storage: string, opts: any, out: Output): Promise<void> {
  const controller = new AbortController();
  const runner = new StudyRunner({
    spec, specText: text, out: dir, storage, workers: opts.workers, prune: Boolean(opts.prune), backend: opts.backend, signal: controller.signal, leaseSeconds: opts.lease,
  });
  new StudyProgress(out).attach(runner);
  let interrupts = 0;
  const stop = () => {
    // A second Ctrl-C ends the process at once; the checkpoints of the first still hold.
    if (++interrupts > 1) process.exit(130);
    out.info('stopping: the running trials keep their checkpoints (Ctrl-C again to quit at once)');
    controller.abort();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  let stopped: boolean;
  try {
    ({ stopped } = await runner.run());
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  const results = await openStudy(storage, spec.name);
  if (stopped) {
    const left = results.trials.filter((t) => !['done', 'pruned', 'diverged'].includes(t.status)).length;
    throw new StudyStoppedError(`study stopped with ${left} trial${left === 1 ? '' : 's'} left; run the same command again to continue`);
  }
  const report = await writeReport(results, dir);
  printSummary(results, out);
  out.print('');
  out.print(`report: ${report.html} (and ${basename(report.markdown)})`);
  out.result(studyResultJson(results, report));
}
