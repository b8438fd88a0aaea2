// @ts-check
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';

/**
 * Mercado's component boundaries as one ESLint rule, `mercado/boundaries` (see the root README,
 * "Boundaries"). Every import (static, dynamic, re-export, `import('x').T` types) and every
 * `new URL('./relative', import.meta.url)` is judged against the workspace layout, read from the
 * package.json files on disk:
 *
 * - a relative import never leaves its package, and a relative URL never points into another
 *   package: packages reach each other by name, through their declared exports;
 * - a package imports only what its package.json declares (`dependencies`; test code and the
 *   workspace root may also use `devDependencies`, and test code the workspace root's own
 *   `devDependencies`, the tooling every test runs under such as tap; a type-only import may be
 *   satisfied by `@types/<name>`);
 * - the kit (option `kit`) imports no other workspace package;
 * - a service (a workspace package under the `services` folder, the kit aside) imports no other
 *   service, neither in its sources nor in its tests;
 * - test code reaches another component only through that component's declared test export
 *   (`@mercado/x/testing`), and running code (everything but test code, in every package but the
 *   `tools` ones) never imports a test export, its own included.
 *
 * Test code is what lives under a package's `test/` folder, plus `src/testing.ts` or `src/testing/`
 * (a test export that re-exports running code, as the broker's and the kit's do).
 */

/** @typedef {{ name?: string, workspaces?: string[] | { packages?: string[] }, dependencies?: Record<string, string>, devDependencies?: Record<string, string>, peerDependencies?: Record<string, string>, optionalDependencies?: Record<string, string> }} Manifest */
/** @typedef {{ dir: string, manifest: Manifest }} Package */
/** @typedef {{ root: string, packages: Map<string, Package>, byDir: Map<string, Package> }} Workspace */

const builtins = new Set(builtinModules);

/** @type {Map<string, Manifest | null>} */
const manifests = new Map();

/** @param {string} dir */
function manifestIn(dir) {
  let manifest = manifests.get(dir);
  if (manifest === undefined) {
    const file = path.join(dir, 'package.json');
    manifest = existsSync(file)
      ? /** @type {Manifest} */ (JSON.parse(readFileSync(file, 'utf8')))
      : null;
    manifests.set(dir, manifest);
  }
  return manifest;
}

/** The nearest directory at or above `dir` whose package.json passes `accept`. */
function nearest(
  /** @type {string} */ dir,
  /** @type {(manifest: Manifest) => boolean} */ accept = () => true,
) {
  for (let current = dir; ; current = path.dirname(current)) {
    const manifest = manifestIn(current);
    if (manifest && accept(manifest)) return { dir: current, manifest };
    if (path.dirname(current) === current) return undefined;
  }
}

/** @type {Map<string, Workspace>} */
const workspaces = new Map();

/** The workspace a package belongs to: its packages by name and by folder. */
function workspaceOf(/** @type {string} */ packageDir) {
  const found = nearest(packageDir, (manifest) => manifest.workspaces !== undefined);
  const root = found?.dir ?? packageDir;
  let workspace = workspaces.get(root);
  if (workspace) return workspace;
  workspace = { root, packages: new Map(), byDir: new Map() };
  const declared = found?.manifest.workspaces;
  const patterns = Array.isArray(declared) ? declared : (declared?.packages ?? []);
  for (const pattern of patterns) {
    // npm workspaces here are folders, or folders of folders (`packages/*`).
    const dirs = pattern.endsWith('/*')
      ? listDirs(path.join(root, pattern.slice(0, -2)))
      : [path.join(root, pattern)];
    for (const dir of dirs) {
      const manifest = manifestIn(dir);
      if (!manifest?.name) continue;
      const entry = { dir, manifest };
      workspace.packages.set(manifest.name, entry);
      workspace.byDir.set(dir, entry);
    }
  }
  workspaces.set(root, workspace);
  return workspace;
}

/** @param {string} dir */
function listDirs(dir) {
  try {
    return readdirSync(dir).map((name) => path.join(dir, name));
  } catch {
    return [];
  }
}

