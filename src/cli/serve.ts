import { Command, Option } from 'commander';
import { mostAccurateModel } from '../io/model-files.js';
import { AccessTokenError, checkAccessToken, isLoopbackHost } from '../serve/access.js';
import { trainDefaultModel } from '../serve/default-model.js';
import { DEFAULT_RATE_LIMIT, rateLimit } from '../serve/rate-limit.js';
import { createServer } from '../serve/server.js';
import { isDatabaseUrl } from '../study/storage.js';
import { DATA_SOURCES } from './data.js';
import { mostAccurateModelLine } from './models.js';
import { createOutput, parseNumber, UsageError } from './output.js';
import { maxPixelsOption } from './use.js';

function parseDatabaseUrl(text: string): string {
  if (!isDatabaseUrl(text)) throw new UsageError(`--storage takes a PostgreSQL database URL (postgres://user@host/db), got ${JSON.stringify(text)}; study folders are found under --studies`);
  return text;
}

function parseToken(text: string): string {
  try {
    return checkAccessToken(text);
  } catch (error) {
    if (error instanceof AccessTokenError) throw new UsageError(`--token: ${error.message}`);
    throw error;
  }
}

export function serveCommand(): Command {
  return new Command('serve')
    .description('serve the web app (drawing pad, zip codes, training dashboard, studies) and the JSON API')
    .option('--model <dir>', 'model folder used by default (default: the digit model under --runs with the highest recorded test accuracy, or a quick one trained first)')
    .option('--port <n>', 'port (0 picks a free one)', parseNumber('--port', 'int'), 3000)
    .option('--host <address>', 'address to listen on (0.0.0.0 for every interface: then changes need the access token)', '127.0.0.1')
    .addOption(
      new Option('--token <token>', 'access token that starting and stopping trainings need (default: none on loopback, a random one printed at start on any other address)')
        .env('DIGITLAB_TOKEN')
        .argParser(parseToken),
    )
    .option('--rate-limit <n>', 'predictions (POST /api/predict, /api/read) each client may make per second; 0 turns the limit off', parseNumber('--rate-limit', 'non-negative'), DEFAULT_RATE_LIMIT.perSecond)
    .option('--rate-burst <n>', 'predictions a client may make at once after a pause (default: twice --rate-limit, at least 1)', parseNumber('--rate-burst', 'positive-int'))
    .addOption(maxPixelsOption())
    .option('--runs <dir>', 'folder of model folders; trainings started from the page are written here', 'runs')
    .option('--studies <dir>', 'folder of study folders', 'studies')
    .option('--storage <url>', 'a PostgreSQL database (postgres://user@host/db) whose studies the page lists too (default: $DIGITLAB_STORAGE when it is one)', parseDatabaseUrl)
    .option('--data <source>', `dataset for trainings and every model's gallery: ${DATA_SOURCES} (default: trainings use mnist, each gallery the data its model was trained on)`)
    .action(async (opts) => {
      const out = createOutput(false);
      let modelDir: string | undefined = opts.model;
      if (!modelDir) {
        const chosen = await mostAccurateModel(opts.runs);
        modelDir = chosen?.dir;
        if (chosen) {
          out.info(mostAccurateModelLine(chosen, opts.runs));
        } else {
          out.info(`no trained model under ${opts.runs}/: training a quick one first on ${opts.data ?? 'mnist'} (128 hidden nodes, Adam with a one-cycle schedule, 2 epochs)…`);
          const trained = await trainDefaultModel(opts.runs, opts.data ?? 'mnist');
          modelDir = trained.dir;
          out.info(`model: ${modelDir} (test accuracy ${(trained.testAccuracy * 100).toFixed(2)}%)`);
        }
      }
      out.info(
        opts.data
          ? `data: ${opts.data}, for trainings and every model's gallery`
          : "data: trainings use mnist; each model's gallery the data it was trained on (--data chooses one for all)",
      );
      const server = await createServer({
        runsDir: opts.runs, studiesDir: opts.studies, studyDatabase: opts.storage ?? (isDatabaseUrl(process.env.DIGITLAB_STORAGE ?? '') ? process.env.DIGITLAB_STORAGE : undefined), modelDir, data: opts.data ?? 'mnist', evaluationData: opts.data,
        token: opts.token, rateLimit: opts.rateLimit === 0 ? null : rateLimit(opts.rateLimit, opts.rateBurst), maxPixels: opts.maxPixels,
      });
      const url = await server.listen(opts.port, opts.host);
      out.print(`digitlab is serving ${url} (Ctrl-C stops it)`);
      if (!isLoopbackHost(opts.host)) out.print(`  listening on ${opts.host}: other machines reach it at this machine's address, port ${new URL(url).port}`);
      if (server.token !== null) {
        // a token the user chose is not echoed (it may have come from DIGITLAB_TOKEN, kept out of logs)
        const shown = opts.token === undefined ? server.token : null;
        out.print(`starting and stopping trainings needs the access token${shown ? ' generated for this run' : ' given with --token or DIGITLAB_TOKEN'}:`);
        out.print(`  in a browser, open ${url}/?token=${shown ? encodeURIComponent(shown) : 'TOKEN'}`);
        out.print(`  API clients send the header "Authorization: Bearer ${shown ?? 'TOKEN'}"`);
      }
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          out.info(`${signal}: stopping running trainings (each keeps its last checkpoint) and closing…`);
          process.off('SIGINT', onInt);
          process.off('SIGTERM', onTerm);
          server.close().then(resolve, (error: Error) => {
            out.info(`error while closing: ${error.message}`);
            resolve();
          });
        };
        const onInt = () => stop('SIGINT');
        const onTerm = () => stop('SIGTERM');
        process.once('SIGINT', onInt);
        process.once('SIGTERM', onTerm);
      });
      out.info('stopped');
    });
}
