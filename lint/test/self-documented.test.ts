import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

/**
 * The project documents itself: what its code and READMEs cite is in the repository (a README, the
 * `docs/` folder), never a briefing outside it. Every source, SQL, configuration and Markdown file
 * is read; a relative Markdown link must name a file that exists, inside the repository.
 */

const root = fileURLToPath(new URL('../../', import.meta.url));
const skipped = new Set(['node_modules', 'dist', '.git', '.tap', '.mercado', 'coverage']);
const read = /\.(ts|js|mjs|cjs|json|sql|md|ya?ml|conf|sh)$|^(Dockerfile|run)$/;

function filesUnder(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (skipped.has(entry.name)) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...filesUnder(full));
    else if (read.test(entry.name)) found.push(full);
  }
  return found;
}

// Spelled in pieces, so that this file does not find itself.
const outside = [
  ['DESIGN', '.md'],
  ['TOOLCHAIN', '.md'],
  ['STYLE', '.md'],
  ['../', 'shared'],
  ['shared/', 'seeds'],
].map((parts) => parts.join(''));

const files = filesUnder(root);

t.ok(files.length > 100, `read the repository's files (${files.length})`);

t.test('no file cites a document outside the repository', async (t) => {
  const citing: string[] = [];
  for (const file of files) {
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, index) => {
      for (const needle of outside) {
        if (line.includes(needle)) {
          citing.push(`${path.relative(root, file)}:${index + 1}: ${needle}`);
        }
      }
    });
  }
  t.same(citing, []);
});

t.test('every relative Markdown link names a file in the repository', async (t) => {
  const broken: string[] = [];
  let links = 0;
  for (const file of files.filter((f) => f.endsWith('.md'))) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/\]\(([^)\s#]+)(#[^)\s]*)?\)/g)) {
      const target = match[1]!;
      if (/^[a-z]+:/i.test(target)) continue;
      links++;
      const resolved = path.resolve(path.dirname(file), target);
      const inside = !path.relative(root, resolved).startsWith('..');
      if (!inside || !existsSync(resolved)) {
        broken.push(`${path.relative(root, file)}: ${target}`);
      }
    }
  }
  t.ok(links > 10, `links checked (${links})`);
  t.same(broken, []);
});
