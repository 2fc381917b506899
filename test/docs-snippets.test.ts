// Every ```ts block of README.md and docs/*.md type-checks as a user's code would: a strict project
// (`strict`, `exactOptionalPropertyTypes`) that depends on the package by name. A block whose first line
// is `// path/to/file.ts` is written to that path, so blocks import each other as the docs say;
// `src/your-app.ts` holds the functions the docs leave to the app.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { STRICT_COMPILER_OPTIONS, snippetsOf } from './helpers/snippets.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

const markdownFiles = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

// What the docs call "your" code: declared here with the types an app would have.
const YOUR_APP = `import type { FastifyReply, FastifyRequest } from 'fastify';
export declare function signupHandler(request: FastifyRequest, reply: FastifyReply): Promise<unknown>;
export declare function yourOldPasswordCheck(password: string, passwordHash: string): Promise<boolean>;
export declare function createYourSession(localUserId: string): Promise<{ token: string }>;
`;

const TSCONFIG = {
  compilerOptions: { ...STRICT_COMPILER_OPTIONS, noEmit: true },
  include: ['**/*.ts'],
  exclude: ['node_modules'],
};

let dir: string | undefined;
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('every ts block of README.md and docs/*.md compiles under strict, against the package by name', () => {
  const snippets = markdownFiles.flatMap((file) => snippetsOf(ROOT, file));
  expect(snippets.length).toBeGreaterThanOrEqual(6);
  dir = mkdtempSync(join(tmpdir(), 'wm-snippets-'));
  const project = dir;
  writeFileSync(join(project, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify(TSCONFIG, null, 2));
  mkdirSync(join(project, 'node_modules', '@workos-inc'), { recursive: true });
  symlinkSync(ROOT, join(project, 'node_modules', 'workos-migrate'), 'dir');
  for (const name of ['drizzle-orm', 'fastify', 'pg', 'postgres', 'express', '@types', '@workos-inc/node']) {
    symlinkSync(join(ROOT, 'node_modules', name), join(project, 'node_modules', name), 'dir');
  }
  const written = new Map<string, string>([['src/your-app.ts', 'test/docs-snippets.test.ts']]);
  mkdirSync(join(project, 'src'), { recursive: true });
  writeFileSync(join(project, 'src/your-app.ts'), YOUR_APP);
  for (const snippet of snippets) {
    const earlier = written.get(snippet.path);
    expect(earlier, `${snippet.origin} and ${earlier} both name ${snippet.path}`).toBeUndefined();
    written.set(snippet.path, snippet.origin);
    mkdirSync(dirname(join(project, snippet.path)), { recursive: true });
    writeFileSync(join(project, snippet.path), snippet.code);
  }

  let output = '';
  try {
    execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', project], {
      cwd: project,
      encoding: 'utf8',
    });
  } catch (error) {
    output = String((error as { stdout?: string }).stdout ?? error);
  }
  // file(line,col): error ... -> README.md:line: error ...
  const byPath = new Map(snippets.map((snippet) => [snippet.path, snippet]));
  const errors = output
    .split('\n')
    .filter((line) => line.includes('error TS'))
    .map((line) =>
      line.replace(/^([^(]+)\((\d+),(\d+)\)/, (whole, path: string, row: string) => {
        const snippet = byPath.get(path);
        return snippet ? `${snippet.origin.split(':')[0]}:${snippet.line + Number(row) - 1}` : whole;
      }),
    );
  expect(errors).toEqual([]);
}, 120_000);
