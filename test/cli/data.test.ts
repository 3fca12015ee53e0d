import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadData } from '../../src/data/source.js';
import { writeMnistPickle } from '../../src/data/pickle-writer.js';
import { decodeImage } from '../../src/data/images.js';
import { writeIdxFile } from '../../src/data/idx.js';
import { assertCleanFailure, digitlab, digitlabAsync, writeSmallIdx } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'digitlab-cli-data-'));
let server: Server;
let base = '';
let pickle: Buffer;

before(async () => {
  // A full-size mnist.pkl.gz in the tutorial's layout, made from the bundled MNIST.
  const path = join(dir, 'mnist.pkl.gz');
  writeMnistPickle(path, loadData('mnist'), { level: 1 });
  pickle = readFileSync(path);
  server = createServer((request, response) => {
    if (request.url === '/files/broken/mnist.pkl.gz') {
      response.writeHead(200, { 'content-type': 'application/octet-stream' });
      response.end(pickle.subarray(0, 5000));
    } else if (request.url === '/files/cut/mnist.pkl.gz') {
      response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': pickle.length });
      response.write(pickle.subarray(0, 100_000));
      setTimeout(() => response.socket?.destroy(), 50);
    } else if (request.url === '/files/page/mnist.pkl.gz') {
      // an error page sent with a binary content type: only its bytes tell
      response.writeHead(200, { 'content-type': 'application/octet-stream' });
      response.end('<!doctype html>\n<html><body>Too many requests</body></html>\n');
    } else if (request.url === '/files/mnist.pkl.gz') {
      response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': pickle.length });
      response.end(pickle);
    } else {
      response.writeHead(404);
      response.end('not found');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});
after(() => {
  server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('digitlab data', () => {
  it('fetch downloads once into the cache folder, then finds it there', async () => {
    const cache = join(dir, 'cache', 'mnist');
    const first = await digitlabAsync(['data', 'fetch', '--url', `${base}/files/mnist.pkl.gz`, '--dir', cache, '--json']);
    assert.equal(first.status, 0, first.stderr);
    const result = JSON.parse(first.stdout);
    assert.equal(result.downloaded, true);
    assert.equal(result.bytes, pickle.length);
    assert.equal(result.content, 'train 50000, validation 10000, test 10000 images of 28×28');
    assert.equal(result.published_md5, 'a02cd19f81d51c426d7ca14024243ce9');
    assert.deepEqual(readFileSync(join(cache, 'mnist.pkl.gz')), pickle);
    const mtime = statSync(join(cache, 'mnist.pkl.gz')).mtimeMs;
    const second = await digitlabAsync(['data', 'fetch', '--url', `${base}/files/mnist.pkl.gz`, '--dir', cache]);
    assert.equal(second.status, 0, second.stderr);
    assert.match(second.stdout, /already there/);
    assert.equal(statSync(join(cache, 'mnist.pkl.gz')).mtimeMs, mtime);
  });

  it('fetch fails clearly on a 404, a checksum mismatch and an unreachable host, leaving no file', async () => {
    const cache = join(dir, 'cache-bad');
    let problem = assertCleanFailure(await digitlabAsync(['data', 'fetch', '--url', `${base}/files/missing.pkl.gz`, '--dir', cache]), /404/);
    assert.equal(problem, null, problem ?? '');
    problem = assertCleanFailure(
      await digitlabAsync(['data', 'fetch', '--url', `${base}/files/mnist.pkl.gz`, '--dir', cache, '--md5', '0'.repeat(32)]),
      /(MD5|checksum)/i,
    );
    assert.equal(problem, null, problem ?? '');
    assert.ok(!existsSync(join(cache, 'mnist.pkl.gz')));
    // A truncated gzip with no Content-Length: downloaded completely, refused by the content check.
    const broken = await digitlabAsync(['data', 'fetch', '--url', `${base}/files/broken/mnist.pkl.gz`, '--dir', cache]);
    problem = assertCleanFailure(broken, /mnist\.pkl\.gz: gzip data is corrupt/);
    assert.equal(problem, null, problem ?? '');
    assert.doesNotMatch(broken.stderr, /\.part\b/, 'the message names the file asked for, not the deleted temporary one');
    assert.ok(!existsSync(join(cache, 'mnist.pkl.gz')));
    const page = await digitlabAsync(['data', 'fetch', '--url', `${base}/files/page/mnist.pkl.gz`, '--dir', cache]);
    problem = assertCleanFailure(page, /sent an HTML page, not gzip/);
    assert.equal(problem, null, problem ?? '');
    assert.doesNotMatch(page.stderr, /opcode/);
    // Port 9 on loopback: nothing listens there, the connection is refused at once.
    problem = assertCleanFailure(digitlab(['data', 'fetch', '--url', 'http://127.0.0.1:9/mnist.pkl.gz', '--dir', cache, '--retries', '0']), /127\.0\.0\.1/);
    assert.equal(problem, null, problem ?? '');
    assert.ok(!existsSync(join(cache, 'mnist.pkl.gz')));
  });

  it('fetch cut off mid-way says how far it got, ends the progress line first, and leaves no folder behind', async () => {
    const cache = join(dir, 'cut', 'data', 'mnist');
    const result = await digitlabAsync(['data', 'fetch', '--url', `${base}/files/cut/mnist.pkl.gz`, '--dir', cache, '--retries', '0']);
    const problem = assertCleanFailure(result, /the connection to 127\.0\.0\.1:\d+ was cut after [\d,]+ of [\d,]+ bytes/);
    assert.equal(problem, null, problem ?? '');
    assert.match(result.stderr, /run the same command again to retry/);
    assert.match(result.stderr, /downloading [\d,]+ of [\d,]+ bytes/);
    const errorLine = result.stderr.split('\n').find((line) => line.includes('digitlab: error:')) ?? '';
    assert.match(errorLine, /^digitlab: error:/, `the error shares the progress line: ${JSON.stringify(errorLine)}`);
    assert.doesNotMatch(result.stderr, /\.part\b/);
    assert.ok(!existsSync(join(dir, 'cut')), 'the folders made for the download are removed');
  });

  it('info prints the split sizes, shapes, pixel and label ranges of the tutorial file', () => {
    const result = digitlab(['data', 'info', '--data', `pkl:${join(dir, 'mnist.pkl.gz')}`, '--json']);
    assert.equal(result.status, 0, result.stderr);
    const info = JSON.parse(result.stdout);
    assert.deepEqual(info.train.shape, [50000, 28, 28]);
    assert.deepEqual(info.validation.shape, [10000, 28, 28]);
    assert.deepEqual(info.test.shape, [10000, 28, 28]);
    assert.equal(info.train.labelMin, 0);
    assert.equal(info.train.labelMax, 9);
    assert.equal(info.train.classCounts.reduce((a: number, b: number) => a + b, 0), 50000);
  });

  it('the bundled data, an IDX folder (gzip) and the tutorial pickle of the same arrays train to the same result', () => {
    const idx = join(dir, 'idx-gz');
    writeSmallIdx(idx, 60000, 10000, { gzip: true });
    const results = ['mnist', `idx:${idx}`, `pkl:${join(dir, 'mnist.pkl.gz')}`].map((data) => {
      const r = digitlab(['train', '--data', data, '--hidden', '16', '--epochs', '1', '--batch-size', '256', '--seed', '4', '--out', join(dir, `same-${data.slice(0, 3)}`), '--json']);
      assert.equal(r.status, 0, r.stderr);
      const json = JSON.parse(r.stdout);
      return { test_loss: json.test_loss, test_accuracy: json.test_accuracy, epochs: json.epochs.map((e: { train_loss: number; val_loss: number }) => [e.train_loss, e.val_loss]) };
    });
    assert.deepEqual(results[1], results[0]);
    assert.deepEqual(results[2], results[0]);
    assert.ok(results[0].test_accuracy > 0.85);
  });

  it('show writes a PNG of one digit or a labelled grid, and previews it in the terminal', () => {
    const one = join(dir, 'digit.png');
    const r = digitlab(['data', 'show', '--index', '0', '--out', one]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /train\[0\]: label 5/);
    assert.match(r.stdout, /█/);
    const image = decodeImage(readFileSync(one), one);
    assert.deepEqual([image.width, image.height], [28 * 4, 28 * 4]);
    const grid = join(dir, 'grid.png');
    const g = digitlab(['data', 'show', '--split', 'test', '--grid', '10x10', '--scale', '2', '--out', grid, '--json']);
    assert.equal(g.status, 0, g.stderr);
    assert.equal(JSON.parse(g.stdout).count, 100);
    assert.ok(decodeImage(readFileSync(grid), grid).width >= 10 * 56);
    const bad = assertCleanFailure(digitlab(['data', 'show', '--index', '70000']), /--index 70000 is outside/);
    assert.equal(bad, null, bad ?? '');
  });

  it('warns (on stderr) about classes without training images, naming the odd label, its count and first image', () => {
    const odd = join(dir, 'idx-odd-label');
    writeSmallIdx(odd, 300, 50);
    const clean = digitlab(['data', 'info', '--data', `idx:${odd}`, '--validation', '50']);
    assert.equal(clean.status, 0, clean.stderr);
    assert.doesNotMatch(clean.stderr, /warning/);
    const labels = loadData(`idx:${odd}`, { validation: 0 }).train.labels.slice();
    labels[123] = 12;
    writeIdxFile(join(odd, 'train-labels-idx1-ubyte'), labels, [labels.length]);
    const warning = /warning: classes 10 and 11 have no training images.*label 12 is on 1 image, the first train\[123\]/;
    const info = digitlab(['data', 'info', '--data', `idx:${odd}`, '--validation', '50', '--json']);
    assert.equal(info.status, 0, info.stderr);
    assert.match(info.stderr, warning);
    assert.equal(JSON.parse(info.stdout).warnings.length, 1);
    const train = digitlab(['train', '--data', `idx:${odd}`, '--validation', '50', '--hidden', '4', '--epochs', '1', '--out', join(dir, 'odd-model')]);
    assert.equal(train.status, 0, train.stderr);
    assert.match(train.stderr, warning);
    assert.match(train.stderr, /784-4-13/);
  });
});
