// The package works outside this repository: `npm pack` of the project, installed into an empty
// folder, runs the README's commands there (train, serve with its web app, a shipped study spec), is
// imported by an ES module and by TypeScript (its types resolve), and `digitlab/browser` is bundled by
// a fresh Vite build.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

const ROOT = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'digitlab-package-'));
const app = join(dir, 'app');
const BIN = join(app, 'node_modules', '.bin', 'digitlab');

function run(command: string, args: string[], cwd: string, timeout = 240_000): SpawnSyncReturns<string> {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', timeout, env: { ...process.env, NO_COLOR: '1' } });
  if (result.error) throw result.error;
  return result;
}
const ok = (result: SpawnSyncReturns<string>, what: string) => assert.equal(result.status, 0, `${what}:\n${result.stdout}\n${result.stderr}`);

before(() => {
  // the tarball of what is built (npm test builds first); --ignore-scripts: no second build
  const packed = run('npm', ['pack', '--ignore-scripts', '--pack-destination', dir, '--json'], ROOT);
  ok(packed, 'npm pack');
  const tarball = join(dir, (JSON.parse(packed.stdout) as Array<{ filename: string }>)[0].filename);
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'digitlab-user', private: true, type: 'module' }));
  ok(run('npm', ['install', tarball, '--no-audit', '--no-fund', '--prefer-offline'], app, 600_000), 'npm install of the tarball');
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('the installed package', () => {
  it('trains from the command line with the bundled MNIST', () => {
    const result = run(BIN, ['train', '--hidden', '32', '--epochs', '1', '--out', 'runs/m32'], app);
    ok(result, 'digitlab train');
    assert.match(result.stdout, /test accuracy 9\d\.\d\d%/);
    assert.ok(existsSync(join(app, 'runs', 'm32', 'model.safetensors')));
  });

  it('serves its web app (the page, not a 503)', async () => {
    const server = spawn(BIN, ['serve', '--port', '0', '--model', 'runs/m32'], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let text = '';
        const timer = setTimeout(() => reject(new Error(`no address from digitlab serve: ${text}`)), 60_000);
        for (const stream of [server.stdout, server.stderr]) {
          stream.on('data', (chunk: Buffer) => {
            text += chunk.toString();
            const found = /http:\/\/127\.0\.0\.1:\d+/.exec(text);
            if (found) {
              clearTimeout(timer);
              resolve(found[0]);
            }
          });
        }
        server.on('exit', (code) => reject(new Error(`digitlab serve exited (${code}): ${text}`)));
      });
      const page = await fetch(url + '/');
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<title>digitlab/);
      const kernels = await fetch(url + '/api/kernels/kernels-simd.wasm');
      assert.equal(kernels.status, 200);
    } finally {
      server.kill('SIGTERM');
    }
  });

  it('runs a shipped study spec by name', () => {
    const result = run(BIN, ['study', 'run', 'studies/cnn-quick.yaml', '--out', 'studies/cnn-quick'], app, 600_000);
    ok(result, 'digitlab study run');
    assert.match(result.stderr, /studies\/cnn-quick\.yaml is not here: using the spec digitlab ships/);
    assert.match(result.stdout, /report: .*report\.html/);
    assert.ok(readdirSync(join(app, 'studies', 'cnn-quick')).includes('report.html'));
  });

  it('is imported by an ES module and by TypeScript, types included', () => {
    writeFileSync(join(app, 'use.mjs'), "import { VERSION, exportOnnx, PRESETS } from 'digitlab';\nconsole.log(VERSION, typeof exportOnnx, Object.keys(PRESETS).join(','));\n");
    const esm = run(process.execPath, ['use.mjs'], app);
    ok(esm, 'node use.mjs');
    assert.match(esm.stdout, /^0\.\d+\.\d+ function lenet5,cnn/);
    writeFileSync(join(app, 'use.ts'), [
      "import { VERSION, exportOnnx, type ModelConfig } from 'digitlab';",
      "import { parseLayers, type Kernels } from 'digitlab/browser';",
      'const version: string = VERSION;',
      'const layers = parseLayers("conv 6 5x5, relu, maxpool 2");',
      'export function write(config: ModelConfig, kernels: Kernels | null): Uint8Array { return exportOnnx(config, []); }',
      'export const count: number = layers.length + version.length;',
      '',
    ].join('\n'));
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, skipLibCheck: true, types: [] },
      files: ['use.ts'],
    }));
    ok(run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], app), 'tsc on use.ts');
    // a type error is still one: the check is not vacuous
    writeFileSync(join(app, 'use.ts'), "import { VERSION } from 'digitlab';\nexport const wrong: number = VERSION;\n");
    const wrong = run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], app);
    assert.notEqual(wrong.status, 0);
    assert.match(wrong.stdout, /Type 'string' is not assignable to type 'number'/);
  });

  it("bundles digitlab/browser in a fresh Vite build", () => {
    const page = join(app, 'page');
    mkdirSync(page, { recursive: true });
    writeFileSync(join(page, 'index.html'), '<!doctype html><title>uses digitlab</title><script type="module" src="./main.js"></script>\n');
    writeFileSync(join(page, 'main.js'), [
      "import { loadBrowserKernels, parseLayers, Sequential, buildModelSpec } from 'digitlab/browser';",
      "const kernels = await loadBrowserKernels('/');",
      "const model = Sequential.create(kernels, buildModelSpec([1, 28, 28], parseLayers('conv 6 5x5, relu, maxpool 2'), 10), 1);",
      'document.title = String(model.parameterCount);',
      '',
    ].join('\n'));
    const built = run(process.execPath, [join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', page, '--logLevel', 'warn'], app);
    ok(built, 'vite build');
    const assets = readdirSync(join(page, 'dist', 'assets'));
    assert.ok(assets.some((name) => name.endsWith('.js')), assets.join(', '));
  });
});
