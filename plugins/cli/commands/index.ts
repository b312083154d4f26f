import { benchCommand } from './bench.js';
import type { Command } from './command.js';
import { generateCommand } from './generate.js';
import { prepareModelCommand } from './prepare-model.js';
import { serveCommand } from './serve.js';
import { tritonCommand } from './triton.js';

/** Every CLI command, in the order `canopy --help` lists them. */
export const commands: readonly Command[] = [
  prepareModelCommand,
  generateCommand,
  serveCommand,
  benchCommand,
  tritonCommand,
];
