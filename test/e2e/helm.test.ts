/**
 * The Helm chart (deploy/helm/parley): `helm lint --strict`, then `helm template` with each example
 * values file, the output decoded strictly into the Kubernetes API types by
 * deploy/helm/validate (unknown fields, wrong types, dangling selectors and ports fail), and the
 * rendered objects held to what the service needs: probes and scrapes on the operations port, drain
 * timing, sizing, autoscaling, workers, monitoring. helm and the validator are built by
 * `npm run setup` (`npm test` runs it).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { HELM_BIN, VALIDATOR_BIN } from '../../deploy/helm/build.ts';
import { loadConfig } from '../../src/config.ts';
import { loadWorkerConfig } from '../../workers/config.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHART = join(ROOT, 'deploy', 'helm', 'parley');
/** The Kubernetes version the chart is rendered for (its floor is Chart.yaml's kubeVersion). */
const KUBE = '1.33.0';
const EXAMPLES = ['production', 'keda', 'minimal'] as const;

type Obj = { apiVersion: string; kind: string; metadata: { name: string }; spec?: any; data?: Record<string, string> };
type Run = { status: number | null; stdout: string; stderr: string };

function tool(bin: string, args: string[], input?: string): Run {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run npm run setup (it builds helm and the validator)`);
  const r = spawnSync(bin, args, { input, encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
const helm = (args: string[]) => tool(HELM_BIN, args);
const validate = (manifests: string) => tool(VALIDATOR_BIN, [], manifests);

function template(example: string, chart = CHART, extra: string[] = []): Run {
  return helm(['template', 'parley', chart, '--namespace', 'chat', '--kube-version', KUBE, '-f', join(CHART, 'examples', `${example}.yaml`), ...extra]);
}
function render(example: string): Obj[] {
  const r = template(example);
  expect(r.status, r.stderr).toBe(0);
  return parseAllDocuments(r.stdout).map((d) => d.toJS() as Obj).filter(Boolean);
}
const find = (objs: Obj[], kind: string, name: string) => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind}/${name} in ${objs.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`);
  return o;
};
/** What a Secret or the downward API would give, for the values the chart does not hold. */
const FROM_CLUSTER: Record<string, string> = { JWT_SECRET: 'a-secret-of-32-characters-012345', MONGO_URL: 'mongodb://mongo:27017/parley' };
/** A container's env as a plain map, as the process would see it. */
const envOf = (c: any): Record<string, string> =>
  Object.fromEntries((c.env as any[]).map((e) => [e.name, e.value ?? FROM_CLUSTER[e.name] ?? 'parley-chat-7d9f-x2k4q']));

