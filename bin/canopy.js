#!/usr/bin/env node
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/plugins/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  console.error('canopy is not built yet: run `npm install` (or `npm run build`) in the project first.');
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
