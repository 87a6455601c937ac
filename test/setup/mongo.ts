/**
 * Vitest global setup: the local MongoDB-compatible server (FerretDB v1, infra/mongo/) on its own
 * port for the whole run, stopped (and its data removed) afterwards. Builds the binary first if it
 * is missing. Tests get its URL with `inject('mongoUrl')`.
 */
import type { TestProject } from 'vitest/node';
import { down, up } from '../../infra/mongo/server.ts';

const port = Number(process.env['PARLEY_TEST_MONGO_PORT'] ?? 27118);

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const mongo = await up({ port });
  project.provide('mongoUrl', mongo.url);
  return () => down({ port });
}

declare module 'vitest' {
  export interface ProvidedContext {
    mongoUrl: string;
  }
}
