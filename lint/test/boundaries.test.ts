import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import t from 'tap';

/**
 * The repository's own ESLint configuration, run through ESLint's Node API over a small workspace
 * laid out like Mercado's: every boundary crossing is reported where it is, and nothing else.
 */

const repoConfig = fileURLToPath(new URL('../../eslint.config.js', import.meta.url));

const manifests: Record<string, object> = {
  'package.json': {
    name: 'fixture',
    private: true,
    workspaces: [
      'services/common',
      'services/users',
      'services/orders',
      'gateway',
      'broker',
      'scripts',
    ],
    devDependencies: { tap: '*', eslint: '*' },
  },
  'services/common/package.json': { name: '@mercado/common', dependencies: { pino: '*' } },
  'services/users/package.json': {
    name: '@mercado/users',
    dependencies: { '@mercado/common': '0.1.0', jose: '*' },
    devDependencies: { '@mercado/broker': '0.1.0' },
  },
  'services/orders/package.json': {
    name: '@mercado/orders',
    dependencies: { '@mercado/common': '0.1.0', '@mercado/users': '0.1.0' },
    devDependencies: { '@mercado/users': '0.1.0' },
  },
  'gateway/package.json': {
    name: '@mercado/gateway',
    dependencies: { '@mercado/common': '0.1.0' },
    devDependencies: { '@mercado/users': '0.1.0', '@types/express': '*' },
  },
  'broker/package.json': { name: '@mercado/broker', dependencies: { '@mercado/common': '0.1.0' } },
  'scripts/package.json': {
    name: '@mercado/scripts',
    dependencies: { '@mercado/common': '0.1.0', '@mercado/broker': '0.1.0' },
  },
};

type Expected = Array<[line: number, messageId: string]>;

