/**
 * The load balancer's nginx configuration, rendered from the replica lists (load-balancer/README.md):
 * the frontend replicas for `/`, the gateway replicas for `/api/`, the broker nodes for `/mqtt`
 * (WebSocket upgrade, long timeouts) and, in a stream block, MQTT over TCP and over TLS to the
 * nodes' MQTT port.
 *
 * - Passive failover: a request whose upstream refused, timed out or answered 502/503/504 goes to
 *   the next one — never a POST (or any non-idempotent request) that may have reached an upstream:
 *   nginx's `non_idempotent` flag is left off.
 * - Keep-alive to every HTTP upstream; gzip for what upstreams send uncompressed.
 * - `limit_req` and `limit_conn` per client address, answering 429 problem+json.
 * - The request id: the client's `X-Request-Id` when it is a plausible one, else nginx's own; passed
 *   on and logged. The access log is one JSON object per line.
 * - The client's address reaches the gateway as `X-Forwarded-For: $remote_addr`, replaced, never
 *   appended to: nothing a client sends can pretend to be it.
 * - TLS: with `tls`, HTTPS on `httpsPort` and MQTT over TLS on `mqttsPort`, terminated here.
 * - With `brokerProxyProtocol`, each MQTT stream connection opens with a PROXY protocol v1 line
 *   naming the client (`proxy_protocol on;`), for the broker's MQTT_PROXY_PORT (broker/README.md).
 */
export interface NginxConfigOptions {
  /** `host:port` of each frontend replica, each gateway replica, each broker node's HTTP port. */
  frontends: readonly string[];
  gateways: readonly string[];
  brokersHttp: readonly string[];
  /**
   * `host:port` of each broker node's MQTT (TCP) listener: its MQTT_PROXY_PORT with
   * `brokerProxyProtocol`, else its MQTT_PORT.
   */
  brokersMqtt: readonly string[];
  /**
   * Pass each MQTT and MQTTS client's address to the broker in a PROXY protocol header, so that
   * its per-address limits and logs see the client rather than nginx (default off: plain TCP).
   */
  brokerProxyProtocol?: boolean;
  httpPort: number;
  mqttPort: number;
  /** The address every port listens on (`127.0.0.1` for local runs); default all of them. */
  listenAddress?: string;
  tls?: { certificate: string; key: string; httpsPort: number; mqttsPort: number };
  /** Where nginx writes its pid, its access log (`off` for none) and its temporary files. */
  pidFile: string;
  accessLog: string;
  tempDir: string;
  /** The stream module, where nginx has it as a dynamic module (Debian's). */
  streamModule?: string;
  /**
   * Failures within `failTimeoutSeconds` that take an upstream out for that long (passive health;
   * 0: never taken out, every failure only moves that request on).
   */
  maxFails?: number;
  failTimeoutSeconds?: number;
  /** nginx's workers (`auto`: one per core). Each keeps its own round robin. */
  workerProcesses?: number | 'auto';
  /** Requests per client address for `/api/` (`50r/s`), with a burst; connections per address. */
  apiRate?: string;
  apiBurst?: number;
  connectionsPerAddress?: number;
  /**
   * A path nginx answers itself (200 `ok`, not logged): the load balancer's own liveness, for a
   * container health check that must not depend on any upstream being up.
   */
  healthPath?: string;
  /**
   * Exact paths answered 404 at the edge: what the replicas serve for the compose network only
   * (their `/metrics`), which `/` would otherwise pass to a frontend.
   */
  hiddenPaths?: readonly string[];
}

const hostPort = /^[A-Za-z0-9.-]+:\d{1,5}$/;

function servers(name: string, list: readonly string[], extra = ''): string {
  if (list.length === 0) throw new Error(`${name}: no replica`);
  for (const entry of list) {
    if (!hostPort.test(entry)) throw new Error(`${name}: not host:port: ${entry}`);
  }
  return list.map((entry) => `    server ${entry}${extra};`).join('\n');
}

const tooMany = JSON.stringify({
  type: 'about:blank',
  title: 'Too many requests',
  status: 429,
  code: 'rate_limited',
});

