import { describe, expect, it } from 'vitest';
import { pathTo, type TokenTree } from '../../kernels/tree.js';
import { walkTree, walkTreeWith } from '../../kernels/verify.js';
import { mulberry32, randomParents } from './random.js';

const EOS = 2;
const limits = { eosTokenIds: [EOS], maxTokens: 100 };

function tree(tokens: number[], parents: number[]): TokenTree {
  return { tokens: Int32Array.from(tokens), parents: Int32Array.from(parents) };
}

//        0:r
//      /     \
//   1:10     2:11
//    |      /    \
//   3:20  4:21   5:22
//    |
//   6:30
const T = tree([9, 10, 11, 20, 21, 22, 30], [-1, 0, 0, 1, 2, 2, 3]);

describe('walkTree', () => {
  it('follows the children the target agrees with and adds its correction', () => {
    const chosen = Int32Array.from([11, 20, 22, 30, 0, 40, 50]);
    const walk = walkTree(T, chosen, limits);
    expect([...walk.accepted]).toEqual([0, 2, 5]);
    expect([...walk.emitted]).toEqual([11, 22, 40]);
    expect(walk.finish).toBeNull();
  });

  it('adds the bonus token after a fully accepted path', () => {
    const chosen = Int32Array.from([10, 20, 0, 30, 0, 0, 77]);
    const walk = walkTree(T, chosen, limits);
    expect([...walk.accepted]).toEqual([0, 1, 3, 6]);
    expect([...walk.emitted]).toEqual([10, 20, 30, 77]);
  });

  it('emits only the correction when the first guess is wrong', () => {
    const walk = walkTree(T, Int32Array.from([12, 0, 0, 0, 0, 0, 0]), limits);
    expect([...walk.accepted]).toEqual([0]);
    expect([...walk.emitted]).toEqual([12]);
  });

  it('stops at EOS in the middle of an accepted path, EOS included', () => {
    const t = tree([9, 10, EOS, 30], [-1, 0, 1, 2]);
    const walk = walkTree(t, Int32Array.from([10, EOS, 30, 31]), limits);
    expect([...walk.emitted]).toEqual([10, EOS]);
    expect([...walk.accepted]).toEqual([0, 1]);
    expect(walk.finish).toBe('eos');
  });

  it('stops when EOS is the correction', () => {
    const walk = walkTree(T, Int32Array.from([10, EOS, 0, 0, 0, 0, 0]), limits);
    expect([...walk.emitted]).toEqual([10, EOS]);
    expect(walk.finish).toBe('eos');
  });

  it('cuts at the token limit', () => {
    const chosen = Int32Array.from([10, 20, 0, 30, 0, 0, 77]);
    const walk = walkTree(T, chosen, { ...limits, maxTokens: 2 });
    expect([...walk.emitted]).toEqual([10, 20]);
    expect([...walk.accepted]).toEqual([0, 1]);
    expect(walk.finish).toBe('length');
  });

  it('rejects a limit below one token and a short chosen array', () => {
    expect(() => walkTree(T, new Int32Array(7), { ...limits, maxTokens: 0 })).toThrow(
      expect.objectContaining({ code: 'CANOPY_ERR_INVALID_ARGUMENT' }),
    );
    expect(() => walkTree(T, new Int32Array(3), limits)).toThrow(
      expect.objectContaining({ code: 'CANOPY_ERR_INVALID_ARGUMENT' }),
    );
  });

  it('asks the lazy chooser only at the nodes it reaches', () => {
    const asked: number[] = [];
    const chosen = [11, 20, 22, 30, 0, 40, 50];
    walkTreeWith(
      T,
      (node) => {
        asked.push(node);
        return chosen[node];
      },
      limits,
    );
    expect(asked).toEqual([0, 2, 5]);
  });

  it('emits exactly what plain decoding emits, on random trees', () => {
    const random = mulberry32(21);
    // A deterministic "model": the next token is a hash of the whole prefix.
    const next = (prefix: number[]): number => {
      let h = 17;
      for (const t of prefix) h = (Math.imul(h, 31) + t) >>> 0;
      return (h >>> 7) % 4;
    };
    for (let trial = 0; trial < 300; trial++) {
      const context = [1, 3];
      const n = 1 + Math.floor(random() * 30);
      const parents = randomParents(n, random);
      const tokens = Int32Array.from({ length: n }, (_, i) =>
        i === 0 ? context[1] : Math.floor(random() * 4),
      );
      const t = { tokens, parents };
      const prefixOf = (node: number) => [context[0], ...[...pathTo(parents, node)].map((i) => tokens[i])];
      const chosen = Int32Array.from({ length: n }, (_, i) => next(prefixOf(i)));
      const maxTokens = 1 + Math.floor(random() * 8);
      const walk = walkTree(t, chosen, { eosTokenIds: [EOS], maxTokens });

      const plain: number[] = [];
      const text = [...context];
      while (plain.length < maxTokens) {
        const token = next(text);
        plain.push(token);
        text.push(token);
        if (token === EOS) break;
      }
      expect([...walk.emitted]).toEqual(plain.slice(0, walk.emitted.length));
      expect(walk.accepted.length).toBe(walk.emitted.length);
      const ended = walk.emitted.length === plain.length;
      expect(walk.finish).toBe(ended ? (plain.at(-1) === EOS ? 'eos' : 'length') : null);
      // The walk stopped because the tree ran out of agreement, not too early.
      if (!ended) {
        const last = walk.accepted[walk.accepted.length - 1];
        const continues = [...parents].some((p, c) => p === last && tokens[c] === walk.emitted.at(-1));
        expect(continues).toBe(false);
      }
    }
  });
});
