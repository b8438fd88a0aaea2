/** Where the built site is: what the gateway's SITE_DIR names. */
export declare const siteDir: string;

/** Builds the site into `siteDir` (replaced whole); see build.mjs. */
export declare function buildSite(options?: { minify?: boolean }): Promise<{
  dir: string;
  outputs: Record<string, unknown>;
}>;
