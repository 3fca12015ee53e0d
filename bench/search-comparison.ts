/**
 * TPE against random search on one space and one budget: for each search seed, a study of each
 * search (`digitlab study run`, one worker, so each TPE draw learns from every trial before it), and
 * the best validation accuracy found after 10, 20 and 30 trials. Random and TPE of one seed run side
 * by side (two processes on two cores); their first ten draws are the same designs.
 *
 *   node --import tsx bench/search-comparison.ts [--seeds 0,1,2] [--trials 30] [--out DIR]
 *
 * Writes DIR/comparison.md (default bench/results/search-comparison.md) and prints it.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openStudy } from '../src/study/results.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { seeds: { type: 'string', default: '0,1,2' }, trials: { type: 'string', default: '30' }, out: { type: 'string' } } });
const seeds = values.seeds.split(',').map(Number);
const trials = Number(values.trials);
const log = (line: string) => process.stderr.write(`${line}\n`);

/** The space: MLPs of 1–3 equal layers, any width from 16 to 1,024, four optimizers, three activations, a learning rate over four decades. */
const spec = (search: string, seed: number) => `name: ${search}-${seed}
data: mnist
validation: 10000
train_subset: 10000
epochs: 2
batch_size: 64
seeds: [1]
search: ${search}
search_seed: ${seed}
budget: { trials: ${trials} }
space:
  - layers: { int: [1, 3] }
    nodes: { int: [16, 1024], log: true }
    activation: [relu, tanh, sigmoid]
    optimizer: [sgd, adam, rmsprop, adagrad]
    lr: { log: [0.00003, 0.3] }
`;

function study(specPath: string, out: string): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, 'bin', 'digitlab.js'), 'study', 'run', specPath, '--out', out, '--workers', '1'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('exit', (code) => {
      if (code !== 0) log(stderr.slice(-2000));
      resolve(code);
    });
  });
}

const work = mkdtempSync(join(tmpdir(), 'digitlab-search-'));
const rows: Array<{ search: string; seed: number; best: number[]; bestDesign: string; test: number | null; seconds: number }> = [];
try {
  log(`CPU: ${cpus()[0]?.model ?? 'unknown'}, ${cpus().length} cores; ${trials} trials per study, seeds ${seeds.join(', ')}`);
  for (const seed of seeds) {
    const started = performance.now();
    const runs = ['random', 'tpe'].map((search) => {
      const specPath = join(work, `${search}-${seed}.yaml`);
      writeFileSync(specPath, spec(search, seed));
      return { search, out: join(work, `${search}-${seed}`), done: study(specPath, join(work, `${search}-${seed}`)) };
    });
    for (const run of runs) {
      if ((await run.done) !== 0) throw new Error(`the ${run.search} study of seed ${seed} failed`);
      const results = await openStudy(run.out);
      const scores = results.trials.map((t) => t.bestValAccuracy ?? 0);
      const bestAfter = (n: number) => Math.max(...scores.slice(0, n));
      const best = results.trials.reduce((a, b) => ((b.bestValAccuracy ?? 0) > (a.bestValAccuracy ?? 0) ? b : a));
      const design = `${best.hidden.join('-') || 'none'} ${best.activation} ${best.optimizer} lr ${Number(best.lr.toPrecision(3))}`;
      rows.push({ search: run.search, seed, best: [10, 20, 30].filter((n) => n <= trials).map(bestAfter), bestDesign: design, test: best.testAccuracy, seconds: (performance.now() - started) / 1000 });
      log(`${run.search} seed ${seed}: best validation accuracy ${rows[rows.length - 1].best.map((b) => (b * 100).toFixed(2)).join(' / ')}% after 10/20/30 trials (${design})`);
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

const percent = (v: number) => `${(v * 100).toFixed(2)}%`;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const md = [
  `TPE and random search, ${trials} trials each, search seeds ${seeds.join(', ')} (${cpus()[0]?.model ?? 'unknown'}, ${cpus().length} cores):`,
  '',
  '| search | seed | best val acc after 10 | after 20 | after 30 | best design | its test acc |',
  '|---|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.search} | ${r.seed} | ${r.best.map(percent).join(' | ')} | ${r.bestDesign} | ${r.test === null ? '–' : percent(r.test)} |`),
  ...['random', 'tpe'].map((search) => {
    const mine = rows.filter((r) => r.search === search);
    return `| ${search}, mean | | ${[0, 1, 2].filter((i) => i < mine[0].best.length).map((i) => percent(mean(mine.map((r) => r.best[i])))).join(' | ')} | | |`;
  }),
];
const out = values.out ?? join(root, 'bench', 'results');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'search-comparison.md'), `${md.join('\n')}\n`);
console.log(md.join('\n'));
