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

class DemoClient {
  constructor(private readonly baseUrl: string) {}

  async call(method: string, path: string, token?: string, body?: unknown): Promise<Answer> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
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

/** Runs `work` over `items`, a few at a time: fast, without a burst the rate limits would refuse. */
async function inBatches<T>(items: T[], size: number, work: (item: T) => Promise<void>) {
  for (let start = 0; start < items.length; start += size) {
    await Promise.all(items.slice(start, start + size).map(work));
  }
}

export async function loadDemoData(options: LoadDemoOptions): Promise<DemoSummary> {
  const client = new DemoClient(options.baseUrl);
  const admin = await client.expect('POST', '/api/auth/login', [200], undefined, options.admin);
  const adminToken: string = admin.body.accessToken;

  const tree = await client.expect('GET', '/api/categories', [200]);
  const categories = flatten(tree.body.items);
  let categoriesCreated = 0;
  for (const category of demoCategories) {
    if (categories.has(category.slug)) continue;
    const created = await client.expect('POST', '/api/categories', [201], adminToken, {
      slug: category.slug,
      name: category.name,
      parentId: category.parent ? categories.get(category.parent) : null,
    });
    categories.set(category.slug, created.body.id);
    categoriesCreated++;
  }

  await client.account(demoShopper, options.demoPassword);
  const products = demoProducts(options.regions);
  let productsCreated = 0;
  let productsKept = 0;
  for (const seller of demoSellers) {
    const account = await client.account(
      { email: seller.email, name: seller.name, roles: ['customer', 'seller'] },
      options.demoPassword,
    );
    const existing = new Set<string>();
    let cursor: string | null = null;
    do {
      const query = `seller=${account.id}&sort=newest&limit=100${cursor ? `&cursor=${cursor}` : ''}`;
      const page = await client.expect('GET', `/api/products?${query}`, [200]);
      for (const item of page.body.items as Array<{ sku: string }>) existing.add(item.sku);
      cursor = page.body.nextCursor;
    } while (cursor);

    const mine = products.filter((product) => product.seller === seller.key);
    await inBatches(mine, 4, async (product: DemoProduct) => {
      if (existing.has(product.sku)) {
        productsKept++;
        return;
      }
      const created = await client.call('POST', '/api/products', account.token, {
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
      for (const [region, onHand] of Object.entries(product.stock)) {
        await client.expect(
          'PUT',
          `/api/inventory/${created.body.id}/${region}`,
          [200],
          account.token,
          { onHand, reason: 'demo stock', lowStockThreshold: product.lowStockThreshold },
        );
      }
    });
  }
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
