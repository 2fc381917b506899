// Rewrites the benchmark table of the README (between its bench:start and bench:end markers) from the
// result files in bench/results: each file's title, date, and how many of its targets were met.
// `npm run bench` runs it last.
import { readdir, readFile, writeFile } from 'node:fs/promises';

const RESULTS = new URL('./results/', import.meta.url);
const README = new URL('../README.md', import.meta.url);
const START = '<!-- bench:start -->';
const END = '<!-- bench:end -->';

const rows = [];
for (const name of (await readdir(RESULTS))
  .filter((file) => file.endsWith('.md') && file !== 'README.md')
  .sort()) {
  const text = await readFile(new URL(name, RESULTS), 'utf8');
  const title = /^# (.+)$/m.exec(text)?.[1] ?? name;
  const date = /^- Date: (\S+)/m.exec(text)?.[1]?.slice(0, 10) ?? 'n/a';
  const met = (text.match(/(?<!not )\bmet\b/g) ?? []).length;
  const notMet = (text.match(/\*\*not met\*\*/g) ?? []).length;
  rows.push(
    `| [${name.replace(/\.md$/, '')}](bench/results/${name}) | ${title} | ${date} | ${met} | ${notMet} |`,
  );
}
const table = [
  START,
  '| result file | what | date | targets met | not met |',
  '|---|---|---|--:|--:|',
  ...rows,
  END,
].join('\n');
const readme = await readFile(README, 'utf8');
const from = readme.indexOf(START);
const to = readme.indexOf(END);
if (from < 0 || to < 0) throw new Error(`README.md has no ${START} ... ${END} section`);
await writeFile(README, `${readme.slice(0, from)}${table}${readme.slice(to + END.length)}`);
console.log(`bench/summary: ${rows.length} result files listed in README.md`);
