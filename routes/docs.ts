/**
 * The REST API described: `GET /openapi.json` (OpenAPI 3.1, generated from the route specs) and a
 * reference page at `GET /docs` (Swagger UI, served from `src/openapi/assets.gen.ts`, which
 * `scripts/build-docs.ts` makes from the `swagger-ui-dist` package: no CDN, no file system).
 * The page's URLs are relative, so it works behind a path prefix too.
 */
import { type Context, Hono } from 'hono';
import { openApiDocument } from '../src/openapi/document.ts';
import { cssGz, etag, jsGz } from '../src/openapi/assets.gen.ts';
import type { SpecGroup } from '../src/openapi/spec.ts';

/** The document's `info.version`: the wire protocol's version (docs/protocol.md). */
const API_VERSION = '1.1';

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>parley REST API</title>
<link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/init.js"></script>
</body>
</html>
`;

// A file rather than an inline script, so that a Content-Security-Policy without 'unsafe-inline' allows it.
const INIT = `window.ui = SwaggerUIBundle({ url: 'openapi.json', dom_id: '#swagger-ui', deepLinking: true });\n`;

const CACHE = 'no-cache';

type Asset = { type: string; gz: string; bytes?: Uint8Array<ArrayBuffer> };

const ASSETS: Record<string, Asset> = {
  'swagger-ui-bundle.js': { type: 'application/javascript; charset=utf-8', gz: jsGz },
  'swagger-ui.css': { type: 'text/css; charset=utf-8', gz: cssGz },
};

/** Serves a gzipped asset as it is to clients that take gzip, decompressed to the others. */
function serveAsset(c: Context, asset: Asset): Response {
  const tag = `"${etag}"`;
  const headers: Record<string, string> = { 'Content-Type': asset.type, 'Cache-Control': CACHE, ETag: tag, Vary: 'Accept-Encoding' };
  if (c.req.header('if-none-match') === tag) return c.body(null, 304, headers);
  asset.bytes ??= Uint8Array.from(atob(asset.gz), (ch) => ch.charCodeAt(0));
  if (/\bgzip\b/.test(c.req.header('accept-encoding') ?? '')) return c.body(asset.bytes, 200, { ...headers, 'Content-Encoding': 'gzip' });
  const plain = new Blob([asset.bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
  return c.body(plain, 200, headers);
}

/** `GET /openapi.json`, `/docs` and the page's assets under `/docs/`. */
export function docsRoutes(groups: readonly SpecGroup[]): Hono {
  const r = new Hono();
  let document: string | undefined;
  r.get('/openapi.json', (c) => {
    document ??= JSON.stringify(openApiDocument(groups, API_VERSION));
    return c.body(document, 200, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': CACHE });
  });
  r.get('/docs', (c) => c.html(PAGE, 200, { 'Cache-Control': CACHE }));
  r.get('/docs/init.js', (c) => c.body(INIT, 200, { 'Content-Type': 'application/javascript; charset=utf-8', 'Cache-Control': CACHE }));
  r.get('/docs/:asset', (c) => {
    const asset = ASSETS[c.req.param('asset')];
    return asset ? serveAsset(c, asset) : c.notFound();
  });
  return r;
}
