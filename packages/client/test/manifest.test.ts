/**
 * The package's two manifests and its README agree on the version: npm publishes `package.json`'s,
 * Deno's workspace reads `deno.json`'s, and the README's Deno example imports
 * `npm:@parley/client@<major>.<minor>`.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const read = (name: string) => readFileSync(new URL(`../${name}`, import.meta.url), 'utf8');
const manifest = (name: string) => JSON.parse(read(name)) as { name: string; version: string };

describe('@parley/client manifests', () => {
  it('deno.json has the name and version of package.json', () => {
    const npm = manifest('package.json');
    expect(npm.version).toMatch(/^\d+\.\d+\.\d+(-[\w.]+)?$/);
    expect(manifest('deno.json')).toMatchObject({ name: npm.name, version: npm.version });
  });

  it('the README imports that version on Deno', () => {
    const [major, minor] = manifest('package.json').version.split('.');
    const imports = [...read('README.md').matchAll(/npm:@parley\/client@([\w.^~-]+)/g)].map((m) => m[1]);
    expect(imports.length).toBeGreaterThan(0);
    for (const v of imports) expect(v).toBe(`${major}.${minor}`);
  });
});
