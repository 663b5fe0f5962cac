import type { RunSummary } from '../model.js';
import { esc } from './escape.js';
import { bootSeconds, flashMBps, matrix, trends, type CellVerdict, type MatrixCell } from './model.js';
import type { BoardRuns, RunRecord } from './runs.js';
import { trendChart } from './svg.js';

export interface PageInput {
  boards: BoardRuns[];
  /** Runs per board in the trends. */
  last: number;
  generatedAt: string;
  /** The href of a run's Allure report, or undefined when it was not rendered. */
  reportHref(run: RunRecord): string | undefined;
  /** The href of a run's summary.json (the fallback link). */
  summaryHref(run: RunRecord): string;
  /** Suites in report order (their manifests'). */
  suiteOrder: readonly string[];
}

const SYMBOL: Record<CellVerdict, string> = {
  pass: '✔',
  fail: '✘',
  error: '⚠',
  infra: '◆',
  interrupted: '■',
  skipped: '⊘',
  miss: '⊘',
  'not-run': '–',
};

const LABEL: Record<CellVerdict, string> = {
  pass: 'pass',
  fail: 'fail',
  error: 'error',
  infra: 'infra',
  interrupted: 'interrupted',
  skipped: 'skipped',
  miss: 'miss',
  'not-run': 'not run',
};

const HINT: Record<CellVerdict, string> = {
  pass: 'the image did what it should',
  fail: 'the image is broken (product defect)',
  error: 'a suite is broken (test defect)',
  infra: 'the rig broke (not the image)',
  interrupted: 'the run was stopped',
  skipped: 'skipped',
  miss: 'nothing tested: every test skipped (the reason is in the tooltip); never a pass',
  'not-run': 'not part of the latest run',
};

// Inline only: the page must render on a lab network with no way out (and the CSP forbids fetches).
const CSS = `
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#111827;background:#f9fafb}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px}
.meta{color:#6b7280;margin-bottom:16px}
table{border-collapse:collapse;background:#fff}th,td{border:1px solid #e5e7eb;padding:6px 10px;text-align:left;vertical-align:top}
th{background:#f3f4f6;white-space:nowrap}
td.cell{text-align:center;font-weight:600;min-width:90px}td.cell a{color:inherit;text-decoration:none;display:block}
.v-pass{background:#dcfce7;color:#166534}.v-fail{background:#fee2e2;color:#991b1b}
.v-error{background:#fef3c7;color:#92400e}.v-infra{background:#e0e7ff;color:#3730a3}
.v-interrupted{background:#e5e7eb;color:#374151}
.v-miss,.v-skipped{color:#4b5563;background:repeating-linear-gradient(45deg,#f3f4f6,#f3f4f6 6px,#e5e7eb 6px,#e5e7eb 12px);border:2px dashed #9ca3af;font-style:italic}
.v-not-run{color:#9ca3af;background:#fff}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:600}
code{background:#f3f4f6;padding:2px 4px;border-radius:3px;font-size:12px;word-break:break-all}
.legend{display:flex;gap:12px;flex-wrap:wrap;margin:6px 0}.legend span{display:inline-flex;align-items:center;gap:4px}
.legend i{display:inline-block;width:12px;height:12px;border-radius:2px}
.trends{display:flex;flex-wrap:wrap;gap:16px}figure.trend{margin:0;background:#fff;border:1px solid #e5e7eb;padding:8px}
figcaption{font-weight:600;margin-bottom:4px}svg .axis{stroke:#9ca3af}svg .tick{font-size:10px;fill:#6b7280}
.runs td{font-size:12px}code.sha{white-space:nowrap}
`;

function cellHtml(c: MatrixCell, input: PageInput): string {
  const href = input.reportHref(c.run) ?? input.summaryHref(c.run);
  const counts = Object.entries(c.counts)
    .map(([v, n]) => `${n} ${v}`)
    .join(', ');
  const title = [`${c.board} / ${c.suite}: ${LABEL[c.verdict]} (${HINT[c.verdict]})`, counts, c.message]
    .filter(Boolean)
    .join('\n');
  return `<td class="cell v-${c.verdict}" data-board="${esc(c.board)}" data-suite="${esc(c.suite)}" data-verdict="${c.verdict}" title="${esc(title)}"><a href="${esc(href)}">${SYMBOL[c.verdict]} ${LABEL[c.verdict]}</a></td>`;
}

