import http from 'node:http';
import type { Request, Response } from 'express';
import { serviceNames, type ServiceName } from './policy.js';
import type { Upstream, UpstreamPool } from './upstreams.js';

export type ProbeResult = 'ok' | 'not_ready' | 'unreachable' | 'timeout';

export interface ServiceHealth {
  status: 'ok' | 'degraded' | 'unavailable' | 'not_configured';
  /** One entry per configured URL, in configuration order (URLs are internal, so not shown). */
  upstreams?: Array<{ status: ProbeResult }>;
}

export interface HealthReport {
  status: 'ok' | 'unavailable';
  gateway: 'ok' | 'shutting_down';
  services: Record<ServiceName, ServiceHealth>;
}

/** Asks one service URL's `/health/ready`, giving up after `timeoutMs`. */
export function probeUpstream(
  upstream: Upstream,
  agent: http.Agent,
  timeoutMs: number,
): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const request = http.get(
      `${upstream.origin}/health/ready`,
      { agent, signal: AbortSignal.timeout(timeoutMs) },
      function readinessAnswered(response) {
        response.resume();
        resolve(response.statusCode === 200 ? 'ok' : 'not_ready');
      },
    );
    request.on('error', function readinessFailed(error) {
      resolve(error.name === 'AbortError' ? 'timeout' : 'unreachable');
    });
  });
}

function summarise(results: ProbeResult[]): ServiceHealth['status'] {
  const ready = results.filter((result) => result === 'ok').length;
  if (ready === results.length) return 'ok';
  return ready === 0 ? 'unavailable' : 'degraded';
}

export interface HealthOptions {
  pools: ReadonlyMap<ServiceName, UpstreamPool>;
  agent: http.Agent;
  isShuttingDown: () => boolean;
  timeoutMs?: number;
}

/**
 * `GET /api/health`: the readiness of the whole path, for people and uptime checks. Every
 * configured URL is probed in parallel; the answer is 200 only when the gateway is not stopping
 * and every one of them is ready. Concurrent calls share one round of probes.
 */
export function createHealthHandler({
  pools,
  agent,
  isShuttingDown,
  timeoutMs = 1_000,
}: HealthOptions): (req: Request, res: Response) => Promise<void> {
  let inFlight: Promise<HealthReport> | undefined;

  async function check(): Promise<HealthReport> {
    const entries = await Promise.all(
      serviceNames.map(async (name): Promise<[ServiceName, ServiceHealth]> => {
        const pool = pools.get(name);
        if (!pool) return [name, { status: 'not_configured' }];
        const results = await Promise.all(
          pool.upstreams.map((upstream) => probeUpstream(upstream, agent, timeoutMs)),
        );
        return [
          name,
          { status: summarise(results), upstreams: results.map((status) => ({ status })) },
        ];
      }),
    );
    const services = Object.fromEntries(entries) as Record<ServiceName, ServiceHealth>;
    const stopping = isShuttingDown();
    const allReady = entries.every(([, health]) =>
      ['ok', 'not_configured'].includes(health.status),
    );
    return {
      status: allReady && !stopping ? 'ok' : 'unavailable',
      gateway: stopping ? 'shutting_down' : 'ok',
      services,
    };
  }

  return async function apiHealth(_req, res) {
    inFlight ??= check().finally(() => {
      inFlight = undefined;
    });
    const report = await inFlight;
    res
      .status(report.status === 'ok' ? 200 : 503)
      .setHeader('cache-control', 'no-store')
      .json(report);
  };
}
