import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { composeNginxConfigs } from './compose-load-balancer.js';
import { repoRoot } from './local-state.js';

/**
 * `npm run lb:config`: writes the load balancer's nginx configuration for docker-compose.yml
 * (load-balancer/nginx.conf, and nginx-tls.conf with TLS), rendered from the compose service
 * names and ports (compose-load-balancer.ts). Run it after changing either, and commit the files.
 */
async function main(): Promise<void> {
  for (const [name, text] of Object.entries(composeNginxConfigs())) {
    const file = path.join(repoRoot, 'load-balancer', name);
    await writeFile(file, text);
    process.stdout.write(`wrote ${path.relative(repoRoot, file)}\n`);
  }
}

void main();
