/**
 * The deployment files under infra/ (compose.yaml and what it mounts, the Dockerfile, HAProxy's and
 * nginx's compose configs, the Grafana dashboard): they parse, refer only to files that exist, give
 * the chat instances and workers what their config requires in production, check and scrape the
 * instances on their operations port, and the dashboard queries only metrics the code exports. Fast, no network; HAProxy, nginx and docker compose are
 * run when installed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config.ts';
import { loadWorkerConfig } from '../../workers/config.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const INFRA = join(ROOT, 'infra');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

type Service = {
  image?: string;
  build?: { context: string; dockerfile?: string };
  command?: string[];
  environment?: Record<string, string | number>;
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  deploy?: { replicas?: string | number };
  profiles?: string[];
  expose?: string[];
  healthcheck?: { test: string[] };
};
const compose = parse(read('infra/compose.yaml'), { merge: true }) as { services: Record<string, Service> };
const services = compose.services;

/** Compose's interpolation: `${X}`, `${X:-default}`, `${X:?message}` (throws when unset), `$$`. */
function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(/\$\$|\$\{(\w+)(?::([-?])([^}]*))?\}/g, (all, name?: string, op?: string, arg?: string) => {
    if (all === '$$') return '$';
    const v = env[name as string];
    if (v) return v;
    if (op === '?') throw new Error(`${name}: ${arg}`);
    return op === '-' ? (arg as string) : '';
  });
}
const envOf = (name: string, env: Record<string, string>) =>
  Object.fromEntries(Object.entries(services[name]?.environment ?? {}).map(([k, v]) => [k, interpolate(String(v), env)]));

/** Whether `cmd args` runs and succeeds (`docker compose version` fails where only docker is installed). */
const has = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
/**
 * Runs a checker: its status and its output. `stdout: 'ignore'` gives it /dev/null instead (nginx
 * opens /dev/stdout for the access log, which fails on the socket pair Node uses for a pipe).
 */
const run = (cmd: string, args: string[], opts: { env?: Record<string, string>; stdout?: 'pipe' | 'ignore' } = {}) => {
  const r = spawnSync(cmd, args, {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 15_000,
    stdio: ['ignore', opts.stdout ?? 'pipe', 'pipe'],
    env: { ...process.env, ...opts.env },
  });
  return { status: r.status, output: `${r.stdout ?? ''}${r.stderr}` };
};

