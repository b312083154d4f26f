/**
 * Progress of long CLI steps on stderr. On a terminal one line per step is
 * redrawn in place (at most ten times a second); otherwise each step prints
 * a start line, a progress line at most every 30 seconds, and a done line,
 * so logs stay short and readable and a long run still shows it is alive.
 */

/** Least time between two progress lines when the stream is not a terminal. */
const LOG_INTERVAL_MS = 30_000;

export interface ProgressUpdate {
  readonly step: string;
  readonly done: number;
  /** 0 when unknown. */
  readonly total: number;
  readonly unit: 'bytes' | 'tensors' | 'steps';
}

function amount(n: number, unit: ProgressUpdate['unit']): string {
  if (unit === 'bytes') return `${(n / 1e6).toFixed(1)} MB`;
  return String(n);
}

function describe(u: ProgressUpdate, startedMs: number): string {
  const seconds = ((Date.now() - startedMs) / 1000).toFixed(0);
  if (u.total > 0) {
    const pct = Math.min(100, Math.floor((100 * u.done) / u.total));
    return `${u.step}: ${pct}% (${amount(u.done, u.unit)} / ${amount(u.total, u.unit)}) ${seconds}s`;
  }
  return `${u.step}: ${seconds}s`;
}

export interface ProgressReporter {
  update(u: ProgressUpdate): void;
  /** Ends the current step's line. */
  finish(): void;
}

/** A reporter writing to `stream` (stderr by default), prefixed with `prefix`. */
export function createProgress(
  prefix: string,
  stream: NodeJS.WriteStream = process.stderr,
): ProgressReporter {
  const tty = stream.isTTY === true;
  let step: string | undefined;
  let started = 0;
  let lastDraw = 0;
  let last: ProgressUpdate | undefined;

  const endStep = () => {
    if (step === undefined || !last) return;
    if (tty) stream.write(`\r\x1b[2K${prefix}${describe(last, started)} done\n`);
    else stream.write(`${prefix}${step}: done in ${((Date.now() - started) / 1000).toFixed(1)}s\n`);
    step = undefined;
  };

  return {
    update(u) {
      if (u.step !== step) {
        endStep();
        step = u.step;
        started = Date.now();
        lastDraw = tty ? 0 : started;
        if (!tty) stream.write(`${prefix}${u.step}…\n`);
      }
      last = u;
      const now = Date.now();
      if (tty && (now - lastDraw >= 100 || (u.total > 0 && u.done >= u.total))) {
        lastDraw = now;
        stream.write(`\r\x1b[2K${prefix}${describe(u, started)}`);
      } else if (!tty && now - lastDraw >= LOG_INTERVAL_MS && u.done < u.total) {
        lastDraw = now;
        stream.write(`${prefix}${describe(u, started)}\n`);
      }
    },
    finish: endStep,
  };
}