function verdictBadge(v: CellVerdict): string {
  return `<span class="badge v-${v}">${SYMBOL[v]} ${LABEL[v]}</span>`;
}

function matrixHtml(input: PageInput): string {
  const { suites, rows } = matrix(input.boards, input.suiteOrder);
  const head = `<tr><th>board</th><th>latest run</th><th>image</th>${suites.map((s) => `<th>${esc(s)}</th>`).join('')}<th>reproduce</th></tr>`;
  const body = rows.map((cells, i) => {
    const b = input.boards[i];
    const s = b.latest.summary;
    const link = input.reportHref(b.latest);
    const run = link ? `<a href="${esc(link)}">${esc(s.runId)}</a>` : esc(s.runId);
    return `<tr data-board="${esc(b.board)}"><th><a href="#board-${esc(b.board)}">${esc(b.board)}</a></th><td>${run}<br>${verdictBadge(s.verdict)}</td><td>${imageHtml(s)}</td>${cells.map((c) => cellHtml(c, input)).join('')}<td><code class="reproduce">${esc(s.reproduce)}</code></td></tr>`;
  });
  return `<table id="matrix"><thead>${head}</thead><tbody>${body.join('')}</tbody></table>`;
}

function imageHtml(s: RunSummary): string {
  const sha = s.image.sha256
    ? `<br><code class="sha" title="sha256">${esc(s.image.sha256.slice(0, 12))}</code>`
    : '';
  return `${esc(s.image.version ?? s.image.path)}${sha}`;
}

function runsTable(b: BoardRuns, input: PageInput): string {
  const rows = b.runs
    .slice(-input.last)
    .reverse()
    .map((r) => {
      const s = r.summary;
      const link = input.reportHref(r);
      const boot = bootSeconds(s);
      const flash = flashMBps(s);
      return `<tr data-run="${esc(s.runId)}"><td>${link ? `<a href="${esc(link)}">${esc(s.runId)}</a>` : esc(s.runId)}</td><td>${verdictBadge(s.verdict)}</td><td>${esc(s.image.version ?? s.image.path)}</td><td>${boot === undefined ? '–' : boot.toFixed(1)}</td><td>${flash === undefined ? '–' : flash.toFixed(1)}</td><td>${(s.durationMs / 1000).toFixed(0)}</td><td>${s.message ? esc(s.message) : ''}</td></tr>`;
    });
  return `<table class="runs"><thead><tr><th>run</th><th>verdict</th><th>image</th><th>boot s</th><th>flash MB/s</th><th>duration s</th><th>message</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function boardHtml(b: BoardRuns, input: PageInput): string {
  const charts = trends(b, input.last, input.suiteOrder).map(trendChart).join('');
  return `<section class="board" id="board-${esc(b.board)}" data-board="${esc(b.board)}"><h2>${esc(b.board)} <small>(${esc(b.latest.summary.boardType)}, last ${Math.min(input.last, b.runs.length)} runs)</small></h2><p>Reproduce the latest run at a desk: <code class="reproduce">${esc(b.latest.summary.reproduce)}</code></p><div class="trends">${charts}</div>${runsTable(b, input)}</section>`;
}

export function renderPage(input: PageInput): string {
  const legend = (['pass', 'fail', 'error', 'infra', 'miss', 'not-run'] as CellVerdict[])
    .map((v) => `<span>${verdictBadge(v)} ${esc(HINT[v])}</span>`)
    .join('');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>hw-test lab dashboard</title><style>${CSS}</style></head>
<body><h1>hw-test lab dashboard</h1>
<div class="meta">${input.boards.length} boards, generated ${esc(input.generatedAt)}. Each cell is a suite's verdict in the board's latest run and links to its Allure report.</div>
<div class="legend" id="legend">${legend}</div>
${matrixHtml(input)}
${input.boards.map((b) => boardHtml(b, input)).join('\n')}
</body></html>
`;
}
