import { readFile } from 'node:fs/promises';
import { CanopyError } from '../../../kernels/errors.js';

function invalid(message: string, details: Record<string, unknown>): CanopyError {
  return new CanopyError('CANOPY_ERR_INVALID_DRAFTER_OPTIONS', `drafter 'retrieval' options: ${message}`, {
    details: { drafter: 'retrieval', ...details },
  });
}

/**
 * Reads a corpus file: JSONL, one JSON array of token ids per line (blank
 * lines are skipped). Throws CANOPY_ERR_INVALID_DRAFTER_OPTIONS naming the
 * file and line of the first problem.
 */
export async function readCorpusFile(path: string): Promise<Int32Array[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw invalid(`corpusFile '${path}' cannot be read: ${(error as Error).message}`, { corpusFile: path });
  }
  const documents: Int32Array[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw invalid(`corpusFile '${path}' line ${i + 1} is not JSON`, { corpusFile: path, line: i + 1 });
    }
    if (!Array.isArray(value) || !value.every((t) => Number.isInteger(t) && t >= 0 && t <= 0x7fffffff)) {
      throw invalid(`corpusFile '${path}' line ${i + 1} must be a JSON array of token ids`, {
        corpusFile: path,
        line: i + 1,
      });
    }
    documents.push(Int32Array.from(value as number[]));
  }
  return documents;
}
