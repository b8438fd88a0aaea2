import http from 'node:http';

/**
 * The least a Node reverse proxy can do: node:http in, node:http out through one keep-alive agent,
 * no policy, no auth, no logs. `npm run bench:gateway` runs it in front of the same service as the
 * gateway, so the gateway's figures sit next to the ceiling any Node proxy has on this machine.
 */
const target = new URL(process.env.TARGET_URL ?? 'http://127.0.0.1:3000');
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

const server = http.createServer(function forward(req, res) {
  const upstream = http.request(
    {
      host: target.hostname,
      port: target.port,
      method: req.method,
      path: req.url,
      headers: req.headers,
      agent,
    },
    function relay(upstreamRes) {
      res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
      upstreamRes.pipe(res);
    },
  );
  upstream.on('error', () => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  req.pipe(upstream);
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
process.once('SIGTERM', () => process.exit(0));