export function renderNginxConfig(options: NginxConfigOptions): string {
  const {
    tls,
    apiRate = '50r/s',
    apiBurst = 100,
    connectionsPerAddress = 200,
    maxFails = 1,
    failTimeoutSeconds = 5,
    workerProcesses = 'auto',
    hiddenPaths = [],
  } = options;
  if (!/^\d+r\/[sm]$/.test(apiRate)) throw new Error(`apiRate: not like 50r/s: ${apiRate}`);
  if (options.listenAddress !== undefined && !/^[A-Za-z0-9.:-]+$/.test(options.listenAddress)) {
    throw new Error(`listenAddress: not an address: ${options.listenAddress}`);
  }
  const at = (port: number) =>
    options.listenAddress === undefined ? String(port) : `${options.listenAddress}:${port}`;
  const paths = [...(options.healthPath ? [options.healthPath] : []), ...hiddenPaths];
  for (const entry of paths) {
    if (!/^\/[A-Za-z0-9._/-]*$/.test(entry)) throw new Error(`not a plain path: ${entry}`);
  }
  const ownLocations = [
    ...(options.healthPath
      ? [
          `    location = ${options.healthPath} {\n      access_log off;\n      default_type text/plain;\n      return 200 "ok\\n";\n    }\n`,
        ]
      : []),
    ...hiddenPaths.map((hidden) => `    location = ${hidden} {\n      return 404;\n    }\n`),
  ].join('\n');
  const health = ` max_fails=${maxFails} fail_timeout=${failTimeoutSeconds}s`;
  const toBroker = `
    proxy_pass mercado_broker_mqtt;${options.brokerProxyProtocol ? '\n    proxy_protocol on;' : ''}
    proxy_timeout 1h;`;
  const proxied = `
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Request-Id $mercado_request_id;
      proxy_next_upstream error timeout http_502 http_503 http_504;
      proxy_next_upstream_tries 2;`;
  return `# Rendered by scripts/src/nginx-config.ts from the replica lists: do not edit by hand.
${options.streamModule ? `load_module ${options.streamModule};\n` : ''}worker_processes ${workerProcesses};
pid ${options.pidFile};
error_log stderr warn;

events {
  worker_connections 4096;
}

http {
  client_body_temp_path ${options.tempDir}/body;
  proxy_temp_path ${options.tempDir}/proxy;
  fastcgi_temp_path ${options.tempDir}/fastcgi;
  uwsgi_temp_path ${options.tempDir}/uwsgi;
  scgi_temp_path ${options.tempDir}/scgi;
  server_tokens off;
  sendfile on;
  keepalive_timeout 65s;
  client_max_body_size 1m;

  # The client's request id when it looks like one, else this request's own.
  map $http_x_request_id $mercado_request_id {
    "~^[A-Za-z0-9._:-]{8,128}$" $http_x_request_id;
    default $request_id;
  }
  map $http_upgrade $connection_upgrade {
    default upgrade;
    "" close;
  }

  log_format mercado_json escape=json '{"time":"$time_iso8601","request_id":"$mercado_request_id",'
    '"remote_addr":"$remote_addr","method":"$request_method","uri":"$request_uri",'
    '"status":$status,"bytes":$body_bytes_sent,"duration_s":$request_time,'
    '"upstream":"$upstream_addr","upstream_status":"$upstream_status"}';
  access_log ${options.accessLog === 'off' ? 'off' : `${options.accessLog} mercado_json`};

  gzip on;
  gzip_proxied any;
  gzip_vary on;
  gzip_types text/css text/javascript application/javascript application/json application/problem+json image/svg+xml;

  limit_req_zone $binary_remote_addr zone=mercado_api:10m rate=${apiRate};
  limit_conn_zone $binary_remote_addr zone=mercado_addr:10m;
  limit_req_status 429;
  limit_conn_status 429;

  upstream mercado_frontend {
${servers('frontends', options.frontends, health)}
    keepalive 32;
  }
  upstream mercado_gateway {
${servers('gateways', options.gateways, health)}
    keepalive 64;
  }
  upstream mercado_broker_ws {
${servers('brokersHttp', options.brokersHttp, health)}
  }

  server {
    listen ${at(options.httpPort)};
${tls ? `    listen ${at(tls.httpsPort)} ssl;\n    ssl_certificate ${tls.certificate};\n    ssl_certificate_key ${tls.key};\n    ssl_protocols TLSv1.2 TLSv1.3;\n` : ''}
    limit_conn mercado_addr ${connectionsPerAddress};
    add_header X-Request-Id $mercado_request_id always;
    error_page 429 = @too_many;

    location @too_many {
      default_type application/problem+json;
      return 429 '${tooMany}';
    }

${ownLocations ? `${ownLocations}\n` : ''}    location /api/ {
      limit_req zone=mercado_api${apiBurst > 0 ? ` burst=${apiBurst} nodelay` : ''};
      proxy_pass http://mercado_gateway;${proxied}
    }

    location = /mqtt {
      proxy_pass http://mercado_broker_ws;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_read_timeout 1h;
      proxy_send_timeout 1h;
    }

    location / {
      proxy_pass http://mercado_frontend;${proxied}
    }
  }
}

stream {
  upstream mercado_broker_mqtt {
${servers('brokersMqtt', options.brokersMqtt, health)}
  }
  server {
    listen ${at(options.mqttPort)};${toBroker}
  }
${
  tls
    ? `  server {
    listen ${at(tls.mqttsPort)} ssl;
    ssl_certificate ${tls.certificate};
    ssl_certificate_key ${tls.key};${toBroker}
  }
`
    : ''
}}
`;
}
