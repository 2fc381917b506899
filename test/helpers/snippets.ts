// The ```ts blocks of a markdown file. A block whose first line is `// path/to/file.ts` names the file it
// is (so blocks import each other as the docs say); others get a path of their own under snippets/.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Snippet {
  /** Where it comes from, e.g. `README.md:56`. */
  origin: string;
  /** Its first line in the markdown file (1-based). */
  line: number;
  path: string;
  code: string;
}

export function snippetsOf(root: string, markdownFile: string): Snippet[] {
  const text = readFileSync(join(root, markdownFile), 'utf8');
  const lines = text.split('\n');
  const found: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```ts\s*$/.exec(lines[i] ?? '');
    if (!open) continue;
    const indent = open[1] ?? '';
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && (lines[j] ?? '').trim() !== '```'; j++) {
      body.push(
        (lines[j] ?? '').startsWith(indent) ? (lines[j] ?? '').slice(indent.length) : (lines[j] ?? ''),
      );
    }
    const named = /^\/\/ ([\w./-]+\.ts)\b/.exec(body[0] ?? '');
    const slug = markdownFile.replace(/[^\w]+/g, '-');
    found.push({
      origin: `${markdownFile}:${i + 1}`,
      line: i + 2,
      path: named?.[1] ?? `snippets/${slug}-${i + 1}.ts`,
      code: `${body.join('\n')}\n`,
    });
    i = j;
  }
  return found;
}

/**
 * A user's strict project, as the docs promise to compile in: `strict`, `exactOptionalPropertyTypes`,
 * `noUncheckedIndexedAccess`, ESM with NodeNext resolution (the package is reached through its exports).
 * skipLibCheck, as most apps set it: declaration files are not checked, their use in the snippets is.
 */
export const STRICT_COMPILER_OPTIONS = {
  strict: true,
  exactOptionalPropertyTypes: true,
  noUncheckedIndexedAccess: true,
  target: 'ES2022',
  module: 'NodeNext',
  moduleResolution: 'NodeNext',
  types: ['node'],
  skipLibCheck: true,
};
