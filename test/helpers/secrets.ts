import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/** Every file under `dir` (reports: summary.json, junit.xml, serial log, Allure results) holding a secret. */
export function findSecrets(dir: string, secrets: readonly string[]): { file: string; secret: string }[] {
  const hits: { file: string; secret: string }[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = path.join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) {
        const text = readFileSync(p).toString('latin1');
        for (const s of secrets)
          if (text.includes(s)) hits.push({ file: path.relative(dir, p), secret: `${s.slice(0, 4)}…` });
      }
    }
  };
  walk(dir);
  return hits;
}
