import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * `npm start`. The launcher proper (launcher.ts) runs in its own process group, under this small
 * process that stays in the terminal's. A Ctrl-C reaches every process of the terminal's group at
 * once, so without this split Postgres would get it too and shut down while the services were still
 * using it; here only this process gets it, and passes it on as a SIGTERM, so the launcher stops
 * the services first and Postgres last. The IPC channel lets the launcher notice if this process is
 * killed outright, and stop everything then too.
 */
function main(): void {
  const launcherFile = fileURLToPath(new URL('./launcher.js', import.meta.url));
  if (!existsSync(launcherFile)) {
    process.stderr.write(`mercado: cannot start: ${launcherFile} is missing (run \`npm start\`)\n`);
    process.exit(1);
  }
  const launcher = spawn(process.execPath, [launcherFile], {
    detached: true,
    // The launcher writes to this process's own output: relaying every service's lines through
    // here as well cost a process hop per line, and slowed the services whenever it lagged.
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, MERCADO_COLOR: process.stdout.isTTY ? '1' : '0' },
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, function passOn() {
      launcher.kill('SIGTERM');
    });
  }
  launcher.once('close', (code, signal) => {
    process.exit(code ?? (signal ? 1 : 0));
  });
}

main();
