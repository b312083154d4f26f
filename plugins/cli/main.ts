/**
 * `canopy` command line: a thin shell that parses flags and calls the engine.
 * Each command lives in its own file under commands/ and registers here.
 */
import { CanopyError, isCanopyError } from '../../kernels/errors.js';
import { commands } from './commands/index.js';

function usage(): string {
  const lines = ['usage: canopy <command> [options]', '', 'commands:'];
  for (const c of commands) lines.push(`  ${c.name.padEnd(16)}${c.summary}`);
  lines.push('', 'Run `canopy <command> --help` for its options.');
  return lines.join('\n');
}

/** Runs the CLI and returns the process exit code (never throws). */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name === undefined ? 2 : 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    console.error(`canopy: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (isCanopyError(error)) {
      console.error(`canopy ${name}: ${error.message} [${error.code}]`);
      return 1;
    }
    // node:util parseArgs: unknown flags, missing values.
    if (String((error as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS')) {
      console.error(
        `canopy ${name}: ${(error as Error).message} [CANOPY_ERR_INVALID_ARGUMENT]\nRun \`canopy ${name} --help\`.`,
      );
      return 2;
    }
    const wrapped = new CanopyError(
      'CANOPY_ERR_INTERNAL',
      error instanceof Error ? error.message : String(error),
      {
        cause: error,
      },
    );
    console.error(`canopy ${name}: internal error: ${wrapped.message}`);
    if (error instanceof Error && error.stack) console.error(error.stack);
    return 1;
  }
}
