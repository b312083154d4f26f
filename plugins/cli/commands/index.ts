import type { Command } from './command.js';

/** Every CLI command, in the order `canopy --help` lists them. */
export const commands: readonly Command[] = [];
