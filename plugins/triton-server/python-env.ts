/**
 * The Python environment that carries Triton: a virtualenv with
 * `nvidia-pytriton` (whose wheel ships `tritonserver`, the Python backend and
 * one backend stub per Python minor version), onnxruntime and numpy, pinned in
 * models/triton/requirements.txt.
 *
 * Installing is idempotent: a marker file records the requirements' hash and
 * what the install found, and is written last, so an interrupted install is
 * redone. The stub embeds the venv's own Python; it needs that Python's shared
 * libpython, which is checked here (ldd) rather than discovered at model load.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CanopyError } from '../../kernels/errors.js';
import { REQUIREMENTS_FILE, venvDir } from './paths.js';
import { runLogged, tail } from './process-util.js';

const run = promisify(execFile);

/**
 * Python minors with a backend stub in pytriton 0.7.0 (3.8–3.13), onnxruntime
 * 1.30.0 wheels (3.11–3.14) and numpy < 2 wheels, which pytriton pins (≤ 3.12).
 */
const SUPPORTED_MINORS = [11, 12];
const CANDIDATES = ['python3', 'python3.12', 'python3.11'];
const MARKER = '.canopy-install.json';
const INSTALL_LOG = 'canopy-install.log';

/** What starting `tritonserver` needs, as found by the install. */
export interface TritonEnv {
  readonly venv: string;
  readonly requirementsSha256: string;
  readonly pythonVersion: string;
  readonly binDir: string;
  readonly serverBinary: string;
  readonly backendDir: string;
  readonly cacheDir: string;
  /** Prepended to LD_LIBRARY_PATH: the wheel's bundled libraries, then libpython's directory. */
  readonly libraryPath: readonly string[];
}

interface PythonProbe {
  readonly version: [number, number, number];
  readonly libdir: string;
  readonly pytriton?: string;
}

const PROBE = [
  'import importlib.util, json, sys, sysconfig',
  "spec = importlib.util.find_spec('pytriton')",
  "print(json.dumps({'version': list(sys.version_info[:3]), 'libdir': sysconfig.get_config_var('LIBDIR') or '',",
  "  'pytriton': spec.submodule_search_locations[0] if spec else None}))",
].join('\n');

function installFailed(message: string, details?: Record<string, unknown>): CanopyError {
  return new CanopyError('CANOPY_ERR_TRITON_INSTALL_FAILED', message, { details });
}

async function probe(python: string): Promise<PythonProbe | undefined> {
  try {
    const { stdout } = await run(python, ['-c', PROBE], { timeout: 60_000 });
    return JSON.parse(stdout) as PythonProbe;
  } catch {
    return undefined;
  }
}

function supported(p: PythonProbe): boolean {
  return p.version[0] === 3 && SUPPORTED_MINORS.includes(p.version[1]);
}

