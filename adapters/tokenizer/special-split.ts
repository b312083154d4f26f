/**
 * Cuts text at special tokens before pre-tokenization, as llama.cpp does:
 * special tokens are tried longest first, each splitting every text fragment
 * still unclaimed at its occurrences (left to right, non-overlapping).
 * User-defined tokens always split; control and unknown tokens only when the
 * caller asks to parse special tokens (otherwise `<|im_start|>` typed by a
 * user is just text).
 */
import { TokenType } from './file.js';

/** A fragment is raw text to pre-tokenize, or the id of a special token. */
export type Fragment = string | number;

interface SpecialToken {
  readonly text: string;
  readonly id: number;
  readonly alwaysSplit: boolean;
}

export interface SpecialSplitter {
  split(text: string, parseSpecial: boolean): Fragment[];
}

export function createSpecialSplitter(tokens: readonly string[], types: readonly number[]): SpecialSplitter {
  const specials: SpecialToken[] = [];
  tokens.forEach((text, id) => {
    const type = types[id];
    const special = type === TokenType.control || type === TokenType.unknown;
    if ((special || type === TokenType.userDefined) && text.length > 0) {
      specials.push({ text, id, alwaysSplit: !special });
    }
  });
  // Stable sort: equal lengths keep id order.
  specials.sort((a, b) => b.text.length - a.text.length);
  const anyAlways = specials.some((s) => s.alwaysSplit);

  return {
    split(text, parseSpecial) {
      if (text.length === 0) return [];
      if (specials.length === 0 || (!parseSpecial && !anyAlways)) return [text];
      let fragments: Fragment[] = [text];
      for (const special of specials) {
        if (!parseSpecial && !special.alwaysSplit) continue;
        let next: Fragment[] | undefined;
        for (let f = 0; f < fragments.length; f++) {
          const fragment = fragments[f];
          const at = typeof fragment === 'string' ? fragment.indexOf(special.text) : -1;
          if (at < 0) {
            next?.push(fragment);
            continue;
          }
          next ??= fragments.slice(0, f);
          cutAll(fragment as string, special, at, next);
        }
        if (next) fragments = next;
      }
      return fragments;
    },
  };
}

function cutAll(text: string, special: SpecialToken, first: number, out: Fragment[]): void {
  let from = 0;
  for (let at = first; at >= 0; at = text.indexOf(special.text, from)) {
    if (at > from) out.push(text.slice(from, at));
    out.push(special.id);
    from = at + special.text.length;
  }
  if (from < text.length) out.push(text.slice(from));
}
