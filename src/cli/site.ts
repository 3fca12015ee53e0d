import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { loadData } from '../data/source.js';
import { mostAccurateModel } from '../io/model-files.js';
import { trainDefaultModel } from '../serve/default-model.js';
import { SiteError, writeStaticSite } from '../serve/site.js';
import { DATA_SOURCES } from './data.js';
import { mostAccurateModelLine } from './models.js';
import { createOutput, formatBytes, UsageError } from './output.js';

export function siteCommand(): Command {
  return new Command('site')
    .description('write the web app as a static site (no server: it reads digits and trains in the tab) for any static host')
    .argument('[out]', 'folder to write (replaced)', 'site')
    .option('--model <dir...>', 'model folders to offer, the first the default (default: the most accurate under --runs, or a quick one trained first)')
    .option('--runs <dir>', 'folder of model folders', 'runs')
    .option('--data <source>', `dataset the page trains on and scores its models on: ${DATA_SOURCES}`, 'mnist')
    .option('--json', 'print the result as JSON')
    .action(async (outDir: string, opts) => {
      const out = createOutput(Boolean(opts.json));
      const data = loadData(opts.data);
      let models: string[] = opts.model ?? [];
      let scratch: string | null = null;
      if (models.length === 0) {
        const chosen = await mostAccurateModel(opts.runs);
        if (chosen) {
          out.info(mostAccurateModelLine(chosen, opts.runs));
          models = [chosen.dir];
        } else {
          out.info(`no trained model under ${opts.runs}/: training a quick one for the site on ${opts.data} (128 hidden nodes, Adam with a one-cycle schedule, 2 epochs)…`);
          scratch = await mkdtemp(join(tmpdir(), 'digitlab-site-'));
          const trained = await trainDefaultModel(scratch, opts.data);
          out.info(`model: test accuracy ${(trained.testAccuracy * 100).toFixed(2)}%`);
          models = [trained.dir];
        }
      }
      try {
        const result = await writeStaticSite({ out: outDir, models, data });
        out.print(`static site: ${result.out} (models: ${result.models.join(', ')}; data ${formatBytes(result.dataBytes)})`);
        out.print('  serve it from any static host; the page needs the headers in _headers (its service worker adds them where a host cannot)');
        out.result(result);
      } catch (error) {
        if (error instanceof SiteError) throw new UsageError(error.message);
        throw error;
      } finally {
        if (scratch) await rm(scratch, { recursive: true, force: true });
      }
    });
}
