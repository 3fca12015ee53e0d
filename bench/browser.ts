// Training in a browser tab against training in Node, and against TensorFlow.js in the same browser:
// samples/s of 784-800-10 and LeNet-5 at batch 128, digitlab's TrainingRun in a worker of headless
// Chromium (bench/browser/, built here with Vite and served with the isolation headers) and the same
// harness in Node on the same machine, in alternating rounds, each figure its best round. TensorFlow.js
// trains the same networks with its wasm backend (threads and SIMD as the page allows) and its cpu
// backend, where it can. Writes bench/results/browser.json and browser.md; exits 1 when the tab is
// below 0.8× Node.
//
//   npm run bench:browser [-- --rounds N] [--json]
import { spawnSync } from 'node:child_process';
import { readFileSync, mkdtempSync, rmSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { createKernels } from '../src/core/index.js';
import { sliceDataset } from '../src/data/dataset.js';
import { loadData } from '../src/data/source.js';
import { buildDataFiles } from '../src/serve/data-files.js';
import { launchChromium, waitUntil } from '../test/browser/chromium.js';
import { trainingSpeed } from './browser/harness.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const roundsArg = argv.indexOf('--rounds');
const rounds = roundsArg >= 0 ? Number(argv[roundsArg + 1]) : 2;
const json = argv.includes('--json');
const SECONDS = 3;
const IMAGES = 50_000;
const log = (line: string) => process.stderr.write(`${line}\n`);

const mime: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json', '.gz': 'application/gzip', '.css': 'text/css' };

async function main(): Promise<void> {
  const out = mkdtempSync(join(tmpdir(), 'digitlab-bench-browser-'));
  log('building the bench page (Vite)…');
  await build({
    root: join(root, 'bench', 'browser'), base: './', logLevel: 'warn', configFile: false,
    build: {
      outDir: out, emptyOutDir: true, target: 'es2022',
      // TensorFlow.js's threaded wasm backend starts its threads from its own factory's source text, which minified names break
      minify: false,
      // Node modules reached only on Node (dynamic imports) and TensorFlow.js's Node platform code: never loaded here
      rolldownOptions: { onLog: (level, entry, handler) => (/externalized for browser|INEFFECTIVE_DYNAMIC_IMPORT/.test(`${entry.code} ${entry.message}`) ? undefined : handler(level, entry)) },
    },
    worker: { format: 'es' },
  });
  const data = loadData('mnist');
  const { manifest, files } = await buildDataFiles(data);
  const tfjsDir = join(root, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist');
  const server = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname);
    let body: Uint8Array | string | null = null;
    if (path === '/data/index.json') body = JSON.stringify(manifest);
    else if (path.startsWith('/data/')) body = files.get(path.slice(6)) ?? null;
    else {
      const file = path.startsWith('/kernels/') ? join(root, 'build', path.slice(9))
        : path.startsWith('/tfjs/') ? join(tfjsDir, path.slice(6))
          : join(out, normalize(path === '/' ? '/index.html' : path));
      if (existsSync(file) && !file.endsWith('/')) body = readFileSync(file);
    }
    response.writeHead(body === null ? 404 : 200, {
      'content-type': mime[extname(path)] ?? 'application/octet-stream',
      'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp', 'cross-origin-resource-policy': 'same-origin',
    });
    response.end(body ?? 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  const base = `http://127.0.0.1:${address.port}`;
  const browser = await launchChromium();
  const version = browser.context.browser()?.version() ?? 'Chromium';

  async function inTab(job: Record<string, string | number>): Promise<{ samples_per_second?: number; backend?: string; error?: string }> {
    const query = new URLSearchParams(Object.entries({ seconds: SECONDS, images: IMAGES, ...job }).map(([k, v]): [string, string] => [k, String(v)]));
    await browser.page.goto(`${base}/index.html?${query}`);
    await waitUntil(async () => ((await browser.page.textContent('#result')) ?? '') !== '', `${JSON.stringify(job)} in the tab`, 600_000);
    return JSON.parse((await browser.page.textContent('#result')) as string);
  }

  const train = { ...data, train: sliceDataset(data.train, 0, IMAGES) };
  async function inNode(network: string, batch: number, threads: number): Promise<number> {
    const kernels = await createKernels({ backend: 'wasm', threads });
    try {
      return (await trainingSpeed(kernels, train, network, batch, SECONDS)).samples_per_second;
    } finally {
      await kernels.close();
    }
  }

  const configs = [['784-800-10', 128], ['lenet5', 128]] as const;
  const threadCounts = [1, Math.min(2, cpus().length)].filter((t, i, all) => all.indexOf(t) === i);
  const best = new Map<string, number>();
  const keep = (key: string, value: number) => best.set(key, Math.max(best.get(key) ?? 0, value));
  const roundsKept: Array<Record<string, number>> = [];
  for (let round = 1; round <= rounds; round++) {
    const figures: Record<string, number> = {};
    for (const [network, batch] of configs) {
      for (const threads of threadCounts) {
        const node = await inNode(network, batch, threads);
        const tab = await inTab({ library: 'digitlab', network, batch, threads });
        if (tab.error || tab.samples_per_second === undefined) throw new Error(`digitlab in the tab, ${network}: ${tab.error}`);
        figures[`node ${network} ${threads}`] = node;
        figures[`tab ${network} ${threads}`] = tab.samples_per_second;
        keep(`node ${network} ${threads}`, node);
        keep(`tab ${network} ${threads}`, tab.samples_per_second);
        log(`round ${round}: ${network} b${batch}, ${threads} thread(s): Node ${node.toFixed(0)}, tab ${tab.samples_per_second.toFixed(0)} samples/s (${(tab.samples_per_second / node).toFixed(2)}×)`);
      }
    }
    roundsKept.push(figures);
  }

  // TensorFlow.js in the same browser, once: its figures are far from digitlab's, well beyond the drift
  const tfjs: Array<{ library: string; network: string; threads: number; samples_per_second: number | null; note: string }> = [];
  for (const [network, batch] of configs) {
    for (const library of ['tfjs-wasm', 'tfjs-cpu'] as const) {
      const threads = library === 'tfjs-wasm' ? threadCounts[threadCounts.length - 1] : 1;
      const result = await inTab({ library, network, batch, threads });
      tfjs.push({ library: result.backend ?? library, network: `${network} b${batch}`, threads, samples_per_second: result.samples_per_second ?? null, note: result.error ?? '' });
      log(`TensorFlow.js ${library}, ${network} b${batch}: ${result.samples_per_second?.toFixed(0) ?? `cannot train it: ${result.error}`}`);
    }
  }
  await browser.close();
  server.close();
  rmSync(out, { recursive: true, force: true });

  const cpu = spawnSync('lscpu', { encoding: 'utf8' }).stdout.match(/Model name:\s*(.+)/)?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown CPU';
  const rows = configs.flatMap(([network, batch]) => threadCounts.map((threads) => {
    const node = best.get(`node ${network} ${threads}`) as number;
    const tab = best.get(`tab ${network} ${threads}`) as number;
    return { config: `${network} b${batch}`, threads, node, tab, ratio: tab / node };
  }));
  const checks = rows.map((r) => ({ name: `${r.config}, ${r.threads} thread(s): the tab ≥ 0.8× Node`, pass: r.ratio >= 0.8, detail: `${r.ratio.toFixed(2)}×` }));
  const result = { cpu, browser: `Chromium ${version} (headless)`, node: process.version, rounds, seconds: SECONDS, rows, tfjs, rounds_kept: roundsKept, checks };
  const f0 = (v: number | null) => (v === null ? '–' : Math.round(v).toLocaleString('en-US'));
  const md = [
    `# Training in the browser (${new Date().toISOString().slice(0, 10)})`, '',
    `${cpu}, ${cpus().length} logical CPUs; Chromium ${version} headless; Node ${process.version}. Samples/s of a TrainingRun (Adam 1e-3, batches after 10 warm-up ones, ${SECONDS} s), best of ${rounds} alternating rounds.`, '',
    '| network | threads | Node | in the tab | tab / Node |', '|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.config} | ${r.threads} | ${f0(r.node)} | ${f0(r.tab)} | ${r.ratio.toFixed(2)}× |`), '',
    '| TensorFlow.js in the same browser | network | threads asked | samples/s | digitlab in the tab / it |', '|---|---|---|---|---|',
    ...tfjs.map((t) => {
      const ours = rows.find((r) => r.config === t.network && r.threads === t.threads)?.tab ?? null;
      return `| ${t.library} | ${t.network} | ${t.threads} | ${t.samples_per_second === null ? `cannot train it: ${t.note}` : f0(t.samples_per_second)} | ${ours && t.samples_per_second ? `${(ours / t.samples_per_second).toFixed(1)}×` : '–'} |`;
    }), '',
    '| check | measured | |', '|---|---|---|', ...checks.map((c) => `| ${c.name} | ${c.detail} | ${c.pass ? 'pass' : 'FAIL'} |`), '',
  ];
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  writeFileSync(join(root, 'bench', 'results', 'browser.json'), JSON.stringify(result, null, 2) + '\n');
  writeFileSync(join(root, 'bench', 'results', 'browser.md'), md.join('\n'));
  if (json) process.stdout.write(JSON.stringify(result) + '\n');
  else process.stdout.write(md.join('\n'));
  if (checks.some((c) => !c.pass)) process.exitCode = 1;
}

await main();
