/**
 * The layering of src/: each folder imports only the folders below it (see the README's layer
 * diagram), and no file imports itself through a chain of others.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';

const SRC = resolve(import.meta.dirname, '../../src');

/** What each folder of src/ may import, besides itself. The entries (index.ts, browser.ts) may import anything. */
const ALLOWED: Record<string, readonly string[]> = {
  core: [],
  io: ['core'],
  optim: ['core'],
  data: ['core', 'io'],
  nn: ['core', 'io'],
  train: ['core', 'data', 'io', 'nn', 'optim'],
  read: ['core', 'data', 'io', 'nn'],
  study: ['core', 'data', 'io', 'nn', 'optim', 'train'],
  serve: ['core', 'data', 'io', 'nn', 'optim', 'read', 'study', 'train'],
  cli: ['core', 'data', 'io', 'nn', 'optim', 'read', 'serve', 'study', 'train'],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** The project files a source file imports (static, re-exported and dynamic imports of relative paths). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const match of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'(\.[^']+)'|import\(\s*'(\.[^']+)'\s*\)/g)) {
    found.push(resolve(dirname(file), (match[1] ?? match[2]).replace(/\.js$/, '.ts')));
  }
  return found;
}

const folderOf = (file: string) => relative(SRC, file).split('/')[0].replace(/\.ts$/, '');

test('each folder of src/ imports only the folders below it', () => {
  const files = sourceFiles(SRC);
  assert.ok(files.length > 50, `found ${files.length} source files under ${SRC}`);
  const wrong: string[] = [];
  for (const file of files) {
    const from = folderOf(file);
    const allowed = ALLOWED[from];
    if (allowed === undefined) {
      assert.ok(['index', 'browser'].includes(from), `src/${from} is not in the layer table: add it to ALLOWED`);
      continue;
    }
    for (const target of importsOf(file)) {
      const to = folderOf(target);
      if (to !== from && !allowed.includes(to)) wrong.push(`${relative(SRC, file)} imports ${relative(SRC, target)} (${from} → ${to})`);
    }
  }
  assert.deepEqual(wrong, []);
});

test('no source file imports itself through other files', () => {
  const graph = new Map(sourceFiles(SRC).map((file) => [file, importsOf(file)]));
  const cycles: string[] = [];
  const done = new Set<string>();
  const path: string[] = [];
  const visit = (file: string): void => {
    if (path.includes(file)) {
      cycles.push([...path.slice(path.indexOf(file)), file].map((f) => relative(SRC, f)).join(' → '));
      return;
    }
    if (done.has(file)) return;
    path.push(file);
    for (const next of graph.get(file) ?? []) visit(next);
    path.pop();
    done.add(file);
  };
  for (const file of graph.keys()) visit(file);
  assert.deepEqual(cycles, []);
});

/** Bare module names (node:fs, fastify, …) a file imports statically, type-only imports left out. */
function packagesOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const match of text.matchAll(/(?:^|\n)\s*(import|export)\s(?!type\s)[^;]*?from\s+'([^.'][^']*)'/g)) found.push(match[2]);
  for (const match of text.matchAll(/(?:^|\n)\s*import\s+'([^.'][^']*)'/g)) found.push(match[1]);
  return found;
}

/** Every project file reachable from `entry` through static imports. */
function reachable(entry: string): string[] {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/(?:^|\n)\s*(?:import|export)\s(?!type\s)[^;]*?from\s+'(\.[^']+)'/g)) {
      visit(resolve(dirname(file), match[1].replace(/\.js$/, '.ts')));
    }
  };
  visit(entry);
  return [...seen];
}

/**
 * Packages made for browsers as much as for Node that digitlab/browser may import: onnx-proto (its
 * protobuf code runs on Uint8Array), for the ONNX file the page offers of a model trained in the tab
 * (test/browser/train-in-tab.test.ts downloads one and runs it).
 */
const BROWSER_PACKAGES = new Set(['onnx-proto']);

test('digitlab/browser (src/browser.ts) reaches no Node.js built-in and no server package', () => {
  const files = reachable(join(SRC, 'browser.ts'));
  assert.ok(files.some((f) => f.endsWith('nn/sequential.ts')), 'the entry reaches the networks');
  assert.ok(files.some((f) => f.endsWith('train/trainer.ts')), 'the entry reaches the trainer');
  const found = files.flatMap((file) => packagesOf(file).filter((name) => !BROWSER_PACKAGES.has(name)).map((name) => `${relative(SRC, file)} imports ${name}`));
  assert.deepEqual(found, [], 'a browser bundle of digitlab/browser would need these');
});

test('the web app imports the library only through digitlab/browser', () => {
  const web = resolve(import.meta.dirname, '../../web/src');
  const wrong = readdirSync(web).filter((n) => n.endsWith('.ts')).flatMap((name) => {
    const text = readFileSync(join(web, name), 'utf8');
    return [...text.matchAll(/from\s+'(\.\.\/\.\.\/src\/[^']+)'/g)].map((m) => m[1]).filter((p) => p !== '../../src/browser.js').map((p) => `${name}: ${p}`);
  });
  assert.deepEqual(wrong, []);
});
