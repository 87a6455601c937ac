/**
 * The checked-in demo assets are what the build script makes from the sources, and the demo route
 * serves them with the right types.
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { buildDemo, GENERATED_PATH } from '../../scripts/build-demo.ts';
import { demoRoutes } from '../../routes/demo.ts';

describe('demo assets', () => {
  it('packages/demo/assets.gen.ts is up to date (run `npm run build:demo` if this fails)', async () => {
    const [built, committed] = await Promise.all([buildDemo(), readFile(GENERATED_PATH, 'utf8')]);
    expect(committed === built, 'packages/demo/assets.gen.ts is stale: run npm run build:demo').toBe(true);
  }, 30_000);

  it('serves the page, the script and the stylesheet', async () => {
    const page = await demoRoutes.request('/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain('<script type="module" src="/demo.js">');

    const js = await demoRoutes.request('/demo.js');
    expect(js.headers.get('content-type')).toMatch(/^application\/javascript/);
    expect(await js.text()).toContain('heartbeat');

    const css = await demoRoutes.request('/demo.css');
    expect(css.headers.get('content-type')).toMatch(/^text\/css/);
    expect((await demoRoutes.request('/nope')).status).toBe(404);
  });
});
