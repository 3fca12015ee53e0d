import { newestModel } from '../io/model-files.js';
import { UsageError, type Output } from './output.js';

/** Where `train` writes a model folder unless told (`--out`), and where other commands look for one. */
export const RUNS_DIR = 'runs';

/** The line that says which model a command chose by itself. */
export function newestModelLine(dir: string, runsDir = RUNS_DIR): string {
  return `model: ${dir} (the newest under ${runsDir}/; --model DIR chooses another)`;
}

/**
 * The model folder a command uses: `--model` when given, else the newest model folder under runs/,
 * said on stderr so the user knows which one answered.
 */
export async function chooseModel(given: string | undefined, out: Output, runsDir = RUNS_DIR): Promise<string> {
  if (given !== undefined) return given;
  const newest = await newestModel(runsDir);
  if (!newest) throw new UsageError(`no model folder under ${runsDir}/: train one (digitlab train --out ${runsDir}/NAME) or pass --model DIR`);
  out.info(newestModelLine(newest, runsDir));
  return newest;
}
