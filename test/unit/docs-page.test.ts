/**
 * The reference page at `/docs`: Swagger UI served by the app itself from the checked-in assets (no
 * CDN), which are what the installed `swagger-ui-dist` ships.
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { GENERATED_PATH, readGenerated, sourceAssets } from '../../scripts/build-docs.ts';
import { docsRoutes } from '../../routes/docs.ts';

const routes = docsRoutes([]);

describe('the API reference page', () => {
  it('src/openapi/assets.gen.ts holds the installed swagger-ui-dist (run `npm run build:docs` if this fails)', async () => {
    const [source, committed] = await Promise.all([sourceAssets(), readFile(GENERATED_PATH, 'utf8')]);
    const held = readGenerated(committed);
    expect(held?.version).toBe(source.version);
    expect(held?.js === source.js && held?.css === source.css, 'src/openapi/assets.gen.ts is stale: run npm run build:docs').toBe(true);
  });

  it('loads its script, stylesheet and the document from this server, by relative URLs', async () => {
    const page = await routes.request('/docs');
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    for (const url of ['docs/swagger-ui-bundle.js', 'docs/init.js', 'docs/swagger-ui.css']) expect(html).toContain(`"${url}"`);
    expect(html).not.toMatch(/https?:\/\//);
    const init = await routes.request('/docs/init.js');
    expect(init.headers.get('content-type')).toMatch(/^application\/javascript/);
    expect(await init.text()).toContain("url: 'openapi.json'");
  });

  it('serves Swagger UI gzipped to browsers, plain to clients without gzip, and 304 when unchanged', async () => {
    const source = await sourceAssets();
    const gz = await routes.request('/docs/swagger-ui-bundle.js', { headers: { 'Accept-Encoding': 'gzip, deflate, br' } });
    expect(gz.headers.get('content-encoding')).toBe('gzip');
    const zipped = new Uint8Array(await gz.arrayBuffer());
    expect(zipped.length).toBeLessThan(source.js.length / 3);
    const unzipped = await new Response(new Blob([zipped]).stream().pipeThrough(new DecompressionStream('gzip'))).text();
    expect(unzipped === source.js).toBe(true);

    const plain = await routes.request('/docs/swagger-ui.css');
    expect(plain.headers.get('content-encoding')).toBeNull();
    expect(plain.headers.get('content-type')).toMatch(/^text\/css/);
    expect((await plain.text()) === source.css).toBe(true);

    const etag = plain.headers.get('etag') ?? '';
    expect(etag).toMatch(/^"[0-9a-f]{16}"$/);
    const again = await routes.request('/docs/swagger-ui.css', { headers: { 'If-None-Match': etag } });
    expect(again.status).toBe(304);
    expect((await routes.request('/docs/nope.js')).status).toBe(404);
  });
});
