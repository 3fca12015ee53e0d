import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeFileAtomic, writeFileAtomicSync } from '../../src/io/atomic.js';

describe('writeFileAtomic', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'digitlab-atomic-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates and then replaces a file, leaving no temporary file behind', async () => {
    const path = join(dir, 'a.json');
    await writeFileAtomic(path, '{"v":1}');
    assert.equal(await readFile(path, 'utf8'), '{"v":1}');
    await writeFileAtomic(path, new Uint8Array([0x7b, 0x7d]));
    assert.equal(await readFile(path, 'utf8'), '{}');
    writeFileAtomicSync(path, 'sync');
    assert.equal(await readFile(path, 'utf8'), 'sync');
    assert.deepEqual(await readdir(dir), ['a.json']);
  });

  it('leaves the old file intact, and removes the temporary file, when the write fails', async () => {
    const path = join(dir, 'b.bin');
    await writeFile(path, 'old contents');
    let temporary = '';
    await assert.rejects(
      writeFileAtomic(path, 'new contents', {
        beforeRename: async (tmp) => {
          temporary = tmp;
          // The new data is complete in the temporary file, beside the untouched target.
          assert.equal(await readFile(tmp, 'utf8'), 'new contents');
          throw new Error('simulated crash');
        },
      }),
      /simulated crash/,
    );
    assert.equal(await readFile(path, 'utf8'), 'old contents');
    assert.ok(temporary.startsWith(join(dir, '.b.bin.')), temporary);
    assert.deepEqual((await readdir(dir)).sort(), ['a.json', 'b.bin']);

    assert.throws(
      () => writeFileAtomicSync(path, 'new contents', { beforeRename: () => { throw new Error('simulated crash'); } }),
      /simulated crash/,
    );
    assert.equal(await readFile(path, 'utf8'), 'old contents');
    assert.deepEqual((await readdir(dir)).sort(), ['a.json', 'b.bin']);
  });

  it('fails without creating anything when the folder does not exist', async () => {
    await assert.rejects(writeFileAtomic(join(dir, 'missing', 'c.txt'), 'x'), { code: 'ENOENT' });
    assert.deepEqual((await readdir(dir)).sort(), ['a.json', 'b.bin']);
  });
});
