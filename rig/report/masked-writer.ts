import { readFileSync } from 'node:fs';
import { mask, maskDeep } from '../log.js';

/** allure-js's writer contract (allure-js-commons/sdk/reporter Writer), the methods we mask. */
export interface AllureWriter {
  writeResult(result: unknown): void;
  writeGroup(result: unknown): void;
  writeAttachment(distFileName: string, content: Buffer): void;
  writeAttachmentFromPath(distFileName: string, from: string): void;
  writeEnvironmentInfo(info: unknown): void;
  writeCategoriesDefinitions(categories: unknown): void;
  writeGlobals(distFileName: string, info: unknown): void;
}

/** Attachments that are text (a console excerpt, JSON timings, a log): masked; others as they are. */
function maskAttachment(content: Buffer): Buffer {
  if (content.includes(0)) return content;
  return Buffer.from(mask(content.toString('utf8')), 'utf8');
}

/**
 * Every file allure-js writes, masked on its way to disk: results (failure messages and stack
 * traces), containers, attachments (each test's console excerpt), the environment and globals.
 * A secret a board echoed, or a suite's assertion quoted, never reaches allure-results.
 */
export function maskingWriter<W extends AllureWriter>(inner: W): W {
  const masked: AllureWriter = {
    writeResult: (r) => inner.writeResult(maskDeep(r)),
    writeGroup: (g) => inner.writeGroup(maskDeep(g)),
    writeAttachment: (name, content) => inner.writeAttachment(name, maskAttachment(content)),
    writeAttachmentFromPath: (name, from) => inner.writeAttachment(name, maskAttachment(readFileSync(from))),
    writeEnvironmentInfo: (info) => inner.writeEnvironmentInfo(maskDeep(info)),
    writeCategoriesDefinitions: (c) => inner.writeCategoriesDefinitions(c),
    writeGlobals: (name, info) => inner.writeGlobals(name, maskDeep(info)),
  };
  return masked as W;
}
