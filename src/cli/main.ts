import { Command, CommanderError } from 'commander';
import { dataCommand } from './data.js';
import { exportCommand, importCommand } from './exchange.js';
import { evalCommand, predictCommand } from './use.js';
import { presetsCommand, trainCommand } from './train.js';
import { serveCommand } from './serve.js';
import { siteCommand } from './site.js';
import { readCommand } from './read.js';
import { studyCommand } from './study.js';
import { UsageError } from './output.js';
import { TrainingAbortedError } from '../train/trainer.js';
import { VERSION } from '../core/version.js';


export function buildProgram(): Command {
  const program = new Command('digitlab')
    .description('design, train, compare and use neural networks that read handwritten digits')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ sortSubcommands: false });
  program.addCommand(dataCommand());
  program.addCommand(trainCommand());
  program.addCommand(presetsCommand());
  program.addCommand(evalCommand());
  program.addCommand(predictCommand());
  program.addCommand(readCommand());
  program.addCommand(exportCommand());
  program.addCommand(importCommand());
  program.addCommand(serveCommand());
  program.addCommand(siteCommand());
  program.addCommand(studyCommand());
  // Every command's parse errors exit through `main`, not process.exit.
  const exitOverride = (cmd: Command) => {
    cmd.exitOverride();
    cmd.commands.forEach(exitOverride);
  };
  exitOverride(program);
  return program;
}

/**
 * Runs the command line and returns the exit code: 0 success, 1 an error in the work (bad file,
 * failed download…), 2 a usage error (unknown option or value), 130 interrupted.
 */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has already printed its message (or the help/version text).
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return 0;
      return error.exitCode === 0 ? 0 : 2;
    }
    const e = error as Error;
    if (error instanceof TrainingAbortedError) {
      process.stderr.write(`digitlab: ${e.message}\n`);
      return 130;
    }
    process.stderr.write(`digitlab: error: ${e?.message ?? String(error)}\n`);
    if (process.env.DIGITLAB_DEBUG) process.stderr.write(`${e?.stack}\n`);
    return error instanceof UsageError ? 2 : 1;
  }
}
