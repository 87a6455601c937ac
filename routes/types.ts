/** What the app tells its routes about the instance: a leaf module, so that app and routes import it. */

export type Readiness = 'starting' | 'ready' | 'draining' | 'degraded' | 'full';

/** What the health routes and the upgrade path need to know about the instance. */
export type AppState = {
  instanceId: string;
  readiness(): Readiness;
  /** False once a drain has started closing sockets: upgrades are refused from then on. */
  accepting(): boolean;
  connections(): number;
  /** Counts a connection refused for capacity. */
  shed(): void;
};
