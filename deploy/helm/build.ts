/**
 * The tools that check the Helm chart, built with Go into .data/bin/ (ignored by git), each once:
 *
 * - helm, from its Go module, pinned (`go install` with GOBIN into a temporary folder, then moved
 *   into place), as bench/k6/build.ts builds k6: no release binaries can be downloaded here.
 * - parley-k8s-validate (deploy/helm/validate/): decodes rendered manifests strictly into the
 *   Kubernetes API types (k8s.io/api) and checks their references; rebuilt when its sources change.
 *
 *   npx tsx deploy/helm/build.ts        prints both paths; a no-op when they are there
 *
 * Measured cold (empty Go module and build caches, 2 cores): helm alone 120 s, downloads included;
 * in scripts/setup.ts after the MongoDB server and k6 (shared modules) 76 s; the validator 13-14 s
 * after helm (33 s on its own with the modules already downloaded: it uses k8s.io v0.37.2, helm
 * v0.37.0, so little compiled code is shared). With Go's caches warm, seconds.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..', '..');
const BIN_DIR = join(ROOT, '.data', 'bin');
/** The pinned release. */
export const HELM_VERSION = 'v3.22.0';
export const HELM_BIN = join(BIN_DIR, 'helm');
export const VALIDATOR_BIN = join(BIN_DIR, 'parley-k8s-validate');
const VALIDATOR_SRC = join(ROOT, 'deploy', 'helm', 'validate');

const GO = existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : 'go';
const GO_ENV = { ...process.env, CGO_ENABLED: '0' };

async function checkGo(what: string): Promise<void> {
  await run(GO, ['version']).catch((err: NodeJS.ErrnoException) => {
    throw new Error(err.code === 'ENOENT' ? `go is not installed (needed once to build ${what}): install Go ≥ 1.26` : `go version failed: ${err.message}`);
  });
}

/** `helm version`'s release (v3.22.0), or undefined when the binary is missing or broken. */
export async function helmVersion(bin = HELM_BIN): Promise<string | undefined> {
  if (!existsSync(bin)) return undefined;
  try {
    const { stdout } = await run(bin, ['version', '--short'], { timeout: 10_000 });
    return /^(v\d+\.\d+\.\d+)/.exec(stdout.trim())?.[1];
  } catch {
    return undefined;
  }
}

/** The path of a helm binary of the pinned version, building it when needed. */
export async function buildHelm(log: (line: string) => void = () => undefined): Promise<string> {
  if ((await helmVersion()) === HELM_VERSION) return HELM_BIN;
  await checkGo('helm');
  const tmp = join(ROOT, '.data', `helm-build-${process.pid}`);
  mkdirSync(tmp, { recursive: true });
  log(`building helm ${HELM_VERSION} with go install (about 2 min when cold) …`);
  const started = Date.now();
  // The version as helm's own release build sets it (`helm version`); without it helm says "v3.22".
  const ldflags = `-X helm.sh/helm/v3/internal/version.version=${HELM_VERSION} -X helm.sh/helm/v3/internal/version.metadata=`;
  try {
    await run(GO, ['install', '-trimpath', '-ldflags', ldflags, `helm.sh/helm/v3/cmd/helm@${HELM_VERSION}`], {
      env: { ...GO_ENV, GOBIN: tmp },
      timeout: 1_200_000,
      maxBuffer: 64 << 20,
    });
    mkdirSync(BIN_DIR, { recursive: true });
    renameSync(join(tmp, 'helm'), HELM_BIN);
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`go install helm.sh/helm/v3/cmd/helm@${HELM_VERSION} failed: ${(e.stderr || e.message).trim().slice(-4000)}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const version = await helmVersion();
  if (version !== HELM_VERSION) throw new Error(`built helm reports ${version ?? 'nothing'}, expected ${HELM_VERSION}`);
  log(`helm ${version} built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return HELM_BIN;
}

/** The validator's path, building it when it is missing or older than its sources. */
export async function buildValidator(log: (line: string) => void = () => undefined): Promise<string> {
  const sources = readdirSync(VALIDATOR_SRC).filter((f) => /\.go$|^go\.(mod|sum)$/.test(f));
  const newest = Math.max(...sources.map((f) => statSync(join(VALIDATOR_SRC, f)).mtimeMs));
  if (existsSync(VALIDATOR_BIN) && statSync(VALIDATOR_BIN).mtimeMs >= newest) return VALIDATOR_BIN;
  await checkGo('the manifest validator');
  mkdirSync(BIN_DIR, { recursive: true });
  const tmp = `${VALIDATOR_BIN}.tmp-${process.pid}`;
  const started = Date.now();
  log('building deploy/helm/validate (k8s.io/api; under a minute when cold) …');
  try {
    // -buildvcs=false: no git metadata wanted, and none to fail on (a worktree, a tarball of the repository).
    await run(GO, ['build', '-trimpath', '-buildvcs=false', '-o', tmp, '.'], { cwd: VALIDATOR_SRC, env: GO_ENV, timeout: 900_000, maxBuffer: 16 << 20 });
  } catch (err) {
    rmSync(tmp, { force: true });
    const e = err as { stderr?: string; message: string };
    throw new Error(`go build in deploy/helm/validate failed: ${(e.stderr || e.message).trim().slice(-4000)}`);
  }
  renameSync(tmp, VALIDATOR_BIN);
  const took = Date.now() - started;
  if (took > 5000) log(`validator built in ${(took / 1000).toFixed(0)} s`);
  return VALIDATOR_BIN;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const say = (l: string) => console.error(l);
  (async () => [await buildHelm(say), await buildValidator(say)])().then(
    (bins) => console.log(bins.join('\n')),
    (err: Error) => {
      console.error(err.message);
      process.exit(1);
    },
  );
}