/** Whether `file` is inside `dir` (or is it). */
function isInside(/** @type {string} */ file, /** @type {string} */ dir) {
  const relative = path.relative(dir, file);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

/** Test code: a package's `test/` folder and its test export's sources. */
function isTestCode(/** @type {string} */ file, /** @type {string} */ packageDir) {
  const [first, second] = path.relative(packageDir, file).split(path.sep);
  if (first === 'test') return true;
  return first === 'src' && (second === 'testing' || /^testing\.[cm]?[jt]s$/.test(second ?? ''));
}

/** `@scope/name/sub/path` → `['@scope/name', 'sub/path']`. */
function splitSpecifier(/** @type {string} */ specifier) {
  const parts = specifier.split('/');
  const size = specifier.startsWith('@') ? 2 : 1;
  return [parts.slice(0, size).join('/'), parts.slice(size).join('/')];
}

/** @param {Manifest} manifest @param {string} name @param {boolean} devAllowed @param {boolean} typeOnly */
function isDeclared(manifest, name, devAllowed, typeOnly) {
  const sections = [
    manifest.dependencies,
    manifest.peerDependencies,
    manifest.optionalDependencies,
    ...(devAllowed || typeOnly ? [manifest.devDependencies] : []),
  ];
  const names = typeOnly && !name.startsWith('@types/') ? [name, typesPackageOf(name)] : [name];
  return sections.some((section) => section && names.some((candidate) => candidate in section));
}

/** DefinitelyTyped's name for a package: `@scope/name` → `@types/scope__name`. */
function typesPackageOf(/** @type {string} */ name) {
  return `@types/${name.startsWith('@') ? name.slice(1).replace('/', '__') : name}`;
}

/** The literal text of a string literal or a template without expressions, else undefined. */
function literalText(/** @type {any} */ node) {
  if (!node) return undefined;
  if (node.type === 'Literal' && typeof node.value === 'string') return node.value;
  if (node.type === 'TemplateLiteral' && node.expressions.length === 0) {
    return node.quasis[0].value.cooked;
  }
  return undefined;
}

function isImportMetaUrl(/** @type {any} */ node) {
  return (
    node?.type === 'MemberExpression' &&
    node.object.type === 'MetaProperty' &&
    node.object.meta.name === 'import' &&
    node.property.type === 'Identifier' &&
    node.property.name === 'url'
  );
}

/** @type {import('eslint').Rule.RuleModule} */
const boundaries = {
  meta: {
    type: 'problem',
    docs: {
      description: "Keeps Mercado's components apart: declared imports through exports only",
    },
    schema: [
      {
        type: 'object',
        properties: {
          kit: { type: 'string' },
          services: { type: 'string' },
          tools: { type: 'array', items: { type: 'string' } },
        },
        additionalProperties: false,
      },
    ],
    messages: {
      relativeEscape:
        "'{{specifier}}' leaves {{package}}: import another package by its name, through its exports",
      urlIntoPackage:
        "'{{specifier}}' points into {{target}} from {{package}}: a package's files are its own",
      undeclared: "'{{name}}' is imported by {{package}} but not declared in its {{sections}}",
      kitImportsComponent:
        'the kit ({{package}}) imports no component: {{target}} depends on the kit, never the other way',
      serviceImportsService:
        'the service {{package}} imports the service {{target}}: services talk over HTTP or MQTT, and their tests use stand-ins',
      testThroughTestingExport:
        "a test reaches {{target}} only through its declared test export '{{target}}/testing', not '{{specifier}}'",
      runningImportsTesting:
        "running code of {{package}} imports test code ('{{specifier}}'): test exports are for tests only",
    },
  },

  create(context) {
    const options = context.options[0] ?? {};
    const kit = options.kit ?? '@mercado/common';
    const servicesFolder = options.services ?? 'services';
    const tools = new Set(options.tools ?? []);

    const file = context.filename;
    const own = nearest(path.dirname(file));
    if (!own) return {};
    const workspace = workspaceOf(own.dir);
    const ownName = own.manifest.name ?? path.basename(own.dir);
    const testCode = isTestCode(file, own.dir);
    const atRoot = own.dir === workspace.root;
    const devAllowed = testCode || atRoot;
    const mayImportTesting = testCode || tools.has(ownName);

    /** @param {Package | undefined} pkg */
    function isService(pkg) {
      if (!pkg || pkg.manifest.name === kit) return false;
      const [folder, name, ...rest] = path.relative(workspace.root, pkg.dir).split(path.sep);
      return folder === servicesFolder && name !== undefined && rest.length === 0;
    }
    const ownIsService = isService(workspace.byDir.get(own.dir));

    function checkRelative(/** @type {any} */ node, /** @type {string} */ specifier) {
      const target = path.resolve(path.dirname(file), specifier);
      if (!isInside(target, own.dir)) {
        context.report({
          node,
          messageId: 'relativeEscape',
          data: { specifier, package: ownName },
        });
        return;
      }
      if (!mayImportTesting && isTestCode(target, own.dir)) {
        context.report({
          node,
          messageId: 'runningImportsTesting',
          data: { specifier, package: ownName },
        });
      }
    }

    function checkBare(
      /** @type {any} */ node,
      /** @type {string} */ specifier,
      /** @type {boolean} */ typeOnly,
    ) {
      if (specifier.startsWith('node:') || builtins.has(specifier)) return;
      const [name, subpath] = splitSpecifier(specifier);
      const target = workspace.packages.get(name);
      if (name === ownName) {
        if (!mayImportTesting && subpath.split('/')[0] === 'testing') {
          context.report({
            node,
            messageId: 'runningImportsTesting',
            data: { specifier, package: ownName },
          });
        }
        return;
      }
      if (target && ownName === kit) {
        context.report({
          node,
          messageId: 'kitImportsComponent',
          data: { package: ownName, target: name },
        });
        return;
      }
      if (ownIsService && isService(target)) {
        context.report({
          node,
          messageId: 'serviceImportsService',
          data: { package: ownName, target: name },
        });
        return;
      }
      const rootManifest = manifestIn(workspace.root);
      const declared =
        isDeclared(own.manifest, name, devAllowed, typeOnly) ||
        // The workspace root's devDependencies are the tooling every package's tests run under (tap).
        (devAllowed && rootManifest !== null && name in (rootManifest.devDependencies ?? {}));
      if (!declared) {
        context.report({
          node,
          messageId: 'undeclared',
          data: {
            name,
            package: ownName,
            sections: devAllowed ? 'dependencies or devDependencies' : 'dependencies',
          },
        });
      }
      if (!target) return;
      const isTestingExport = subpath.split('/')[0] === 'testing';
      if (testCode && name !== kit && !isTestingExport) {
        context.report({
          node,
          messageId: 'testThroughTestingExport',
          data: { target: name, specifier },
        });
      } else if (!mayImportTesting && isTestingExport) {
        context.report({
          node,
          messageId: 'runningImportsTesting',
          data: { specifier, package: ownName },
        });
      }
    }

    function check(
      /** @type {any} */ node,
      /** @type {string | undefined} */ specifier,
      typeOnly = false,
    ) {
      if (specifier === undefined) return;
      if (specifier.startsWith('.') || specifier.startsWith('/')) checkRelative(node, specifier);
      else checkBare(node, specifier, typeOnly);
    }

    /** Type-only: `import type`, `export type`, or every named specifier marked `type`. */
    function isTypeOnly(/** @type {any} */ node) {
      if (node.importKind === 'type' || node.exportKind === 'type') return true;
      const specifiers = node.specifiers ?? [];
      return (
        specifiers.length > 0 &&
        specifiers.every(
          (/** @type {any} */ specifier) =>
            specifier.importKind === 'type' || specifier.exportKind === 'type',
        )
      );
    }

    return {
      ImportDeclaration(node) {
        check(node.source, literalText(node.source), isTypeOnly(node));
      },
      ExportNamedDeclaration(node) {
        if (node.source) check(node.source, literalText(node.source), isTypeOnly(node));
      },
      ExportAllDeclaration(node) {
        check(node.source, literalText(node.source), isTypeOnly(node));
      },
      ImportExpression(node) {
        check(node.source, literalText(node.source));
      },
      /** @param {any} node */
      TSImportType(node) {
        const argument = node.argument?.literal ?? node.argument;
        check(node, literalText(argument), true);
      },
      /** @param {any} node */
      TSExternalModuleReference(node) {
        check(node.expression, literalText(node.expression));
      },
      NewExpression(node) {
        if (node.callee.type !== 'Identifier' || node.callee.name !== 'URL') return;
        const specifier = literalText(node.arguments[0]);
        if (specifier === undefined || !specifier.startsWith('.')) return;
        if (!isImportMetaUrl(node.arguments[1])) return;
        const target = path.resolve(path.dirname(file), specifier);
        if (isInside(target, own.dir)) return;
        // Leaving the package for a plain folder (sql/ migrations) is fine; another package is not.
        for (const pkg of workspace.packages.values()) {
          if (pkg.dir !== workspace.root && isInside(target, pkg.dir)) {
            context.report({
              node: node.arguments[0],
              messageId: 'urlIntoPackage',
              data: { specifier, package: ownName, target: pkg.manifest.name ?? pkg.dir },
            });
            return;
          }
        }
      },
    };
  },
};

export default {
  meta: { name: 'mercado' },
  rules: { boundaries },
};
