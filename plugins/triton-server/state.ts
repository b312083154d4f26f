/**
 * The state file of a started server (`<runDir>/server.json`): what `stop`
 * needs to find it again, and what `start` prints. Written as soon as the
 * process exists, so an interrupted start can still be stopped.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { commandLine, isAlive } from './process-util.js';

/** A Triton server started by canopy. */
export interface TritonServer {
  /** `http://127.0.0.1:PORT` */
  readonly http: string;
  /** `grpc://127.0.0.1:PORT` */
  readonly grpc: string;
  readonly pid: number;
  readonly modelRepository: string;
  /** The server's combined stdout and stderr. */
  readonly log: string;
  readonly startedAt: string;
}

const STATE_FILE = 'server.json';

export function statePath(runDir: string): string {
  return join(runDir, STATE_FILE);
}

export function readState(runDir: string): TritonServer | undefined {
  try {
    return JSON.parse(readFileSync(statePath(runDir), 'utf8')) as TritonServer;
  } catch {
    return undefined;
  }
}

export function writeState(runDir: string, server: TritonServer): void {
  const file = statePath(runDir);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(server, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

export function removeState(runDir: string): void {
  rmSync(statePath(runDir), { force: true });
}

/** Whether the recorded process is still a running Triton server (and not a recycled pid). */
export function isRunning(server: TritonServer): boolean {
  if (!isAlive(server.pid)) return false;
  const cmd = commandLine(server.pid);
  return cmd === undefined || cmd.includes('tritonserver');
}

/** What `canopy triton start` prints: the endpoints and the process id. */
export function publicView(server: TritonServer): { http: string; grpc: string; pid: number } {
  return { http: server.http, grpc: server.grpc, pid: server.pid };
}
