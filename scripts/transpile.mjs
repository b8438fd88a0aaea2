// The build behind `npm start`: every workspace's `src/**/*.ts` to the `dist/` that `tsc -b` would
// write, with esbuild, file by file and without type checking (a fraction of a second, where
// `tsc -b` on a fresh clone takes 15 s or more). Type checking is `npm test`'s (and `npm run build`'s,
// which also writes the declaration files). Each file compiles alone, which the tsconfig's
// `isolatedModules` and `verbatimModuleSyntax` already guarantee is the same JavaScript.
// Plain JavaScript, as it runs before anything is built. A failure prints one line per error.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath, URL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** The workspaces with a TypeScript `src/` (their tsconfig maps src/ to dist/). */
function packages() {
  const { workspaces } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
  return workspaces
    .map((folder) => path.join(root, folder))
    .filter(
      (dir) => existsSync(path.join(dir, 'tsconfig.json')) && existsSync(path.join(dir, 'src')),
    );
}

function fail(lines) {
  for (const line of lines) process.stderr.write(`mercado: cannot build: ${line}\n`);
  process.exit(1);
}

let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  fail(['esbuild is not installed (a development dependency): run `npm install`']);
}

const dirs = packages();
const results = await Promise.allSettled(
  dirs.map((dir) =>
    esbuild.build({
      absWorkingDir: dir,
      entryPoints: ['src/**/*.ts'],
      outdir: 'dist',
      outbase: 'src',
      format: 'esm',
      platform: 'node',
      target: 'es2023',
      sourcemap: true,
      logLevel: 'silent',
    }),
  ),
);
const errors = results.flatMap((result, index) => {
  if (result.status === 'fulfilled') return [];
  const reported = result.reason?.errors ?? [];
  if (reported.length === 0) return [String(result.reason?.message ?? result.reason)];
  return reported.map(({ text, location }) => {
    if (!location) return text;
    const file = path.relative(root, path.join(dirs[index], location.file));
    return `${file}:${location.line}:${location.column + 1}: ${text}`;
  });
});
if (errors.length > 0) fail(errors);

// The storefront's static site (bundled, hashed, precompressed), which the gateway serves at `/`.
const { buildSite } = await import('../frontend/build.mjs');
try {
  await buildSite();
} catch (error) {
  fail(
    (error.errors ?? [{ text: error.message }]).map(({ text, location }) =>
      location
        ? `frontend/${location.file}:${location.line}:${location.column + 1}: ${text}`
        : text,
    ),
  );
}
