import http from 'node:http';
import { demoCategories, demoProducts, demoSellers, type DemoProduct } from './catalog.js';

/**
 * Loads the demo shop through the public API (the gateway), exactly as people would build it: the
 * admin files the categories, each seller lists their products and counts their stock. Idempotent:
 * accounts that exist are signed into, categories and SKUs that exist are skipped, and stock is
 * counted only for products created by this run.
 */

export interface DemoAccount {
  email: string;
  name: string;
  roles: Array<'customer' | 'seller'>;
}

export const demoShopper: DemoAccount = {
  email: 'compras@mercado.local',
  name: 'Lucía Compradora',
  roles: ['customer'],
};

export interface LoadDemoOptions {
  baseUrl: string;
  admin: { email: string; password: string };
  /** The password of every demo account (the shopper and both sellers). */
  demoPassword: string;
  regions: readonly string[];
}

export interface DemoSummary {
  categoriesCreated: number;
  productsCreated: number;
  productsKept: number;
  accounts: Array<{ email: string; roles: string[] }>;
}

interface Answer {
  status: number;
  body: any;
}

/**
 * A small JSON client over node:http with kept-alive connections: the loader sends some 750
 * requests, and fetch's per-request cost (streams, promise plumbing) is several times that of a
 * plain request, in a process that also relays every service's output.
 */
class DemoClient {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

  constructor(private readonly baseUrl: string) {}

  call(method: string, path: string, token?: string, body?: unknown): Promise<Answer> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const request = http.request(
        `${this.baseUrl}${path}`,
        {
          method,
          agent: this.agent,
          headers: {
            ...(token ? { authorization: `Bearer ${token}` } : {}),
            ...(payload === undefined
              ? {}
              : {
                  'content-type': 'application/json',
                  'content-length': Buffer.byteLength(payload),
                }),
          },
        },
        function onResponse(response) {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.once('error', reject);
          response.once('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            try {
              resolve({ status: response.statusCode!, body: text ? JSON.parse(text) : undefined });
            } catch {
              reject(
                new Error(
                  `demo data: ${method} ${path} answered ${response.statusCode} with no JSON`,
                ),
              );
            }
          });
        },
      );
      request.once('error', reject);
      request.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }

  async expect(method: string, path: string, statuses: number[], token?: string, body?: unknown) {
    const answer = await this.call(method, path, token, body);
    if (!statuses.includes(answer.status)) {
      const code = answer.body?.code ?? answer.status;
      throw new Error(`demo data: ${method} ${path} answered ${answer.status} (${code})`);
    }
    return answer;
  }

  /**
   * Registers the account, or signs into it when it exists (registering first keeps failed logins,
   * which count towards login throttling, out of the picture).
   */
  async account(account: DemoAccount, password: string): Promise<{ token: string; id: string }> {
    const registered = await this.expect('POST', '/api/auth/register', [201, 409], undefined, {
      email: account.email,
      password,
      name: account.name,
      roles: account.roles,
    });
    const session =
      registered.status === 201
        ? registered
        : await this.expect('POST', '/api/auth/login', [200], undefined, {
            email: account.email,
            password,
          });
    return { token: session.body.accessToken, id: session.body.user.id };
  }
}

interface CategoryNode {
  id: string;
  slug: string;
  children: CategoryNode[];
}

function flatten(nodes: CategoryNode[], into = new Map<string, string>()): Map<string, string> {
  for (const node of nodes) {
    into.set(node.slug, node.id);
    flatten(node.children, into);
  }
  return into;
}

/**
 * Runs `work` over `items` with at most `limit` in flight, stopping at the first failure. A few
 * at a time keep both cores busy (each request waits on the gateway, a service and Postgres in
 * turn) without queueing more than they can serve.
 */
