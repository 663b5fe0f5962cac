import { esc } from './escape.js';
import type { Trend } from './model.js';

const W = 380;
const H = 150;
const PAD = { left: 44, right: 12, top: 12, bottom: 26 };
const COLORS = ['#2563eb', '#d97706', '#059669', '#9333ea', '#dc2626', '#0891b2'];

function fmt(v: number): string {
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

/**
 * An inline SVG line chart: one x slot per run (oldest left), one `.point` per run in every series.
 * A run that did not measure the value gets a hollow marker on the x axis, so a gap is visible and
 * never drawn as a zero.
 */
export function trendChart(trend: Trend): string {
  const values = trend.series.flatMap((s) =>
    s.points.flatMap((p) => (p.value === undefined ? [] : [p.value])),
  );
  const max = values.length ? Math.max(...values) * 1.1 || 1 : 1;
  const n = Math.max(...trend.series.map((s) => s.points.length), 1);
  const x = (i: number) =>
    PAD.left + (n === 1 ? (W - PAD.left - PAD.right) / 2 : (i * (W - PAD.left - PAD.right)) / (n - 1));
  const y = (v: number) => PAD.top + (H - PAD.top - PAD.bottom) * (1 - v / max);
  const base = H - PAD.bottom;
  const parts: string[] = [
    `<line class="axis" x1="${PAD.left}" y1="${base}" x2="${W - PAD.right}" y2="${base}"/>`,
    `<line class="axis" x1="${PAD.left}" y1="${PAD.top}" x2="${PAD.left}" y2="${base}"/>`,
    `<text class="tick" x="${PAD.left - 4}" y="${PAD.top + 4}" text-anchor="end">${fmt(max)}</text>`,
    `<text class="tick" x="${PAD.left - 4}" y="${base}" text-anchor="end">0</text>`,
  ];
  const first = trend.series[0]?.points[0];
  const last = trend.series[0]?.points.at(-1);
  if (first)
    parts.push(
      `<text class="tick" x="${x(0)}" y="${H - 8}" text-anchor="start">${esc(first.startedAt.slice(0, 10))}</text>`,
    );
  if (last && n > 1)
    parts.push(
      `<text class="tick" x="${x(n - 1)}" y="${H - 8}" text-anchor="end">${esc(last.startedAt.slice(0, 10))}</text>`,
    );
  trend.series.forEach((s, si) => {
    const color = COLORS[si % COLORS.length];
    const segs: string[][] = [[]];
    s.points.forEach((p, i) => {
      if (p.value === undefined) segs.push([]);
      else segs.at(-1)!.push(`${x(i).toFixed(1)},${y(p.value).toFixed(1)}`);
    });
    const lines = segs
      .filter((g) => g.length > 1)
      .map((g) => `<polyline fill="none" stroke="${color}" stroke-width="2" points="${g.join(' ')}"/>`);
    const dots = s.points.map((p, i) => {
      const label = `${p.runId}: ${p.value === undefined ? 'not measured' : `${fmt(p.value)} ${trend.unit}`} (${p.verdict})`;
      const common = `class="point${p.value === undefined ? ' missing' : ''}" data-run="${esc(p.runId)}" data-verdict="${esc(p.verdict)}"`;
      return p.value === undefined
        ? `<circle ${common} cx="${x(i).toFixed(1)}" cy="${base}" r="4" fill="#fff" stroke="#9ca3af" stroke-dasharray="2 1"><title>${esc(label)}</title></circle>`
        : `<circle ${common} data-value="${p.value}" cx="${x(i).toFixed(1)}" cy="${y(p.value).toFixed(1)}" r="4" fill="${color}"><title>${esc(label)}</title></circle>`;
    });
    parts.push(`<g class="series" data-series="${esc(s.name)}">${lines.join('')}${dots.join('')}</g>`);
  });
  const legend =
    trend.series.length > 1
      ? `<div class="legend">${trend.series.map((s, i) => `<span><i style="background:${COLORS[i % COLORS.length]}"></i>${esc(s.name)}</span>`).join('')}</div>`
      : '';
  return `<figure class="trend" data-trend="${trend.id}"><figcaption>${esc(trend.title)} (${esc(trend.unit)})</figcaption><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(trend.title)}">${parts.join('')}</svg>${legend}</figure>`;
}
