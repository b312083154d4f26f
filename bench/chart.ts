/**
 * A small grouped bar chart of speedup per category (one bar per variant),
 * as a self-contained SVG. A dashed line marks 1× (plain decoding).
 */
import type { VariantReport } from './report.js';

const COLORS = ['#2b6cb0', '#c05621', '#2f855a', '#6b46c1', '#b7791f', '#c53030', '#2c7a7b', '#4a5568'];

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function speedupChart(variants: ReadonlyMap<string, VariantReport>, title: string): string {
  const names = [...variants.keys()];
  const first = variants.get(names[0]);
  const categories = [...Object.keys(first?.categories ?? {}), 'overall'];
  const value = (v: VariantReport, c: string): number =>
    (c === 'overall' ? v.overall : v.categories[c])?.speedup ?? 0;
  const max = Math.max(
    1.5,
    ...names.flatMap((n) => categories.map((c) => value(variants.get(n) as VariantReport, c))),
  );
  const top = Math.ceil(max * 2) / 2;
  const W = 120 + categories.length * (names.length * 18 + 24);
  const H = 300;
  const plotTop = 40;
  const plotBottom = H - 60;
  const y = (s: number): number => plotBottom - (s / top) * (plotBottom - plotTop);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${esc(title)}</text>`,
  ];
  for (let s = 0; s <= top + 1e-9; s += 0.5) {
    parts.push(`<line x1="60" x2="${W - 10}" y1="${y(s)}" y2="${y(s)}" stroke="#e2e8f0"/>`);
    parts.push(`<text x="54" y="${y(s) + 4}" text-anchor="end">${s.toFixed(1)}×</text>`);
  }
  parts.push(
    `<line x1="60" x2="${W - 10}" y1="${y(1)}" y2="${y(1)}" stroke="#718096" stroke-dasharray="4 3"/>`,
  );
  categories.forEach((c, ci) => {
    const x0 = 70 + ci * (names.length * 18 + 24);
    names.forEach((n, vi) => {
      const s = value(variants.get(n) as VariantReport, c);
      const x = x0 + vi * 18;
      parts.push(
        `<rect x="${x}" y="${y(s)}" width="15" height="${plotBottom - y(s)}" fill="${COLORS[vi % COLORS.length]}">` +
          `<title>${esc(`${n} · ${c}: ${s.toFixed(2)}×`)}</title></rect>`,
      );
    });
    const mid = x0 + (names.length * 18) / 2;
    parts.push(`<text x="${mid}" y="${plotBottom + 14}" text-anchor="middle">${esc(c)}</text>`);
  });
  names.forEach((n, vi) => {
    const x = 70 + vi * 150;
    parts.push(`<rect x="${x}" y="${H - 24}" width="10" height="10" fill="${COLORS[vi % COLORS.length]}"/>`);
    parts.push(`<text x="${x + 14}" y="${H - 15}">${esc(n)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
