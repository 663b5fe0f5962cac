import { mask, maskDeep } from '../log.js';
import { missedSuites } from './miss.js';
import type { RunSummary, TestResult } from './model.js';

// XML 1.0 forbids most control characters; a serial log is full of them.
// eslint-disable-next-line no-control-regex
const INVALID_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;

export function xmlEscape(s: string): string {
  return s
    .replace(INVALID_XML, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

const secs = (ms: number) => (ms / 1000).toFixed(3);

/** What Jenkins counts as errors: the rig, a suite bug, an interruption, and a suite that tested nothing. */
const ERRORS: string[] = ['error', 'infra', 'interrupted', 'miss'];

/**
 * A requested suite that tested nothing, as a test case of its own: an error of type `miss` that
 * names the reason, so that no JUnit reader takes a suite of skips for a pass.
 */
function missCases(summary: RunSummary): TestResult[] {
  return missedSuites(summary).map(({ suite, reason }) => ({
    suite,
    title: 'nothing tested',
    fullTitle: `${suite} nothing tested`,
    verdict: 'miss',
    durationMs: 0,
    message: `nothing was tested in ${suite}: ${reason}`,
    attachments: [],
    startedAt: summary.finishedAt,
  }));
}

function testcase(board: string, t: TestResult): string {
  const attrs = `name="${xmlEscape(t.title)}" classname="${xmlEscape(`${board}.${t.suite}`)}" time="${secs(t.durationMs)}"`;
  const body: string[] = [];
  const message = xmlEscape(mask(t.message ?? t.verdict));
  const details = xmlEscape(mask(t.details ?? t.message ?? ''));
  // Jenkins shows both as failed; the type carries our class, so a rig problem is told apart.
  if (t.verdict === 'fail') body.push(`<failure type="fail" message="${message}">${details}</failure>`);
  else if (ERRORS.includes(t.verdict))
    body.push(`<error type="${t.verdict}" message="${message}">${details}</error>`);
  else if (t.verdict === 'skipped') body.push(`<skipped>${xmlEscape(t.skipReason ?? 'skipped')}</skipped>`);
  const consoleText = t.attachments.find((a) => a.name === 'console')?.content;
  if (consoleText) body.push(`<system-out>${xmlEscape(mask(consoleText))}</system-out>`);
  return body.length
    ? `    <testcase ${attrs}>\n      ${body.join('\n      ')}\n    </testcase>`
    : `    <testcase ${attrs}/>`;
}

/** JUnit XML as Jenkins' JUnit plugin reads it: one testsuite per suite. */
export function junitXml(unmasked: RunSummary): string {
  // Every field, not a chosen few: the image URL, a skip reason, a title may quote a secret.
  const summary = maskDeep(unmasked);
  const all = [...summary.tests, ...missCases(summary)];
  const bySuite = new Map<string, TestResult[]>();
  for (const t of all) bySuite.set(t.suite, [...(bySuite.get(t.suite) ?? []), t]);
  const suites = [...bySuite].map(([name, tests]) => {
    const count = (v: string[]) => tests.filter((t) => v.includes(t.verdict)).length;
    const time = tests.reduce((a, t) => a + t.durationMs, 0);
    return [
      `  <testsuite name="${xmlEscape(`${summary.board}.${name}`)}" tests="${tests.length}" failures="${count(['fail'])}" errors="${count(ERRORS)}" skipped="${count(['skipped'])}" time="${secs(time)}" timestamp="${tests[0]?.startedAt.slice(0, 19) ?? summary.startedAt.slice(0, 19)}" hostname="${xmlEscape(summary.host)}">`,
      `    <properties>`,
      `      <property name="board" value="${xmlEscape(summary.board)}"/>`,
      `      <property name="image" value="${xmlEscape(summary.image.path)}"/>`,
      `      <property name="image.sha256" value="${xmlEscape(summary.image.sha256 ?? '')}"/>`,
      `      <property name="verdict" value="${summary.verdict}"/>`,
      `      <property name="reproduce" value="${xmlEscape(mask(summary.reproduce))}"/>`,
      `    </properties>`,
      ...tests.map((t) => testcase(summary.board, t)),
      `  </testsuite>`,
    ].join('\n');
  });
  const n = (v: string[]) => all.filter((t) => v.includes(t.verdict)).length;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="hw-test ${xmlEscape(summary.board)}" tests="${all.length}" failures="${n(['fail'])}" errors="${n(ERRORS)}" time="${secs(summary.durationMs)}">`,
    ...suites,
    '</testsuites>',
    '',
  ].join('\n');
}
