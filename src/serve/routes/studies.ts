/**
 * Studies: the study folders under the studies folder and, with a database (`digitlab serve
 * --storage postgres://…`), the studies recorded there; each study's results. A study's id is its
 * folder's name, or in the database its name (a folder of the same name comes first).
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { openStudy } from '../../study/results.js';
import { hasNetworks, kindTable, trialTable } from '../../study/report.js';
import { STUDY_DATABASE } from '../../study/storage-sqlite.js';
import { listStudyNames } from '../../study/open-storage.js';
import { HttpError } from '../errors.js';
import { ID_PATTERN } from '../models.js';
import { idParams } from './schemas.js';

export function registerStudyRoutes(app: FastifyInstance, studiesDir: string, database?: string): void {
  async function studyDirs(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(studiesDir);
    } catch {
      return [];
    }
    const pattern = new RegExp(ID_PATTERN);
    return names.filter((name) => pattern.test(name) && existsSync(join(studiesDir, name, STUDY_DATABASE))).sort();
  }

  /** Every study by id, and where to read it: a folder, or a name in the database. */
  async function studyIds(): Promise<Map<string, () => ReturnType<typeof openStudy>>> {
    const found = new Map<string, () => ReturnType<typeof openStudy>>();
    for (const id of await studyDirs()) found.set(id, () => openStudy(join(studiesDir, id)));
    if (database !== undefined) {
      const pattern = new RegExp(ID_PATTERN);
      for (const name of await listStudyNames(database)) if (pattern.test(name) && !found.has(name)) found.set(name, () => openStudy(database, name));
    }
    return found;
  }

  app.get('/api/studies', async () => {
    const studies = [];
    for (const [id, open] of await studyIds()) {
      try {
        const results = await open();
        studies.push({ id, name: results.name, state: results.state, trials: results.trials.length, updatedAt: results.updatedAt, best: results.summary.best?.label ?? null });
      } catch (error) {
        studies.push({ id, name: id, state: 'unreadable', trials: 0, updatedAt: null, best: null, error: (error as Error).message });
      }
    }
    return { studies };
  });

  app.get<{ Params: { id: string } }>('/api/studies/:id', { schema: { params: idParams } }, async (request) => {
    const { id } = request.params;
    const open = (await studyIds()).get(id);
    if (!open) throw new HttpError(404, `no study with id ${JSON.stringify(id)}: GET /api/studies lists them`);
    const results = await open();
    return { id, ...results, path: undefined, table: trialTable(results), kinds: hasNetworks(results) ? kindTable(results) : null };
  });
}
