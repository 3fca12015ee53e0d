/**
 * The PostgreSQL server the study tests use: the one `.ci/run` started (DIGITLAB_TEST_POSTGRES_DIR
 * and DIGITLAB_TEST_POSTGRES_URL), or else one of the test file's own, started and stopped here
 * with scripts/test-postgres.sh. Each test takes a fresh database on it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

const script = join(import.meta.dirname, '..', '..', 'scripts', 'test-postgres.sh');

/** Why the PostgreSQL tests cannot run here (false when they can). Under CI a missing server is a failure, not a skip. */
export const postgresSkip: string | false =
  !process.env.CI && !process.env.DIGITLAB_TEST_POSTGRES_URL && !(existsSync('/usr/lib/postgresql') && readdirSync('/usr/lib/postgresql').length > 0)
    ? 'PostgreSQL is not installed (apt-get install -y postgresql)'
    : false;

export interface TestPostgres {
  /** A new, empty database: its URL. */
  database(name: string): Promise<string>;
  /** Restarts the server (fast shutdown: connections are cut, as in a crash or an upgrade). */
  restart(): void;
  stop(): void;
}

/** A port no one listens on now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Creates database `name` on the server at `serverUrl` (dropping one of that name first); its URL. */
export async function createDatabase(serverUrl: string, name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const target = new URL(serverUrl);
  target.pathname = `/${name}`;
  return target.toString();
}

export async function testPostgres(): Promise<TestPostgres> {
  let dir = process.env.DIGITLAB_TEST_POSTGRES_DIR;
  let url = process.env.DIGITLAB_TEST_POSTGRES_URL;
  const own = !dir || !url;
  if (own) {
    dir = mkdtempSync(join(tmpdir(), 'digitlab-postgres-'));
    url = execFileSync('bash', [script, 'start', dir, String(await freePort())], { encoding: 'utf8' }).trim();
  }
  const serverDir = dir as string;
  const serverUrl = url as string;
  return {
    database: (name: string) => createDatabase(serverUrl, name),
    restart(): void {
      execFileSync('bash', [script, 'restart', serverDir], { stdio: 'ignore' });
    },
    stop(): void {
      if (!own) return;
      try {
        execFileSync('bash', [script, 'stop', serverDir], { stdio: 'ignore' });
      } finally {
        rmSync(serverDir, { recursive: true, force: true });
      }
    },
  };
}
