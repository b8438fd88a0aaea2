import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { baseServiceSettings, setting } from '@mercado/common/config';

/** frontend/dist/site, from dist/ (the built process) and from src/ (read as source) alike. */
const builtSite = fileURLToPath(new URL('../dist/site', import.meta.url));

/**
 * A frontend replica's settings (server.ts), apart from the process so that they can be read
 * without starting one: Compose's settings check (scripts/test/compose-settings.test.ts) holds the
 * compose file to them.
 */
export const frontendSettings = {
  ...baseServiceSettings,
  PORT: setting.port(8090),
  /** The built site; by default the one beside this file (dist/site). */
  SITE_DIR: z
    .string()
    .min(1)
    .default(builtSite)
    .refine((dir) => existsSync(path.join(dir, 'index.html')), {
      message: 'must be a built site, with its index.html (node frontend/build.mjs builds it)',
    }),
};
