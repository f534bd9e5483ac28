// Static checks of the Kubernetes manifests (deploy/kubernetes/); run through
// tests/static/kubernetes.sh.
//
//   node kubernetes.mjs ROOT
//
// Every overlay is rendered with `kubectl kustomize`, every rendered object is validated
// against its schema (npm kubernetes-models, @kubernetes-models/keda), then the house rules
// run on each overlay, one counted test each. Each rule runs once more on the committed bad
// fixture (kubernetes/bad.yaml), where it must flag every object annotated as breaking it: a
// rule that cannot fail fails there. Ends with "N passed, M failed"; exit status 1 when any
// failed.

import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import YAML from 'yaml';
import { finish, test } from './lib/tap.mjs';

const ROOT = path.resolve(process.argv[2] ?? path.join(import.meta.dirname, '..', '..'));
const KUBE = path.join(ROOT, 'deploy', 'kubernetes');
const BAD = path.join(import.meta.dirname, 'kubernetes', 'bad.yaml');
const KUBECTL = process.env.KUBECTL ?? 'kubectl';

// The ConfigMaps generated from the files the other launchers read: name prefix, key, source.
const CONFIG_SOURCES = [
    ['splitter-nginx-templates', 'default.conf.template', 'nginx/templates/default.conf.template'],
    ['splitter-postgres-config', 'postgresql.conf', 'postgres/postgresql.conf'],
    ['splitter-redis-config', 'redis.conf', 'redis/redis.conf'],
];
const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob']);
const SERVING = new Set(['Deployment', 'StatefulSet', 'DaemonSet']); // need probes
const SECRET_NAME = /PASSWORD|SECRET|TOKEN/i;

const id = (o) => `${o.kind}/${o.metadata?.name}`;

// --- objects and their pods ---------------------------------------------------------------

function podSpec(o) {
    if (o.kind === 'CronJob') return o.spec?.jobTemplate?.spec?.template?.spec;
    return WORKLOADS.has(o.kind) ? o.spec?.template?.spec : undefined;
}

function podLabels(o) {
    return (o.kind === 'CronJob' ? o.spec?.jobTemplate?.spec?.template : o.spec?.template)?.metadata?.labels ?? {};
}

// Every container of every workload: {o, pod, c, init}.
function containers(objects) {
    const out = [];
    for (const o of objects) {
        const pod = podSpec(o);
        if (!pod) continue;
        for (const c of pod.initContainers ?? []) out.push({ o, pod, c, init: true });
        for (const c of pod.containers ?? []) out.push({ o, pod, c, init: false });
    }
    return out;
}

function selects(selector, labels) {
    if (!selector) return false;
    for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
    for (const e of selector.matchExpressions ?? []) {
        const has = e.key in labels;
        if (e.operator === 'In' && !(has && e.values.includes(labels[e.key]))) return false;
        if (e.operator === 'NotIn' && has && e.values.includes(labels[e.key])) return false;
        if (e.operator === 'Exists' && !has) return false;
        if (e.operator === 'DoesNotExist' && has) return false;
    }
    return Object.keys(selector.matchLabels ?? {}).length + (selector.matchExpressions ?? []).length > 0;
}

// --- schema validation --------------------------------------------------------------------

const models = new Map();
async function modelOf(o) {
    const [group, version] = String(o.apiVersion).includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion];
    const where = group === 'keda.sh' || group === 'eventing.keda.sh'
        ? `@kubernetes-models/keda/${group}/${version}/${o.kind}`
        : `kubernetes-models/${group ? `${group}/` : ''}${version}/${o.kind}`;
    if (!models.has(where)) {
        models.set(where, await import(where).then((m) => m[o.kind], () => undefined));
    }
    return models.get(where);
}

async function schemaProblems(objects) {
    const problems = [];
    for (const o of objects) {
        const Model = await modelOf(o);
        if (!Model) {
            problems.push(`${id(o)}: no schema for ${o.apiVersion} ${o.kind}`);
            continue;
        }
        try {
            new Model(o).validate();
        } catch (err) {
            problems.push(`${id(o)}: ${err.message}`);
        }
    }
    return problems;
}

// --- the rules: each returns a list of problems --------------------------------------------

