import express from 'express';
import { listen } from '@mercado/common/http';

/**
 * The Express trivial upstream (bench/ceilings.ts runs it as a process of its own): Express 5's
 * hello world, one route and nothing else — no middleware, no logs, no database — served by the
 * kit's `listen` as every service is (it builds requests on Express's prototypes up front, which
 * more than halves a small answer's CPU: services/common/src/http/server.ts). Served by a plain
 * `app.listen` it measured slower than the users service's JWKS here, no ceiling at all. What any
 * Express service's HTTP figure stands on: the services and the gateway are Express apps too.
 */
const app = express();
app.get('/', function hello(_req, res) {
  res.send('Hello World!');
});
const { port } = await listen(app);
process.send?.({ type: 'ready', port });
process.once('SIGTERM', () => process.exit(0));
