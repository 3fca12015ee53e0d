import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bearerToken, checkAccessToken, isLoopbackHost, sameToken } from '../../src/serve/access.js';
import { createServer, type DigitServer } from '../../src/serve/server.js';
import { saveUntrainedModel, send, type Answer } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'digitlab-access-'));
const runsDir = join(dir, 'runs');
const studiesDir = join(dir, 'studies');
const TOKEN = 'correct-horse-battery-staple';
const servers: DigitServer[] = [];

before(() => saveUntrainedModel(join(runsDir, 'tiny')));
after(async () => {
  for (const server of servers) await server.close();
  rmSync(dir, { recursive: true, force: true });
});

async function start(options: { token?: string; host?: string } = {}): Promise<{ server: DigitServer; url: string }> {
  const server = await createServer({ runsDir, studiesDir, token: options.token });
  servers.push(server);
  const address = await server.listen(0, options.host);
  // a server on every interface is reached here through loopback
  return { server, url: address.replace('0.0.0.0', '127.0.0.1') };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const pixels = JSON.stringify({ pixels: new Array(784).fill(0) });

function assertRefused(answer: Answer, message: RegExp): void {
  assert.equal(answer.status, 401, JSON.stringify(answer.body));
  assert.equal(answer.body.statusCode, 401);
  assert.match(answer.body.message ?? '', message);
  assert.match(String(answer.headers['www-authenticate']), /^Bearer realm="digitlab"/);
}

describe('access to changes', () => {
  it('on loopback without a token, trainings are started and stopped freely', async () => {
    const { server, url } = await start();
    assert.equal(server.token, null);
    // 404 and 400 answers show the request got past any guard
    assert.equal((await send(url, '/api/runs/nope', { method: 'DELETE' })).status, 404);
    assert.equal((await send(url, '/api/runs', { body: JSON.stringify({ epochs: 0 }) })).status, 400);
  });

  it('with a token, every change needs it; reading and predictions do not', async () => {
    const { server, url } = await start({ token: TOKEN });
    assert.equal(server.token, TOKEN);
    const none = await send(url, '/api/runs', { body: JSON.stringify({ epochs: 1 }) });
    assertRefused(none, /POST \/api\/runs changes the server's state, so it needs the server's access token: send "Authorization: Bearer TOKEN"/);
    assert.match(none.body.message ?? '', /`digitlab serve` prints the token.*--token.*\?token=/);
    assertRefused(await send(url, '/api/runs/nope', { method: 'DELETE' }), /needs the server's access token/);
    const wrong = await send(url, '/api/runs/nope', { method: 'DELETE', headers: bearer('another-token-entirely') });
    assertRefused(wrong, /the access token sent with DELETE \/api\/runs\/nope is not this server's/);
    assert.match(String(wrong.headers['www-authenticate']), /error="invalid_token"/);
    assertRefused(await send(url, '/api/runs/nope', { method: 'DELETE', headers: { authorization: `Basic ${TOKEN}` } }), /not this server's/);
    assertRefused(await send(url, '/api/runs/nope', { method: 'DELETE', headers: bearer(TOKEN.slice(0, -1)) }), /not this server's/);
    // the right token passes: the answers are the routes' own
    assert.equal((await send(url, '/api/runs/nope', { method: 'DELETE', headers: bearer(TOKEN) })).status, 404);
    assert.equal((await send(url, '/api/runs', { body: JSON.stringify({ epochs: 0 }), headers: { authorization: `bearer  ${TOKEN}` } })).status, 400);
    // reading and predicting need no token
    assert.equal((await send(url, '/api/runs')).status, 200);
    assert.equal((await send(url, '/api/models')).status, 200);
    assert.equal((await send(url, '/api/predict', { body: pixels })).status, 200);
  });

  it('listening beyond loopback generates a random token, different for every server', async () => {
    const first = await start({ host: '0.0.0.0' });
    const second = await start({ host: '0.0.0.0' });
    assert.match(first.server.token ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(first.server.token, second.server.token);
    assertRefused(await send(first.url, '/api/runs', { body: JSON.stringify({ epochs: 1 }) }), /needs the server's access token/);
    assertRefused(await send(first.url, '/api/runs/nope', { method: 'DELETE', headers: bearer(second.server.token!) }), /not this server's/);
    assert.equal((await send(first.url, '/api/runs/nope', { method: 'DELETE', headers: bearer(first.server.token!) })).status, 404);
    assert.equal((await send(first.url, '/api/predict', { body: pixels })).status, 200);
    // a token given is used beyond loopback too, not replaced
    const given = await start({ host: '0.0.0.0', token: TOKEN });
    assert.equal(given.server.token, TOKEN);
  });

  it('refuses a token too short or unsendable in a header', async () => {
    await assert.rejects(createServer({ runsDir, studiesDir, token: 'secret' }), /access token is 6 characters long: use at least 16/);
    await assert.rejects(createServer({ runsDir, studiesDir, token: 'a token with spaces' }), /characters a header cannot carry/);
    assert.equal(checkAccessToken('0123456789abcdef'), '0123456789abcdef');
  });

  it('tells loopback addresses from the others, and compares tokens exactly', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1']) assert.ok(isLoopbackHost(host), host);
    for (const host of ['0.0.0.0', '::', '', '192.168.1.10', 'example.org', '::ffff:10.0.0.1', '128.0.0.1']) assert.ok(!isLoopbackHost(host), host);
    assert.ok(sameToken(TOKEN, TOKEN));
    assert.ok(!sameToken(TOKEN, `${TOKEN}x`));
    assert.ok(!sameToken('', TOKEN));
    assert.equal(bearerToken(`Bearer ${TOKEN}`), TOKEN);
    assert.equal(bearerToken(`Bearer ${TOKEN} extra`), null);
    assert.equal(bearerToken(undefined), null);
  });
});
