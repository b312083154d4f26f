/**
 * The counter-based generator: one uniform number per (seed, absolute
 * position), with no state carried between draws. Because the draw for a
 * position does not depend on how many draws came before it, seeded
 * speculative decoding (which draws at every tree node, in any order) emits the
 * very same tokens as seeded plain decoding.
 *
 * Built on SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom
 * number generators", OOPSLA 2014), whose whole state is one 64-bit counter:
 *
 *   mix64(z)          = z ^= z >> 30; z *= 0xBF58476D1CE4E5B9;
 *                       z ^= z >> 27; z *= 0x94D049BB133111EB; z ^ (z >> 31)   (mod 2^64)
 *   splitmix64(s, n)  = mix64(s + (n + 1) * 0x9E3779B97F4A7C15)                 (n-th output, 0-based)
 *   key(seed)         = splitmix64(seed, 0)
 *   uniformAt(seed, p) = (splitmix64(key(seed), p) >> 11) * 2^-53
 *
 * Keying the stream with the first output of the seed (rather than the seed
 * itself) keeps nearby seeds from sharing shifted streams. docs/sampling.md is
 * the normative text; models/triton/canopy_lm/1/canopy_sampling.py is the twin.
 */

import { CanopyError, type ErrorCode } from './errors.js';

const MASK64 = (1n << 64n) - 1n;
const GAMMA = 0x9e3779b97f4a7c15n;
const M1 = 0xbf58476d1ce4e5b9n;
const M2 = 0x94d049bb133111ebn;
const TWO_POW_53 = 9007199254740992;

/** SplitMix64's finaliser on a 64-bit unsigned value. */
export function mix64(z: bigint): bigint {
  z = ((z ^ (z >> 30n)) * M1) & MASK64;
  z = ((z ^ (z >> 27n)) * M2) & MASK64;
  return z ^ (z >> 31n);
}

/** The n-th (0-based) output of SplitMix64 started from `state`. */
export function splitMix64At(state: bigint, n: bigint): bigint {
  return mix64((state + (n + 1n) * GAMMA) & MASK64);
}

/** Seeds are unsigned integers; the edge validates them, this only guards the BigInt conversion. */
function toU64(value: number, what: string, code: ErrorCode): bigint {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new CanopyError(code, `${what} must be an integer in [0, 2^53), got ${value}`);
  }
  return BigInt(value);
}

let cachedSeed = -1;
let cachedKey = 0n;

/** The stream key of a seed (memoised: a request draws many positions with one seed). */
function keyOf(seed: number): bigint {
  if (seed !== cachedSeed) {
    cachedKey = splitMix64At(toU64(seed, 'seed', 'CANOPY_ERR_INVALID_SAMPLING'), 0n);
    cachedSeed = seed;
  }
  return cachedKey;
}

/**
 * The uniform number in [0, 1) for `position` of the stream keyed by `seed`:
 * the top 53 bits of a 64-bit output, so every value is a multiple of 2^-53
 * and exactly representable in a double (and in Python's float).
 */
export function uniformAt(seed: number, position: number): number {
  const bits = splitMix64At(keyOf(seed), toU64(position, 'position', 'CANOPY_ERR_INVALID_ARGUMENT'));
  return Number(bits >> 11n) / TWO_POW_53;
}
