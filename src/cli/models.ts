import { mostAccurateModel, newestModel } from '../io/model-files.js';
import { UsageError, type Output } from './output.js';

/** Where `train` writes a model folder unless told (`--out`), and where other commands look for one. */
export const RUNS_DIR = 'runs';

/** The line that says which model a command chose by itself. */
export function newestModelLine(dir: string, runsDir = RUNS_DIR): string {
  return `model: ${dir} (the newest under ${runsDir}/; --model DIR chooses another)`;
}

/** The line that says which model a reading command chose by itself. */
export function mostAccurateModelLine(chosen: { dir: string; testAccuracy: number | null }, runsDir = RUNS_DIR): string {
  return chosen.testAccuracy === null
    ? newestModelLine(chosen.dir, runsDir)
    : `model: ${chosen.dir} (the most accurate under ${runsDir}/, test accuracy ${(chosen.testAccuracy * 100).toFixed(2)}%; --model DIR chooses another)`;
}

/**
 * The model folder a command uses: `--model` when given, else one under runs/, said on stderr so the
 * user knows which one answered. `newest` (what eval and export take: the model just trained) or
 * `most-accurate` (what predict and read take: the digit model whose recorded test accuracy is highest,
 * the newest when none records one).
 */
export async function chooseModel(given: string | undefined, out: Output, rule: 'newest' | 'most-accurate', runsDir = RUNS_DIR): Promise<string> {
  if (given !== undefined) return given;
  const none = () => new UsageError(`no model folder under ${runsDir}/: train one (digitlab train --out ${runsDir}/NAME) or pass --model DIR`);
  if (rule === 'most-accurate') {
    const chosen = await mostAccurateModel(runsDir);
    if (!chosen) throw none();
    out.info(mostAccurateModelLine(chosen, runsDir));
    return chosen.dir;
  }
  const newest = await newestModel(runsDir);
  if (!newest) throw none();
  out.info(newestModelLine(newest, runsDir));
  return newest;
}
