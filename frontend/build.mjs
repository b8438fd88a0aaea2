// The storefront's build: `site/src/pages/*.ts` (one entry per page) and `site/styles/site.css`
// (Bootstrap from npm, then the shop's own rules) bundled by esbuild into `dist/site/assets/` under
// hashed names, each page (`site/pages/**/*.html`: its <title>, then its content) written into
// `site/layout.html` with the tags of its hashed files, `public/` copied, and every text file
// precompressed (.br, .gz) for the static server.
// Plain JavaScript: it runs before anything is built (scripts/transpile.mjs calls it for
// `npm start`, the test runner after `tsc -b`), and on its own: `node frontend/build.mjs`.
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { cp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Where the built site is: what the gateway's SITE_DIR names. */
export const siteDir = path.join(here, 'dist', 'site');

async function files(dir, prefix = '') {
  const entries = await readdir(dir, { withFileTypes: true });
  const found = await Promise.all(
    entries.map((entry) =>
      entry.isDirectory()
        ? files(path.join(dir, entry.name), `${prefix}${entry.name}/`)
        : [`${prefix}${entry.name}`],
    ),
  );
  return found.flat();
}

/** A page's tags: its stylesheet, its script, and the chunks it imports (preloaded). */
function tagsFor(page, outputs) {
  const entry = Object.entries(outputs).find(
    ([, output]) => output.entryPoint === `site/src/pages/${page}.ts`,
  );
  if (!entry) throw new Error(`site/pages/${page}.html has no site/src/pages/${page}.ts`);
  const [script, output] = entry;
  const href = (file) => `/${path.relative('dist/site', file).split(path.sep).join('/')}`;
  const preloads = output.imports
    .filter((imported) => imported.kind === 'import-statement')
    .map((imported) => `<link rel="modulepreload" href="${href(imported.path)}">`);
  const styles = Object.entries(outputs)
    .filter(([, out]) => out.entryPoint === 'site/styles/site.css')
    .map(([file]) => `<link rel="stylesheet" href="${href(file)}">`);
  return {
    styles: styles.join('\n    '),
    scripts: [...preloads, `<script type="module" src="${href(script)}"></script>`].join('\n    '),
  };
}

/**
 * Builds the site into `dist/site` (replaced whole). `minify` off keeps it readable while
 * debugging; the shipped site is minified.
 */
export async function buildSite({ minify = true } = {}) {
  const esbuild = await import('esbuild');
  const out = siteDir;
  await rm(out, { recursive: true, force: true });
  const pages = (await files(path.join(here, 'site', 'pages'))).filter((name) =>
    name.endsWith('.html'),
  );
  const result = await esbuild.build({
    absWorkingDir: here,
    entryPoints: [
      ...pages.map((page) => `site/src/pages/${page.slice(0, -'.html'.length)}.ts`),
      'site/styles/site.css',
    ],
    outdir: 'dist/site/assets',
    entryNames: '[name]-[hash]',
    chunkNames: 'chunk-[hash]',
    assetNames: '[name]-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
    minify,
    sourcemap: 'linked',
    metafile: true,
    legalComments: 'linked',
    logLevel: 'silent',
    loader: { '.woff2': 'file', '.woff': 'file' },
    define: { 'process.env.NODE_ENV': '"production"', global: 'globalThis' },
  });
  const outputs = result.metafile.outputs;
  const layout = await readFile(path.join(here, 'site', 'layout.html'), 'utf8');
  for (const page of pages) {
    const source = await readFile(path.join(here, 'site', 'pages', page), 'utf8');
    const title = /^\s*(<title>[^<]*<\/title>)\s*/.exec(source);
    if (!title) throw new Error(`site/pages/${page} must start with its <title>`);
    const tags = tagsFor(page.slice(0, -'.html'.length), outputs);
    // Replacer functions: a `$` in a page is text, not a replacement pattern.
    const html = layout
      .replace('<!-- title -->', () => title[1])
      .replace('<!-- main -->', () => source.slice(title[0].length).trimEnd())
      .replace('<!-- styles -->', () => tags.styles)
      .replace('<!-- scripts -->', () => tags.scripts);
    await mkdir(path.dirname(path.join(out, page)), { recursive: true });
    await writeFile(path.join(out, page), html);
  }
  await cp(path.join(here, 'public'), out, { recursive: true });
  for (const name of await files(out)) {
    if (!/\.(html|js|css|svg|json|txt)$/.test(name)) continue;
    const full = path.join(out, name);
    const body = await readFile(full);
    if (body.length < 512) continue;
    await writeFile(`${full}.gz`, gzipSync(body, { level: 9 }));
    await writeFile(
      `${full}.br`,
      brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
    );
  }
  return { dir: out, outputs };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    const { dir } = await buildSite({ minify: !process.argv.includes('--no-minify') });
    process.stdout.write(`site built in ${path.relative(process.cwd(), dir) || '.'}\n`);
  } catch (error) {
    for (const problem of error.errors ?? [{ text: error.message }]) {
      const where = problem.location
        ? `frontend/${problem.location.file}:${problem.location.line}:${problem.location.column + 1}: `
        : '';
      process.stderr.write(`mercado: cannot build the site: ${where}${problem.text}\n`);
    }
    process.exit(1);
  }
}