describe('infra/compose.yaml', () => {
  const chatServices = Object.keys(services).filter((s) => /^chat\d*$/.test(s));

  it('has every service of the topology, on the official images', () => {
    for (const name of ['mongo', 'redis-init', 'presence-worker', 'archive-worker', 'haproxy', 'nginx']) {
      expect(services, name).toHaveProperty(name);
    }
    const redisNodes = Object.keys(services).filter((s) => /^redis-\d+$/.test(s));
    expect(redisNodes).toHaveLength(6);
    for (const n of redisNodes) {
      expect(services[n]?.image).toBe('redis:7');
      expect(services[n]?.command?.join(' ')).toMatch(/--cluster-enabled yes/);
    }
    expect(services['redis-init']?.command?.join(' ')).toMatch(/redis-cli --cluster create .*--cluster-replicas 1 --cluster-yes/);
    expect(services['mongo']?.image).toBe('mongo:7');
    expect(services['haproxy']?.image).toBe('haproxy:2.6');
    expect(services['nginx']?.image).toBe('nginx:1.27');
    // Several chat instances: explicit services, or one service with replicas.
    const replicas = chatServices.map((s) => Number(interpolate(String(services[s]?.deploy?.replicas ?? 1), {})));
    expect(replicas.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(2);
  });

  it('gives the chat instances what src/config.ts requires in production, and refuses to start without JWT_SECRET', () => {
    expect(chatServices.length).toBeGreaterThan(0);
    for (const name of chatServices) {
      expect(() => envOf(name, {})).toThrow(/JWT_SECRET/);
      const env = envOf(name, { JWT_SECRET: 'a-test-secret-of-32-characters!!' });
      const config = loadConfig(env);
      expect(config).toMatchObject({ production: true, auth: { mode: 'jwt' }, mongoUrl: 'mongodb://mongo:27017/parley' });
      // Every node named is a Redis node of this file, on the port it listens on.
      expect(config.redisNodes).toHaveLength(6);
      for (const node of config.redisNodes ?? []) {
        const [host, port] = node.split(':');
        expect(services[host as string]?.command).toEqual(expect.arrayContaining(['--port', port]));
      }
      expect(services[name]?.depends_on).toMatchObject({
        'redis-init': { condition: 'service_completed_successfully' },
        mongo: { condition: 'service_healthy' },
      });
    }
  });

  it('gives the workers a valid configuration, and Prometheus finds every instance and worker', () => {
    type SdConfig = { names: string[]; port: number };
    const prometheus = parse(read('infra/prometheus/prometheus.yml')) as { scrape_configs: { dns_sd_configs?: SdConfig[] }[] };
    const targets = prometheus.scrape_configs.flatMap((j) => j.dns_sd_configs ?? []).flatMap((sd) => sd.names.map((n) => `${n}:${sd.port}`));
    for (const [name, kind] of [['presence-worker', 'presence'], ['archive-worker', 'archive']] as const) {
      const config = loadWorkerConfig(kind, envOf(name, {}));
      expect(config.host).toBe('0.0.0.0'); // the default 127.0.0.1 would hide /metrics from Prometheus
      expect(services[name]?.command?.join(' ')).toContain(`workers/${kind}.ts`);
      expect(targets).toContain(`${name}:${config.port}`);
    }
    for (const name of chatServices) {
      // On the operations port (see below), where a scrape is not queued behind a connect storm.
      const config = loadConfig(envOf(name, { JWT_SECRET: 'a-test-secret-of-32-characters!!' }));
      expect(targets).toContain(`${name}:${config.opsPort}`);
      expect(targets).not.toContain(`${name}:${config.port}`);
    }
  });

  it('checks the chat instances on their operations port (OPS_PORT): HAProxy, the healthcheck, Prometheus', () => {
    // The backend's lines in haproxy/compose.cfg, without comments, as words.
    const backend: string[][] = [];
    let inChat = false;
    for (const raw of read('infra/haproxy/compose.cfg').split('\n')) {
      const line = raw.replace(/#.*/, '').trimEnd();
      if (/^\S/.test(line)) inChat = line.trim() === 'backend chat';
      else if (inChat && line.trim()) backend.push(line.trim().split(/\s+/));
    }
    const directive = (name: string) => backend.filter((words) => words[0] === name);
    expect(directive('option')).toContainEqual(['option', 'httpchk', 'GET', '/ready']);
    const [defaults, ...more] = directive('default-server');
    expect(more).toEqual([]);
    expect(defaults).toContain('check');
    const checkPort = Number(defaults?.[(defaults?.indexOf('port') ?? -1) + 1]);
    // No server line overrides the port or sends the checks elsewhere.
    for (const words of [...directive('server-template'), ...directive('server')]) {
      expect(words, words.join(' ')).not.toContain('port');
      expect(words, words.join(' ')).not.toContain('addr');
    }
    for (const name of chatServices) {
      const config = loadConfig(envOf(name, { JWT_SECRET: 'a-test-secret-of-32-characters!!' }));
      expect(config.opsPort, `${name}: OPS_PORT`).not.toBeNull();
      expect(config.opsPort).not.toBe(config.port);
      expect(checkPort, `compose.cfg default-server: port ${config.opsPort}`).toBe(config.opsPort);
      expect(config.host).toBe('0.0.0.0'); // the operations port listens on HOST too
      expect(services[name]?.expose).toEqual(expect.arrayContaining([String(config.port), String(config.opsPort)]));
      expect(services[name]?.healthcheck?.test.join(' ')).toContain(`http://127.0.0.1:${config.opsPort}/health`);
    }
  });

  it('forms the Redis Cluster with a script sh can parse', () => {
    const script = interpolate(services['redis-init']?.command?.at(-1) ?? '', {});
    const r = spawnSync('sh', ['-n'], { input: script, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('builds from and mounts only files that exist', () => {
    const paths: string[] = [];
    for (const [name, s] of Object.entries(services)) {
      if (s.build) {
        const context = resolve(INFRA, s.build.context);
        paths.push(context, resolve(context, s.build.dockerfile ?? 'Dockerfile'));
      }
      for (const v of s.volumes ?? []) {
        const source = v.split(':')[0] as string;
        if (/^[./]/.test(source)) paths.push(resolve(INFRA, source));
        else expect(compose, `${name}: named volume ${source}`).toHaveProperty(['volumes', source]);
      }
    }
    expect(paths.length).toBeGreaterThan(5);
    for (const p of paths) expect(existsSync(p), p).toBe(true);
  });

  it('builds an image whose every COPY source exists and passes the build-context filter', () => {
    const dockerfile = read('infra/Dockerfile');
    const ignore = read('infra/Dockerfile.dockerignore').split('\n');
    expect(dockerfile).toMatch(/^FROM node:20-bookworm-slim\b/m);
    expect(dockerfile).toMatch(/^CMD .*src\/main\.node\.ts/m);
    const copies = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => (m[1] as string).split(/\s+/));
    expect(copies).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', 'src', 'workers']));
    for (const src of copies) {
      expect(existsSync(join(ROOT, src)), src).toBe(true);
      const reincludes = (l: string) => l === `!${src}` || l === `!${src}/**` || (l.endsWith('/**') && src.startsWith(l.slice(1, -2)));
      expect(ignore.some(reincludes), `${src} re-included`).toBe(true);
    }
    // The image runs through tsx: package.json must declare it (the Dockerfile moves it to deps).
    const pkg = JSON.parse(read('package.json')) as Record<string, Record<string, string>>;
    expect(pkg['dependencies']?.['tsx'] ?? pkg['devDependencies']?.['tsx']).toBeTruthy();
  });

  it('is valid for docker compose', (ctx) => {
    if (!has('docker', ['compose', 'version'])) ctx.skip('docker compose is not installed here');
    const r = run('docker', ['compose', '-f', 'infra/compose.yaml', '--profile', 'monitoring', 'config', '--quiet'], {
      env: { JWT_SECRET: 'a-test-secret-of-32-characters!!' },
    });
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
  });
});

describe('HAProxy and nginx configs for compose', () => {
  it('haproxy -c accepts infra/haproxy/compose.cfg', (ctx) => {
    if (!has('haproxy', ['-v'])) ctx.skip('haproxy is not installed here');
    const r = run('haproxy', ['-c', '-f', 'infra/haproxy/compose.cfg']);
    expect(r.output).toMatch(/Configuration file is valid/);
    expect(r.output).not.toMatch(/WARNING|ALERT/);
    expect(r.status).toBe(0);
    const cfg = read('infra/haproxy/compose.cfg');
    for (const line of ['balance leastconn', 'option httpchk GET /ready', 'timeout tunnel', 'timeout client-fin', 'stats enable']) {
      expect(cfg).toContain(line);
    }
    expect(cfg).toMatch(/server-template chat \S+ chat:8080/);
  });

  it('nginx -t accepts infra/nginx/compose.conf', (ctx) => {
    if (!has('nginx', ['-v'])) ctx.skip('nginx is not installed here');
    const r = run('nginx', ['-t', '-e', 'stderr', '-c', join(INFRA, 'nginx/compose.conf')], { stdout: 'ignore' });
    expect(r.output).toMatch(/test is successful/);
    expect(r.status).toBe(0);
    const conf = read('infra/nginx/compose.conf');
    expect(conf).toMatch(/proxy_set_header Upgrade \$http_upgrade;/);
    expect(conf).toMatch(/set \$balancer http:\/\/haproxy:8000;/);
  });
});

// ---------------------------------------------------------------------------------------------
// The dashboard against the metric names in the code.

/** prom-client's default metrics that the dashboard may use (checked against prom-client below). */
const PROM_CLIENT_DEFAULTS = [
  'process_cpu_seconds_total', 'process_cpu_user_seconds_total', 'process_cpu_system_seconds_total',
  'process_resident_memory_bytes', 'process_open_fds', 'process_max_fds', 'process_start_time_seconds',
  'nodejs_eventloop_lag_seconds', 'nodejs_eventloop_lag_p50_seconds', 'nodejs_eventloop_lag_p99_seconds',
  'nodejs_eventloop_lag_max_seconds', 'nodejs_heap_size_used_bytes', 'nodejs_heap_size_total_bytes',
  'nodejs_external_memory_bytes', 'nodejs_active_handles', 'nodejs_gc_duration_seconds',
];
const HISTOGRAMS_BY_DEFAULT = ['nodejs_gc_duration_seconds'];

/**
 * Metric names the code registers, as exported: `new Counter({ name: '…' })` and the like, and the
 * workers' metric specs (`{ name: '…', help: '…' }`, made into metrics by workers/stream-job.ts),
 * whose histograms are the ones named `…_seconds`.
 */
function codeMetrics(): Set<string> {
  const files = ['src/metrics.ts', ...readdirSync(join(ROOT, 'workers')).filter((f) => f.endsWith('.ts')).map((f) => `workers/${f}`)];
  const names = new Set<string>();
  const add = (kind: string, name: string) => {
    names.add(name);
    if (kind === 'Histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    if (kind === 'Summary') for (const s of ['_sum', '_count']) names.add(name + s);
  };
  for (const f of files) {
    const code = read(f);
    for (const m of code.matchAll(/new (Counter|Gauge|Histogram|Summary)\(\{\s*name:\s*'([a-zA-Z_:][\w:]*)'/g)) {
      const [, kind, name] = m as unknown as [string, string, string];
      add(kind, name);
    }
    for (const m of code.matchAll(/\{\s*name:\s*'(parley_[\w:]*)',\s*help:/g)) {
      const name = m[1] as string;
      if (!names.has(name)) add(name.endsWith('_seconds') ? 'Histogram' : 'Counter', name);
    }
  }
  return names;
}

const PROMQL_WORDS = new Set(
  ('sum avg min max count group stddev stdvar topk bottomk quantile count_values rate irate increase delta ' +
    'idelta deriv predict_linear histogram_quantile clamp clamp_min clamp_max abs ceil floor round sqrt exp ln ' +
    'log2 log10 vector scalar time timestamp absent changes resets label_replace label_join sort sort_desc ' +
    'avg_over_time min_over_time max_over_time sum_over_time count_over_time last_over_time quantile_over_time ' +
    'and or unless bool offset by without on ignoring group_left group_right label_values').split(' '),
);

/** The metric names a PromQL expression (or a Grafana `label_values(…)` query) reads. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""') // strings
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\[[^\]]*\]/g, '') // ranges
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '') // label lists
    .replace(/label_values\(([^,()]*(?:\([^)]*\))?[^,()]*),\s*\w+\)/g, '$1') // label_values(metric, label)
    .replace(/\$\{?\w+\}?/g, ''); // Grafana variables
  const words = bare.match(/(?<![\w.])[a-zA-Z_:][\w:]*/g) ?? [];
  return [...new Set(words.filter((w) => !PROMQL_WORDS.has(w)))];
}

type Panel = { id: number; type: string; title: string; datasource?: { uid: string }; panels?: Panel[]; targets?: { expr: string; datasource?: { uid: string } }[] };
const dashboard = JSON.parse(read('infra/grafana/parley.json')) as {
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: unknown; datasource?: { uid: string } }[] };
};
const allPanels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
const queries = [
  ...allPanels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: p.title, expr: t.expr }))),
  ...dashboard.templating.list
    .filter((v) => v.type === 'query')
    .map((v) => ({ where: `$${v.name}`, expr: typeof v.query === 'string' ? v.query : (v.query as { query: string }).query })),
];

describe('infra/grafana/parley.json', () => {
  it('reads the metric names out of PromQL, and only those', () => {
    expect(metricNames('histogram_quantile(0.99, sum by (le, instance) (rate(parley_x_bucket{job="a", type=~"b|c"}[$__rate_interval])))')).toEqual(['parley_x_bucket']);
    expect(metricNames('sum(a_total{x="1"}) / on (i) group_left(j) (b_bytes > 0) or vector(0)')).toEqual(['a_total', 'b_bytes']);
    expect(metricNames('label_values(parley_connections{job="parley-chat"}, instance)')).toEqual(['parley_connections']);
  });

  it('queries only metrics the code or prom-client exports (a renamed metric fails here)', async () => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const defaults = new Set((await registry.getMetricsAsJSON()).map((m) => m.name));
    for (const name of PROM_CLIENT_DEFAULTS) expect(defaults, `prom-client exports ${name}`).toContain(name);

    const known = codeMetrics();
    // The grep found the metrics of all three sources (an empty set would make this test vacuous).
    for (const name of ['parley_connections', 'parley_delivery_latency_seconds_bucket', 'parley_worker_lag', 'parley_archive_skipped_total']) {
      expect(known).toContain(name);
    }
    for (const name of PROM_CLIENT_DEFAULTS) known.add(name);
    for (const name of HISTOGRAMS_BY_DEFAULT) for (const s of ['_bucket', '_sum', '_count']) known.add(name + s);

    expect(queries.length).toBeGreaterThan(20);
    const used = new Set<string>();
    for (const q of queries) {
      const names = metricNames(q.expr);
      expect(names.length, `${q.where}: ${q.expr}`).toBeGreaterThan(0);
      for (const n of names) {
        expect(known.has(n), `${q.where}: unknown metric ${n} in ${q.expr}`).toBe(true);
        used.add(n);
      }
    }
    // What the dashboard is for.
    for (const name of [
      'parley_connections', 'parley_frames_in_total', 'parley_frames_out_total', 'parley_delivery_latency_seconds_bucket',
      'parley_dropped_frames_total', 'parley_closes_total', 'parley_errors_total', 'process_resident_memory_bytes',
      'parley_event_loop_lag_seconds', 'parley_worker_lag', 'parley_worker_pending', 'parley_worker_events_applied_total',
      'parley_archive_messages_total', 'parley_archive_skipped_total',
    ]) {
      expect(used, `dashboard shows ${name}`).toContain(name);
    }
  });

  it('uses its one data source variable everywhere, with unique panel ids', () => {
    expect(dashboard.templating.list.find((v) => v.name === 'datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    const uids = new Set([
      ...allPanels.filter((p) => p.type !== 'row').flatMap((p) => [p.datasource?.uid, ...(p.targets ?? []).map((t) => t.datasource?.uid)]),
      ...dashboard.templating.list.filter((v) => v.type === 'query').map((v) => v.datasource?.uid),
    ]);
    expect([...uids]).toEqual(['${datasource}']);
    const ids = allPanels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    // Grafana's provisioning loads it from the folder compose.yaml mounts it into.
    const provider = parse(read('infra/grafana/provisioning/dashboards/parley.yml')) as { providers: { options: { path: string } }[] };
    const mount = services['grafana']?.volumes?.find((v) => v.startsWith('./grafana/parley.json:'));
    expect(mount?.split(':')[1]).toBe(`${provider.providers[0]?.options.path}/parley.json`);
  });
});