const RULES = {
    probes(objects) {
        return containers(objects)
            .filter(({ o, init }) => SERVING.has(o.kind) && !init)
            .flatMap(({ o, c }) => ['livenessProbe', 'readinessProbe']
                .filter((p) => !c[p])
                .map((p) => `${id(o)} container ${c.name}: no ${p}`));
    },

    resources(objects) {
        const problems = [];
        for (const { o, c } of containers(objects)) {
            for (const kind of ['requests', 'limits']) {
                for (const r of ['cpu', 'memory']) {
                    if (c.resources?.[kind]?.[r] === undefined) problems.push(`${id(o)} container ${c.name}: no ${kind}.${r}`);
                }
            }
        }
        return problems;
    },

    security(objects) {
        const problems = [];
        for (const { o, pod, c } of containers(objects)) {
            const sc = c.securityContext ?? {};
            const psc = pod.securityContext ?? {};
            const where = `${id(o)} container ${c.name}`;
            if ((sc.runAsNonRoot ?? psc.runAsNonRoot) !== true) problems.push(`${where}: runAsNonRoot is not true`);
            if ((sc.runAsUser ?? psc.runAsUser) === 0) problems.push(`${where}: runs as uid 0`);
            if (sc.readOnlyRootFilesystem !== true) problems.push(`${where}: readOnlyRootFilesystem is not true`);
            if (sc.allowPrivilegeEscalation !== false) problems.push(`${where}: allowPrivilegeEscalation is not false`);
            if (sc.privileged) problems.push(`${where}: privileged`);
            if (!(sc.capabilities?.drop ?? []).includes('ALL')) problems.push(`${where}: capabilities do not drop ALL`);
            if ((sc.capabilities?.add ?? []).length) problems.push(`${where}: adds capabilities ${sc.capabilities.add.join(', ')}`);
            if ((sc.seccompProfile ?? psc.seccompProfile)?.type !== 'RuntimeDefault') problems.push(`${where}: seccompProfile is not RuntimeDefault`);
            // A non-root user reads a Secret's files only through their group (fsGroup) unless
            // their mode lets everyone read.
            for (const m of c.volumeMounts ?? []) {
                const v = (pod.volumes ?? []).find((x) => x.name === m.name);
                const mode = v?.secret ? (v.secret.defaultMode ?? 0o644) : undefined;
                if (mode !== undefined && !(mode & 0o004) && psc.fsGroup === undefined) {
                    problems.push(`${where}: cannot read Secret volume ${m.name} (mode ${mode.toString(8)}, no fsGroup)`);
                }
            }
        }
        return problems;
    },

    images(objects) {
        const problems = [];
        for (const { o, c } of containers(objects)) {
            const image = String(c.image ?? '');
            if (image.includes('@sha256:')) continue;
            const tag = image.match(/:([^/:]+)$/)?.[1];
            if (!tag) problems.push(`${id(o)} container ${c.name}: image '${image}' has no tag`);
            else if (tag === 'latest') problems.push(`${id(o)} container ${c.name}: image '${image}' is tagged latest`);
        }
        return problems;
    },

    disruptionBudgets(objects) {
        const pdbs = objects.filter((o) => o.kind === 'PodDisruptionBudget');
        return objects
            .filter((o) => o.kind === 'Deployment')
            .filter((d) => !pdbs.some((p) => p.metadata?.namespace === d.metadata?.namespace && selects(p.spec?.selector, podLabels(d))))
            .map((d) => `${id(d)}: no PodDisruptionBudget selects its pods`);
    },

    secrets(objects) {
        const problems = [];
        for (const o of objects.filter((x) => x.kind === 'Secret')) {
            for (const k of ['data', 'stringData']) {
                if (o[k] && Object.keys(o[k]).length) problems.push(`${id(o)}: carries ${k} (${Object.keys(o[k]).join(', ')})`);
            }
        }
        // Passwords reach the containers as files or secretKeyRef, never as literal values.
        for (const { o, c } of containers(objects)) {
            for (const e of c.env ?? []) {
                if (SECRET_NAME.test(e.name) && !e.name.endsWith('_FILE') && e.value !== undefined) {
                    problems.push(`${id(o)} container ${c.name}: ${e.name} is written into the manifest`);
                }
            }
        }
        for (const o of objects.filter((x) => x.kind === 'ConfigMap')) {
            for (const k of Object.keys(o.data ?? {})) {
                if (SECRET_NAME.test(k) && !k.endsWith('_FILE')) problems.push(`${id(o)}: ${k} is written into a ConfigMap`);
            }
        }
        return problems;
    },

    // Nothing reachable by default; only nginx accepts traffic from anywhere; PostgreSQL and
    // Redis accept only their clients (docker-compose.yml's networks).
    networkPolicies(objects) {
        const problems = [];
        const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
        const denied = (ns) => policies.some((p) => p.metadata?.namespace === ns && Object.keys(p.spec?.podSelector ?? {}).length === 0
            && ['Ingress', 'Egress'].every((t) => (p.spec?.policyTypes ?? []).includes(t))
            && !(p.spec?.ingress ?? []).length && !(p.spec?.egress ?? []).length);
        for (const o of objects.filter((x) => podSpec(x))) {
            const labels = podLabels(o);
            const component = labels['app.kubernetes.io/component'];
            if (!denied(o.metadata?.namespace)) problems.push(`${id(o)}: no default-deny NetworkPolicy (ingress and egress) in its namespace`);
            const mine = policies.filter((p) => p.metadata?.namespace === o.metadata?.namespace
                && (Object.keys(p.spec?.podSelector ?? {}).length === 0 || selects(p.spec.podSelector, labels)));
            const open = mine.some((p) => (p.spec?.ingress ?? []).some((r) => !(r.from ?? []).length));
            if (open && component !== 'nginx') problems.push(`${id(o)}: accepts traffic from anywhere (only nginx may)`);
            if (component === 'postgres' || component === 'redis') {
                const allowed = component === 'redis' ? ['api', 'worker'] : ['api', 'worker', 'migrate'];
                for (const p of mine) {
                    for (const r of p.spec?.ingress ?? []) {
                        for (const peer of r.from ?? []) {
                            const keda = peer.podSelector?.matchLabels?.['app.kubernetes.io/name'] === 'keda-operator';
                            const inNs = !peer.namespaceSelector && !peer.ipBlock;
                            const comps = [peer.podSelector?.matchLabels?.['app.kubernetes.io/component'],
                                ...(peer.podSelector?.matchExpressions ?? []).filter((e) => e.key === 'app.kubernetes.io/component' && e.operator === 'In').flatMap((e) => e.values)]
                                .filter(Boolean);
                            const ok = (component === 'redis' && keda) || (inNs && comps.length && comps.every((x) => allowed.includes(x)));
                            if (!ok) problems.push(`${id(o)}: NetworkPolicy ${p.metadata.name} lets in ${JSON.stringify(peer)}`);
                        }
                    }
                }
            }
        }
        return problems;
    },

    // The KEDA ScaledObject of the workers: a lag and a pending trigger on every partition
    // stream (SPLITTER_PARTITIONS of the settings), consumer group "workers", and bounds that
    // keep the leases held.
    workerScaling(objects) {
        const problems = [];
        const settings = objects.find((o) => o.kind === 'ConfigMap' && o.metadata?.name?.startsWith('splitter-settings'));
        const partitions = Number(settings?.data?.SPLITTER_PARTITIONS ?? 16);
        for (const so of objects.filter((o) => o.kind === 'ScaledObject')) {
            const s = so.spec ?? {};
            const want = new Set();
            for (let p = 0; p < partitions; p++) {
                want.add(`lagCount splitter:stream:${p}`);
                want.add(`pendingEntriesCount splitter:stream:${p}`);
            }
            for (const t of s.triggers ?? []) {
                const m = t.metadata ?? {};
                const mode = ['lagCount', 'pendingEntriesCount'].find((k) => k in m);
                const key = `${mode} ${m.stream}`;
                if (t.type !== 'redis-streams') problems.push(`${id(so)}: trigger ${t.name} is ${t.type}`);
                else if (m.consumerGroup !== 'workers') problems.push(`${id(so)}: trigger ${t.name} reads group ${m.consumerGroup}`);
                else if (!mode || !want.delete(key)) problems.push(`${id(so)}: trigger ${t.name} (${key}) is not one per partition stream`);
            }
            for (const w of want) problems.push(`${id(so)}: no trigger ${w}`);
            if (!(s.minReplicaCount >= 1)) problems.push(`${id(so)}: minReplicaCount ${s.minReplicaCount} lets the workers go (no lease holder)`);
            if (!(s.maxReplicaCount <= partitions)) problems.push(`${id(so)}: maxReplicaCount ${s.maxReplicaCount} above the ${partitions} partitions (idle workers)`);
            const down = s.advanced?.horizontalPodAutoscalerConfig?.behavior?.scaleDown;
            if (!(down?.stabilizationWindowSeconds > 0) || !(down?.policies ?? []).length) {
                problems.push(`${id(so)}: no scale-down stabilisation and policy`);
            }
        }
        return problems;
    },

    // The nginx container sets every placeholder of the site template it mounts.
    nginxPlaceholders(objects) {
        const problems = [];
        for (const o of objects.filter((x) => x.kind === 'ConfigMap' && x.data?.['default.conf.template'])) {
            const text = o.data['default.conf.template'].replace(/^\s*#.*$/gm, '');
            const names = new Set([...text.matchAll(/\$\{([A-Z_][A-Z0-9_]*)\}/g)].map((m) => m[1]));
            for (const { o: w, pod, c } of containers(objects)) {
                if (!(pod.volumes ?? []).some((v) => v.configMap?.name === o.metadata.name)) continue;
                const set = new Set((c.env ?? []).map((e) => e.name));
                for (const n of names) if (!set.has(n)) problems.push(`${id(w)} container ${c.name}: does not set \${${n}} of ${o.metadata.name}`);
            }
        }
        return problems;
    },
};

// The generated ConfigMaps hold exactly the files the other launchers read.
RULES.configCopies = function configCopies(objects) {
    const problems = [];
    for (const [prefix, key, source] of CONFIG_SOURCES) {
        const want = fs.readFileSync(path.join(ROOT, source), 'utf8');
        for (const o of objects.filter((x) => x.kind === 'ConfigMap' && x.metadata?.name?.startsWith(`${prefix}-`))) {
            if (o.data?.[key] !== want) {
                problems.push(`${id(o)}: '${key}' differs from ${source} (make kubernetes-config copies it)`);
            }
        }
    }
    return problems;
};

// --- run ----------------------------------------------------------------------------------

const overlays = fs.existsSync(path.join(KUBE, 'overlays'))
    ? fs.readdirSync(path.join(KUBE, 'overlays')).filter((d) => fs.existsSync(path.join(KUBE, 'overlays', d, 'kustomization.yaml'))).sort()
    : [];
test('deploy/kubernetes has the managed and in-cluster overlays', () =>
    ['managed', 'in-cluster'].filter((o) => !overlays.includes(o)).map((o) => `overlays/${o} is missing`));

for (const overlay of overlays) {
    let objects;
    test(`${overlay}: kubectl kustomize renders it`, () => {
        const out = execFileSync(KUBECTL, ['kustomize', path.join(KUBE, 'overlays', overlay)], {
            encoding: 'utf8',
            stdio: ['ignore', 'pipe', 'pipe'],
            maxBuffer: 64 << 20,
        });
        objects = YAML.parseAllDocuments(out).map((d) => d.toJS()).filter(Boolean);
        return objects.length ? [] : ['rendered nothing'];
    });
    if (!objects) continue;
    const problems = await schemaProblems(objects);
    test(`${overlay}: all ${objects.length} objects validate against their schemas`, () => problems);
    for (const [name, rule] of Object.entries(RULES)) test(`${overlay}: ${name}`, () => rule(objects));
}

// The bad fixture: each object names the rule it breaks (annotation splitter.test/violates:
// "schema" or a rule's name), and that rule must flag it.
// YAML 1.1, as Kubernetes reads it: defaultMode 0440 is octal.
const bad = YAML.parseAllDocuments(fs.readFileSync(BAD, 'utf8'), { version: '1.1' }).map((d) => d.toJS()).filter(Boolean);
const violates = (name) => bad.filter((o) => o.metadata?.annotations?.['splitter.test/violates'] === name).map(id);
function flagged(name, problems) {
    const want = violates(name);
    if (!want.length) return [`no object of the fixture breaks ${name}`];
    return want.filter((w) => !problems.some((p) => p.startsWith(`${w}:`) || p.startsWith(`${w} `))).map((w) => `${w} passed`);
}
{
    const problems = await schemaProblems(bad);
    test('bad fixture: the schemas refuse what breaks them', () => flagged('schema', problems));
}
for (const [name, rule] of Object.entries(RULES)) {
    test(`bad fixture: ${name} flags what breaks it`, () => flagged(name, rule(bad)));
}

finish();