async function inParallel<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>) {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      try {
        await work(items[next++]!);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Files the demo categories that are missing, parents before children (each level at once). */
async function fileCategories(
  client: DemoClient,
  adminToken: string,
): Promise<{ created: number; categories: Map<string, string> }> {
  const tree = await client.expect('GET', '/api/categories', [200]);
  const categories = flatten(tree.body.items);
  let created = 0;
  let missing = demoCategories.filter((category) => !categories.has(category.slug));
  while (missing.length > 0) {
    const level = missing.filter((category) => !category.parent || categories.has(category.parent));
    if (level.length === 0) throw new Error('demo data: a category has an unknown parent');
    await Promise.all(
      level.map(async (category) => {
        const answer = await client.expect('POST', '/api/categories', [201], adminToken, {
          slug: category.slug,
          name: category.name,
          parentId: category.parent ? categories.get(category.parent) : null,
        });
        categories.set(category.slug, answer.body.id);
        created++;
      }),
    );
    missing = missing.filter((category) => !level.includes(category));
  }
  return { created, categories };
}

/** The SKUs a seller already lists (every page). */
async function listedSkus(client: DemoClient, sellerId: string): Promise<Set<string>> {
  const skus = new Set<string>();
  let cursor: string | null = null;
  do {
    const query = `seller=${sellerId}&sort=newest&limit=100${cursor ? `&cursor=${cursor}` : ''}`;
    const page = await client.expect('GET', `/api/products?${query}`, [200]);
    for (const item of page.body.items as Array<{ sku: string }>) skus.add(item.sku);
    cursor = page.body.nextCursor;
  } while (cursor);
  return skus;
}

const concurrentProducts = 6;

export async function loadDemoData(options: LoadDemoOptions): Promise<DemoSummary> {
  const client = new DemoClient(options.baseUrl);
  try {
    return await loadThrough(client, options);
  } finally {
    client.close();
  }
}

async function loadThrough(client: DemoClient, options: LoadDemoOptions): Promise<DemoSummary> {
  const admin = await client.expect('POST', '/api/auth/login', [200], undefined, options.admin);
  const adminToken: string = admin.body.accessToken;

  // The categories and the accounts do not depend on each other.
  const [{ created: categoriesCreated, categories }, , sellers] = await Promise.all([
    fileCategories(client, adminToken),
    client.account(demoShopper, options.demoPassword),
    Promise.all(
      demoSellers.map(async (seller) => {
        const account = await client.account(
          { email: seller.email, name: seller.name, roles: ['customer', 'seller'] },
          options.demoPassword,
        );
        return { key: seller.key, ...account, existing: await listedSkus(client, account.id) };
      }),
    ),
  ]);
  let productsCreated = 0;
  let productsKept = 0;
  const bySeller = new Map(sellers.map((seller) => [seller.key, seller]));
  await inParallel(
    demoProducts(options.regions),
    concurrentProducts,
    async (product: DemoProduct) => {
      const seller = bySeller.get(product.seller)!;
      if (seller.existing.has(product.sku)) {
        productsKept++;
        return;
      }
      const created = await client.call('POST', '/api/products', seller.token, {
        sku: product.sku,
        name: product.name,
        description: product.description,
        priceMinor: product.priceMinor,
        currency: product.currency,
        categoryId: categories.get(product.category) ?? null,
        imageUrls: product.imageUrls,
        attributes: product.attributes,
      });
      if (created.status === 409) {
        productsKept++; // inactive, or created by a run that stopped half way
        return;
      }
      if (created.status !== 201) {
        throw new Error(`demo data: creating ${product.sku} answered ${created.status}`);
      }
      productsCreated++;
      // One region after the other: both would wait on the same product's settings lock anyway.
      for (const [region, onHand] of Object.entries(product.stock)) {
        await client.expect(
          'PUT',
          `/api/inventory/${created.body.id}/${region}`,
          [200],
          seller.token,
          {
            onHand,
            reason: 'demo stock',
            lowStockThreshold: product.lowStockThreshold,
          },
        );
      }
    },
  );
  return {
    categoriesCreated,
    productsCreated,
    productsKept,
    accounts: [
      { email: demoShopper.email, roles: demoShopper.roles },
      ...demoSellers.map((seller) => ({ email: seller.email, roles: ['customer', 'seller'] })),
    ],
  };
}