async function pickBasePython(explicit: string | undefined): Promise<string> {
  const tried: string[] = [];
  for (const candidate of explicit ? [explicit] : CANDIDATES) {
    const found = await probe(candidate);
    tried.push(`${candidate}: ${found ? found.version.join('.') : 'not runnable'}`);
    if (found && supported(found)) return candidate;
  }
  throw installFailed(
    `no usable Python for Triton's backend stub (need 3.${SUPPORTED_MINORS[0]}–3.${SUPPORTED_MINORS.at(-1)}; ` +
      `set CANOPY_PYTHON or --python). Tried: ${tried.join('; ')}`,
    { tried },
  );
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function readMarker(venv: string): TritonEnv | undefined {
  try {
    return JSON.parse(readFileSync(join(venv, MARKER), 'utf8')) as TritonEnv;
  } catch {
    return undefined;
  }
}

/** Copies the Python backend beside the stub built for this Python (what pytriton does at run time). */
function prepareBackend(pytriton: string, minor: string, backendDir: string): void {
  const shipped = join(pytriton, 'tritonserver');
  const stub = join(shipped, 'python_backend_stubs', minor, 'triton_python_backend_stub');
  if (!existsSync(stub)) throw installFailed(`nvidia-pytriton has no backend stub for Python ${minor}`);
  const dir = join(backendDir, 'python');
  mkdirSync(dir, { recursive: true });
  for (const file of ['libtriton_python.so', 'triton_python_backend_utils.py']) {
    copyFileSync(join(shipped, 'backends', 'python', file), join(dir, file));
  }
  copyFileSync(stub, join(dir, 'triton_python_backend_stub'));
}

/** Fails early, with the missing names, when the server or the stub cannot load a shared library. */
async function checkLibraries(env: TritonEnv): Promise<void> {
  const ldEnv = { ...process.env, LD_LIBRARY_PATH: libraryPathOf(env) };
  const binaries = [env.serverBinary, join(env.backendDir, 'python', 'triton_python_backend_stub')];
  const missing: string[] = [];
  for (const binary of binaries) {
    let stdout: string;
    try {
      ({ stdout } = await run('ldd', [binary], { env: ldEnv }));
    } catch {
      return; // no ldd here: the server's own log will name what is missing
    }
    for (const line of stdout.split('\n')) if (line.includes('not found')) missing.push(line.trim());
  }
  if (missing.length > 0) {
    throw installFailed(
      `Triton cannot load: ${missing.join(', ')}. A missing libpython means this Python has no shared ` +
        `library (rebuild with --enable-shared, or pick another with CANOPY_PYTHON)`,
      { missing },
    );
  }
}

/** LD_LIBRARY_PATH for the server process. */
export function libraryPathOf(env: TritonEnv, inherited = process.env.LD_LIBRARY_PATH): string {
  return [...env.libraryPath, ...(inherited ? [inherited] : [])].join(':');
}

export interface EnsureOptions {
  /** Base Python for a new venv (else CANOPY_PYTHON, else the first suitable python3.x on PATH). */
  readonly python?: string;
  /** Progress lines (the CLI prints them to stderr). */
  readonly progress?: (line: string) => void;
}

/** Returns the installed environment, installing or repairing it first when needed. */
export async function ensureTritonEnv(options: EnsureOptions = {}): Promise<TritonEnv> {
  const venv = venvDir();
  const requirementsSha256 = sha256(REQUIREMENTS_FILE);
  const marked = readMarker(venv);
  if (marked && marked.requirementsSha256 === requirementsSha256 && existsSync(marked.serverBinary))
    return marked;

  const say = options.progress ?? (() => {});
  const venvPython = join(venv, 'bin', 'python');
  let current = existsSync(venvPython) ? await probe(venvPython) : undefined;
  if (!current || !supported(current)) {
    const base = await pickBasePython(options.python ?? process.env.CANOPY_PYTHON);
    say(`creating ${venv} with ${base}`);
    rmSync(venv, { recursive: true, force: true });
    await runLogged(base, ['-m', 'venv', venv], undefined).catch((e: Error) => {
      throw installFailed(`${base} -m venv failed: ${e.message}`);
    });
  }
  say(`installing ${REQUIREMENTS_FILE} (pip; a few minutes the first time)`);
  const logFile = join(venv, INSTALL_LOG);
  const fd = openSync(logFile, 'w');
  try {
    const args = ['-m', 'pip', 'install', '--disable-pip-version-check', '-r', REQUIREMENTS_FILE];
    await runLogged(venvPython, args, fd);
  } catch (e) {
    throw installFailed(`pip install failed (${(e as Error).message}); log ${logFile}:\n${tail(logFile)}`);
  } finally {
    closeSync(fd);
  }
  current = await probe(venvPython);
  if (!current?.pytriton) throw installFailed(`pytriton is not importable from ${venvPython}`);
  const minor = `${current.version[0]}.${current.version[1]}`;
  const backendDir = join(venv, 'canopy-backends');
  prepareBackend(current.pytriton, minor, backendDir);
  const env: TritonEnv = {
    venv,
    requirementsSha256,
    pythonVersion: current.version.join('.'),
    binDir: join(venv, 'bin'),
    serverBinary: join(current.pytriton, 'tritonserver', 'bin', 'tritonserver'),
    backendDir,
    cacheDir: join(current.pytriton, 'tritonserver', 'caches'),
    libraryPath: [join(current.pytriton, '..', 'nvidia_pytriton.libs'), current.libdir].filter(Boolean),
  };
  await checkLibraries(env);
  writeFileSync(join(venv, MARKER), `${JSON.stringify(env, null, 2)}\n`);
  return env;
}
