/**
 * Stops a server started by `startTritonServer`: SIGTERM (Triton unloads its
 * models and stops the backend stubs itself), then after a grace period
 * SIGKILL to the whole process group, stubs included, and removal of the
 * shared-memory regions a killed Python backend leaves in /dev/shm.
 */
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DEFAULT_RUN_DIR } from './paths.js';
import { commandLine, isAlive, processGroup, sleep } from './process-util.js';
import { isRunning, readState, removeState, type TritonServer } from './state.js';

export interface StopOptions {
  readonly runDir?: string;
  /** How long SIGTERM may take before SIGKILL, ms. */
  readonly graceMs?: number;
}

export interface StopResult {
  /** The pid that was stopped; undefined when no server was running. */
  readonly pid?: number;
  /** True when SIGTERM was not enough. */
  readonly killed: boolean;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** The shm regions of the group's backend stubs: each stub names its region on its command line. */
function shmRegionsOf(pgid: number): string[] {
  const names: string[] = [];
  for (const pid of processGroup(pgid)) {
    names.push(...(commandLine(pid)?.match(/triton_python_backend_shm_region_[0-9a-f-]+/g) ?? []));
  }
  return names;
}

/** Terminates the server process, escalating to SIGKILL after `graceMs`. Returns whether it had to kill. */
export async function killServer(server: TritonServer, graceMs: number): Promise<boolean> {
  signal(server.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(server.pid)) return false;
    await sleep(100);
  }
  if (!isAlive(server.pid)) return false;
  const regions = shmRegionsOf(server.pid);
  signal(-server.pid, 'SIGKILL'); // the group: the server was started detached, as its leader
  signal(server.pid, 'SIGKILL');
  for (let i = 0; i < 50 && isAlive(server.pid); i++) await sleep(100);
  for (const name of regions) rmSync(join('/dev/shm', name), { force: true });
  return true;
}

/** Stops the server recorded in the run directory, if any. */
export async function stopTritonServer(opts: StopOptions = {}): Promise<StopResult> {
  const runDir = resolve(opts.runDir ?? DEFAULT_RUN_DIR);
  const server = readState(runDir);
  if (!server) return { killed: false };
  if (!isRunning(server)) {
    removeState(runDir); // gone, or its pid now belongs to another process: left alone
    return { killed: false };
  }
  const killed = await killServer(server, opts.graceMs ?? 15_000);
  removeState(runDir);
  return { pid: server.pid, killed };
}