describe('Helm chart deploy/helm/parley', () => {
  it.each(EXAMPLES)('passes helm lint --strict with examples/%s.yaml', (example) => {
    const r = helm(['lint', CHART, '--strict', '--kube-version', KUBE, '-f', join(CHART, 'examples', `${example}.yaml`)]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it.each(EXAMPLES)('renders examples/%s.yaml into manifests the Kubernetes API types accept', (example) => {
    const r = template(example);
    expect(r.status, r.stderr).toBe(0);
    const v = validate(r.stdout);
    expect(v.status, v.stderr).toBe(0);
  });

  it('renders the production example into these resources', () => {
    const r = validate(template('production').stdout);
    expect(r.stdout.trim().split('\n').sort()).toEqual([
      'ConfigMap/parley-dashboard',
      'Deployment/parley-archive-worker',
      'Deployment/parley-chat',
      'Deployment/parley-presence-worker',
      'HorizontalPodAutoscaler/parley-chat',
      'PodDisruptionBudget/parley-chat',
      'Service/parley-archive-worker',
      'Service/parley-chat',
      'Service/parley-presence-worker',
      'ServiceAccount/parley',
      'ServiceMonitor/parley',
    ]);
  });

  it('runs chat instances that probe /ready and /health, drain within the grace period and fit their memory', () => {
    const objs = render('production');
    const pod = find(objs, 'Deployment', 'parley-chat').spec.template.spec;
    const c = pod.containers[0];
    expect(c.readinessProbe.httpGet.path).toBe('/ready');
    expect(c.livenessProbe.httpGet.path).toBe('/health');
    expect(c.command.slice(0, 2)).toEqual(['node', '--max-semi-space-size=4']);
    expect(c.command.slice(-3)).toEqual(['--import', 'tsx', 'src/main.node.ts']);
    const env = envOf(c);
    // The service's own validation accepts what the chart passes.
    const config = loadConfig(env);
    expect(config.auth.mode).toBe('jwt');
    expect(config.redisNodes?.length).toBe(3);
    // Every probe on the operations port (OPS_PORT), whose accept queue a connect storm on the main
    // port does not fill: a probe queued there times out and takes every pod out, or restarts it.
    const containerPort = (name: string) => c.ports.find((p: any) => p.name === name)?.containerPort;
    expect(config.port).toBe(containerPort('http'));
    expect(config.opsPort).toBe(containerPort('ops'));
    expect(config.opsPort).not.toBe(config.port);
    for (const [name, probe] of Object.entries({ startup: c.startupProbe, readiness: c.readinessProbe, liveness: c.livenessProbe })) {
      expect(probe.httpGet.port, `${name} probe`).toBe('ops');
    }
    // Drain (src/realtime/drain.ts): grace, one batch per interval, up to 5 s of close handshakes.
    const { graceMs, batch, intervalMs } = config.drain;
    const drainMs = graceMs + (Math.ceil(config.maxConnections / batch) - 1) * intervalMs + 5000;
    const preStop = Number(c.lifecycle.preStop.exec.command[1]);
    expect(preStop).toBeGreaterThanOrEqual(2);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(preStop + drainMs / 1000 + 5);
    // Memory: at least the measured 110 MB idle + 5.5 KB per joined socket, at MAX_CONNECTIONS, twice over.
    const memMi = Number(/^(\d+)Mi$/.exec(c.resources.limits.memory)?.[1]);
    expect(c.resources.requests.memory).toBe(c.resources.limits.memory);
    expect(memMi * 1024).toBeGreaterThan(110 * 1024 + 2 * 5.5 * config.maxConnections);
    const heap = Number(c.command.find((a: string) => a.startsWith('--max-old-space-size=')).split('=')[1]);
    expect(heap).toBeLessThan(memMi);
  });

  it('keeps clients on the Service\'s port http and scrapes the instances on their operations port', () => {
    const objs = render('production');
    const c = find(objs, 'Deployment', 'parley-chat').spec.template.spec.containers[0];
    const svc = find(objs, 'Service', 'parley-chat').spec;
    expect(svc.ports).toEqual([
      expect.objectContaining({ name: 'http', port: 8080, targetPort: 'http' }),
      expect.objectContaining({ name: 'ops', port: loadConfig(envOf(c)).opsPort, targetPort: 'ops' }),
    ]);
    // The one ServiceMonitor endpoint that selects a port of the chat Service is `ops`, with honorLabels.
    const sm = find(objs, 'ServiceMonitor', 'parley').spec;
    const chat = sm.endpoints.filter((e: any) => svc.ports.some((p: any) => p.name === e.port));
    expect(chat).toEqual([expect.objectContaining({ port: 'ops', path: '/metrics', honorLabels: true })]);
  });

  it('puts chat.opsPort in OPS_PORT, the container port and the Service, and refuses 8080 or a non-port', () => {
    const r = template('production', CHART, ['--set', 'chat.opsPort=9500']);
    expect(r.status, r.stderr).toBe(0);
    const objs = parseAllDocuments(r.stdout).map((d) => d.toJS() as Obj).filter(Boolean);
    const c = find(objs, 'Deployment', 'parley-chat').spec.template.spec.containers[0];
    expect(loadConfig(envOf(c)).opsPort).toBe(9500);
    expect(c.ports.find((p: any) => p.name === 'ops').containerPort).toBe(9500);
    expect(find(objs, 'Service', 'parley-chat').spec.ports.find((p: any) => p.name === 'ops').port).toBe(9500);
    expect(validate(r.stdout).status).toBe(0);
    for (const bad of ['8080', '0', '70000']) {
      const refused = template('production', CHART, ['--set', `chat.opsPort=${bad}`]);
      expect(refused.status, bad).not.toBe(0);
      expect(refused.stderr).toMatch(/chat\.opsPort: \d+ is not a port other than 8080/);
    }
  });

  it('scales on the connections gauge the instances export, with CPU as fallback and a slow scale-down', () => {
    const objs = render('production');
    const hpa = find(objs, 'HorizontalPodAutoscaler', 'parley-chat').spec;
    const pods = hpa.metrics.find((m: any) => m.type === 'Pods').pods;
    expect(readFileSync(join(ROOT, 'src', 'metrics.ts'), 'utf8')).toContain(`name: '${pods.metric.name}'`);
    expect(Number(pods.target.averageValue)).toBeLessThan(15000);
    expect(hpa.metrics.some((m: any) => m.type === 'Resource' && m.resource.name === 'cpu')).toBe(true);
    expect(hpa.behavior.scaleDown.stabilizationWindowSeconds).toBeGreaterThanOrEqual(300);

    const keda = render('keda');
    expect(keda.some((o) => o.kind === 'HorizontalPodAutoscaler')).toBe(false);
    const so = find(keda, 'ScaledObject', 'parley-chat').spec;
    expect(so.triggers.map((t: any) => t.type)).toEqual(['prometheus', 'cpu']);
    expect(so.triggers[0].metadata.query).toContain('parley_connections{');
    expect(so.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.stabilizationWindowSeconds).toBeGreaterThanOrEqual(300);
  });

  it('runs both workers with their health ports, and ships the dashboard of infra/grafana', () => {
    const objs = render('production');
    for (const [kind, port] of [['presence', 9101], ['archive', 9102]] as const) {
      const c = find(objs, 'Deployment', `parley-${kind}-worker`).spec.template.spec.containers[0];
      expect(c.command).toEqual(['node', '--import', 'tsx', `workers/${kind}.ts`]);
      expect(c.ports[0].containerPort).toBe(port);
      expect(loadWorkerConfig(kind, envOf(c)).port).toBe(port);
    }
    const dashboard = readFileSync(join(ROOT, 'infra', 'grafana', 'parley.json'), 'utf8');
    expect(readFileSync(join(CHART, 'dashboards', 'parley.json'), 'utf8'), 'copy infra/grafana/parley.json to the chart').toBe(dashboard);
    expect(JSON.parse(find(objs, 'ConfigMap', 'parley-dashboard').data?.['parley.json'] ?? '')).toEqual(JSON.parse(dashboard));
    expect(render('minimal').filter((o) => /worker/.test(o.metadata.name))).toEqual([]);
  });

  describe('refuses a broken chart', () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-chart-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    /** A copy of the chart with one template edited. */
    const broken = (name: string, file: string, edit: (text: string) => string) => {
      const chart = join(dir, name, 'parley');
      cpSync(CHART, chart, { recursive: true });
      const path = join(chart, 'templates', file);
      const text = readFileSync(path, 'utf8');
      writeFileSync(path, edit(text));
      expect(readFileSync(path, 'utf8')).not.toBe(text);
      return chart;
    };

    it('an unknown field', () => {
      const chart = broken('unknown', 'chat-deployment.yaml', (t) => t.replace('  minReadySeconds: 10', '  minReadySeconds: 10\n  minReadySecond: 10'));
      const r = template('production', chart);
      expect(r.status, r.stderr).toBe(0); // helm itself does not look
      const v = validate(r.stdout);
      expect(v.status).toBe(1);
      expect(v.stderr).toMatch(/unknown field "spec\.minReadySecond"/);
    });

    it('a field in the wrong case', () => {
      const chart = broken('case', 'chat-deployment.yaml', (t) => t.replace('containerPort: 8080', 'ContainerPort: 8080'));
      const v = validate(template('production', chart).stdout);
      expect(v.status).toBe(1);
      expect(v.stderr).toMatch(/unknown field ".*\.ports\[0\]\.ContainerPort"/);
    });

    it('a value of the wrong type', () => {
      const chart = broken('type', 'chat-deployment.yaml', (t) => t.replace('minReadySeconds: 10', 'minReadySeconds: "10"'));
      const v = validate(template('production', chart).stdout);
      expect(v.status).toBe(1);
      expect(v.stderr).toMatch(/minReadySeconds of type int32/);
    });

    it('a Service port that names no container port', () => {
      const chart = broken('port', 'chat-service.yaml', (t) => t.replace('targetPort: http', 'targetPort: web'));
      const v = validate(template('production', chart).stdout);
      expect(v.status).toBe(1);
      expect(v.stderr).toMatch(/targetPort "web" is not a port/);
    });

    it('no Redis Cluster or no JWT secret', () => {
      const none = helm(['template', 'parley', CHART, '--kube-version', KUBE, '--set', 'jwt.secret=0123456789abcdef0123']);
      expect(none.status).not.toBe(0);
      expect(none.stderr).toMatch(/redis\.clusterNodes: required/);
      const noJwt = helm(['template', 'parley', CHART, '--kube-version', KUBE, '--set', 'redis.clusterNodes=redis:6379']);
      expect(noJwt.status).not.toBe(0);
      expect(noJwt.stderr).toMatch(/jwt\.existingSecret .* or jwt\.secret/);
    });

    it('a termination grace period shorter than the drain', () => {
      const r = template('production', CHART, ['--set', 'chat.terminationGracePeriodSeconds=10']);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/shorter than the drain needs/);
    });
  });
});
