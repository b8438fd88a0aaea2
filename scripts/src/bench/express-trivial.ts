import express from 'express';

/**
 * The Express trivial upstream (bench/ceilings.ts runs it as a process of its own): Express 5's
 * hello world, one route and nothing else — no kit, no logs, no database. What any Express
 * service's HTTP figure stands on here: the services and the gateway are Express apps too.
 */
const app = express();
app.get('/', function hello(_req, res) {
  res.send('Hello World!');
});
const server = app.listen(0, '127.0.0.1', function listening() {
  const address = server.address();
  process.send?.({ type: 'ready', port: typeof address === 'object' ? address?.port : undefined });
});
server.keepAliveTimeout = 65_000;
process.once('SIGTERM', () => process.exit(0));