/** Each fixture source and what the rule must report in it: line and message id, in order. */
const sources: Record<string, [code: string, expected: Expected]> = {
  // What the layout allows: the kit, declared packages, builtins, the package's own files, the
  // migrations folder beside the packages, a test export from tests, the kit's test helpers.
  'services/users/src/app.ts': [
    `import { buildHttpApp } from '@mercado/common/http';
import { SignJWT } from 'jose';
import fs from 'node:fs';
import path from 'path';
import { loadKeys } from './keys.js';
export const used = [buildHttpApp, SignJWT, fs, path, loadKeys];
export const migrations = new URL('../../../sql/users', import.meta.url);`,
    [],
  ],
  'services/users/src/testing.ts': [
    `import { freePort } from '@mercado/common/testing';
import { used } from './app.js';
export const startUsers = () => [freePort, used];`,
    [],
  ],
  'services/users/test/presence.test.ts': [
    `import t from 'tap';
import { createMercadoBroker } from '@mercado/broker/testing';
import { startUsers } from './helpers.js';
import { used } from '../src/app.js';
t.ok([createMercadoBroker, startUsers, used]);`,
    [],
  ],
  'gateway/test/with-users.test.ts': [
    `import t from 'tap';
import { startUsers } from '@mercado/users/testing';
import type { Request } from 'express';
t.ok(startUsers);
export type Seen = Request;`,
    [],
  ],
  'gateway/src/types.ts': [`import type { Request } from 'express';\nexport type R = Request;`, []],
  'services/common/src/http/app.ts': [
    `import pino from 'pino';
import { setting } from '../config/index.js';
export const used = [pino, setting];`,
    [],
  ],
  'services/common/test/kit.test.ts': [
    `import t from 'tap';
import { buildHttpApp } from '@mercado/common/http';
import { captureLogs } from '@mercado/common/testing';
t.ok([buildHttpApp, captureLogs]);`,
    [],
  ],
  'scripts/src/launcher.ts': [
    `import { freePort } from '@mercado/common/testing';
import { createMercadoBroker } from '@mercado/broker';
export const used = [freePort, createMercadoBroker];`,
    [],
  ],

  // Services never import each other: not in src, not in tests, not types, not re-exported,
  // whether declared or not.
  'services/orders/src/checkout.ts': [
    `import { buildUsersApp } from '@mercado/users';
import type { UsersConfig } from '@mercado/users';
export { startUsers } from '@mercado/users/testing';
export const used: [unknown, UsersConfig?] = [buildUsersApp];`,
    [
      [1, 'serviceImportsService'],
      [2, 'serviceImportsService'],
      [3, 'serviceImportsService'],
    ],
  ],
  'services/orders/test/checkout.test.ts': [
    `import t from 'tap';
import { startUsers } from '@mercado/users/testing';
t.ok(startUsers);`,
    [[2, 'serviceImportsService']],
  ],

  // The kit imports no component, even in its tests, even by a URL into another package's files.
  'services/common/src/mqtt/client.ts': [
    `import { createMercadoBroker } from '@mercado/broker';\nexport const used = createMercadoBroker;`,
    [[1, 'kitImportsComponent']],
  ],
  'services/common/test/main.test.ts': [
    `import t from 'tap';
import { startUsers } from '@mercado/users/testing';
const main = new URL('../../users/dist/main.js', import.meta.url);
t.ok([startUsers, main]);`,
    [
      [2, 'kitImportsComponent'],
      [3, 'urlIntoPackage'],
    ],
  ],

  // Relative paths stay inside their package.
  'gateway/test/api-document.test.ts': [
    `import t from 'tap';
import { startUsers } from '../../services/users/test/helpers.js';
t.ok(startUsers);`,
    [[2, 'relativeEscape']],
  ],
  'services/users/test/terminals.test.ts': [
    `import t from 'tap';
import { startListeners } from '../../../broker/src/listeners.js';
t.ok(startListeners);`,
    [[2, 'relativeEscape']],
  ],

  // Only what package.json declares: dependencies for running code, devDependencies for tests.
  'gateway/src/upstreams.ts': [
    `import { createMercadoBroker } from '@mercado/broker';
import type { LeftPad } from 'left-pad';
export async function later() {
  return import('ioredis');
}
export const used: [unknown, LeftPad?] = [createMercadoBroker];`,
    [
      [1, 'undeclared'],
      [2, 'undeclared'],
      [4, 'undeclared'],
    ],
  ],
  'services/users/src/presence.ts': [
    `import { startListeners } from '@mercado/broker';\nexport const used = startListeners;`,
    [[1, 'undeclared']],
  ],
  'scripts/src/bench.ts': [
    `import { Aedes } from 'aedes';\nexport const used = Aedes;`,
    [[1, 'undeclared']],
  ],

  // Tests reach another component through its test export; running code never imports one.
  'gateway/test/policy.test.ts': [
    `import t from 'tap';
import { buildUsersApp } from '@mercado/users';
t.ok(buildUsersApp);`,
    [[2, 'testThroughTestingExport']],
  ],
  'gateway/src/health.ts': [
    `import { freePort } from '@mercado/common/testing';
import { startUsers } from '@mercado/users/testing';
export const used = [freePort, startUsers];`,
    [
      [1, 'runningImportsTesting'],
      [2, 'undeclared'],
      [2, 'runningImportsTesting'],
    ],
  ],
  'services/users/src/main.ts': [
    `import { startUsers } from './testing.js';
import { newSigningKey } from '../test/helpers.js';
import { captureLogs } from '@mercado/users/testing';
export const used = [startUsers, newSigningKey, captureLogs];`,
    [
      [1, 'runningImportsTesting'],
      [2, 'runningImportsTesting'],
      [3, 'runningImportsTesting'],
    ],
  ],
};

t.test('lint reports every boundary crossing where it is, and nothing else', async (t) => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'mercado-lint-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const write = (file: string, text: string) => {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), text);
  };
  for (const [file, manifest] of Object.entries(manifests)) write(file, JSON.stringify(manifest));
  for (const [file, [code]] of Object.entries(sources)) write(file, `${code}\n`);

  const eslint = new ESLint({ cwd: root, overrideConfigFile: repoConfig });
  const results = await eslint.lintFiles(Object.keys(sources));
  t.equal(results.length, Object.keys(sources).length, 'every fixture was linted');
  for (const result of results) {
    const file = path.relative(root, result.filePath);
    t.same(
      result.messages.filter((message) => message.fatal),
      [],
      `${file} parses`,
    );
    const reported = result.messages
      .filter((message) => message.ruleId === 'mercado/boundaries')
      .map((message) => [message.line, message.messageId]);
    t.same(reported, sources[file]![1], file);
  }
});
