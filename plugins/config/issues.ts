/**
 * zod issues as messages that say what to fix: the dotted path of the field,
 * and for an unknown key the keys that are allowed there (with the closest one
 * when it looks like a typo).
 */
import type { z } from 'zod';

export interface DescribedIssue {
  /** Dotted path (`server.port`), or `(root)`. */
  readonly field: string;
  readonly message: string;
}

type Issue = z.core.$ZodIssue;

interface Def {
  readonly type: string;
  readonly innerType?: Schema;
  readonly in?: Schema;
  readonly shape?: Record<string, Schema>;
  readonly valueType?: Schema;
  readonly element?: Schema;
}
interface Schema {
  readonly _zod?: { readonly def: Def };
}

const WRAPPERS = new Set(['optional', 'default', 'prefault', 'nullable', 'readonly', 'catch']);

function unwrap(schema: Schema | undefined): Schema | undefined {
  let s = schema;
  for (let def = s?._zod?.def; def; def = s?._zod?.def) {
    if (WRAPPERS.has(def.type)) s = def.innerType;
    else if (def.type === 'pipe') s = def.in;
    else break;
  }
  return s;
}

/** The keys an object schema allows at `path`, or undefined when it is not an object there. */
export function keysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] | undefined {
  let s = unwrap(schema as unknown as Schema);
  for (const segment of path) {
    const def = s?._zod?.def;
    if (def?.type === 'object') s = def.shape?.[String(segment)];
    else if (def?.type === 'record') s = def.valueType;
    else if (def?.type === 'array') s = def.element;
    else return undefined;
    s = unwrap(s);
  }
  const def = s?._zod?.def;
  return def?.type === 'object' && def.shape ? Object.keys(def.shape) : undefined;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const next = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = row[j];
      row[j] = next;
    }
  }
  return row[b.length];
}

/** The allowed key closest to `key`, when it is close enough to be a typo. */
export function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(key.length / 3)) + 1;
  for (const k of known) {
    const d = distance(key.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

export function dotted(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '(root)' : path.map(String).join('.');
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let node = root;
  for (const key of path) {
    node =
      typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[String(key)] : undefined;
  }
  return node;
}

/**
 * The issue to report of a failed parse: an unknown key first (a typo also
 * explains the "missing" field it was meant to be), else the first one.
 */
export function mainIssue(issues: readonly Issue[]): Issue {
  return issues.find((i) => i.code === 'unrecognized_keys') ?? issues[0];
}

/**
 * An issue described against `schema`; with the parsed `input`, a field that
 * is absent is reported as required rather than as of the wrong type.
 */
export function describeIssue(schema: z.ZodType, issue: Issue, input?: unknown): DescribedIssue {
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0];
    const field = dotted([...issue.path, key]);
    const known = keysAt(schema, issue.path) ?? [];
    const guess = closest(key, known);
    const hint = guess ? ` (did you mean '${guess}'?)` : '';
    const allowed = known.length > 0 ? `; allowed here: ${known.join(', ')}` : '';
    return { field, message: `unknown key '${field}'${hint}${allowed}` };
  }
  const field = dotted(issue.path);
  if (issue.path.length === 0) return { field, message: issue.message };
  if (input !== undefined && issue.path.length > 0 && valueAt(input, issue.path) === undefined) {
    return { field, message: `'${field}' is required` };
  }
  return { field, message: `'${field}': ${issue.message}` };
}
