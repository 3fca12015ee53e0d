/** Studies: the list of study folders and each study's results. */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { openStudy } from '../../study/results.js';
import { hasNetworks, kindTable, trialTable } from '../../study/report.js';
import { STUDY_DATABASE } from '../../study/storage-sqlite.js';
import { HttpError } from '../errors.js';
import { ID_PATTERN } from '../models.js';
import { idParams } from './schemas.js';

export function registerStudyRoutes(app: FastifyInstance, studiesDir: string): void {
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

  app.get('/api/studies', async () => {
    const studies = [];
    for (const id of await studyDirs()) {
      try {
        const results = await openStudy(join(studiesDir, id));
        studies.push({ id, name: results.name, state: results.state, trials: results.trials.length, updatedAt: results.updatedAt, best: results.summary.best?.label ?? null });
      } catch (error) {
        studies.push({ id, name: id, state: 'unreadable', trials: 0, updatedAt: null, best: null, error: (error as Error).message });
      }
    }
    return { studies };
  });

  app.get<{ Params: { id: string } }>('/api/studies/:id', { schema: { params: idParams } }, async (request) => {
    const { id } = request.params;
    if (!(await studyDirs()).includes(id)) throw new HttpError(404, `no study with id ${JSON.stringify(id)}: GET /api/studies lists them`);
    const results = await openStudy(join(studiesDir, id));
    return { id, ...results, path: undefined, table: trialTable(results), kinds: hasNetworks(results) ? kindTable(results) : null };
  });
}
