// Static check of docs/openapi.yaml; run through tests/static/openapi.sh.
//
//   node openapi.mjs ROOT
//
// One counted test per rule, "ok - ..." or "not ok - ..." with the reasons, and a last line
// "N passed, M failed"; exit status 1 when any failed. The packages come from
// tests/static/openapi/node_modules (its own package.json, apart from the container checks').

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

import { finish, record, test } from './lib/tap.mjs';

const require = createRequire(path.join(import.meta.dirname, 'openapi', 'package.json'));
const { validate, compileErrors, dereference } = require('@readme/openapi-parser');
const YAML = require('yaml');
const Ajv2020 = require('ajv/dist/2020').default;

const ROOT = path.resolve(process.argv[2] ?? path.join(import.meta.dirname, '..', '..'));
const SPEC = 'docs/openapi.yaml';
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];

const read = (rel) => fs.readFileSync(path.join(ROOT, rel), 'utf8');
const stripComments = (src) => src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/[^\n]*/g, '');

// --- the document ---------------------------------------------------------------------------

let doc = null;
await test(`${SPEC} is well-formed YAML (no duplicate keys)`, () => {
    const parsed = YAML.parseDocument(read(SPEC), { uniqueKeys: true, prettyErrors: true });
    if (parsed.errors.length) return parsed.errors.map((e) => e.message);
    doc = parsed.toJS({ maxAliasCount: -1 });
    if (!doc || typeof doc !== 'object') return 'not a mapping';
});
if (!doc) {
    record('the remaining checks need the document', 'not read');
    finish();
}

await test('declares OpenAPI 3.1 with a relative server "/" and a bearer security scheme', () => {
    const p = [];
    if (!/^3\.1\.\d+$/.test(String(doc.openapi))) p.push(`openapi is '${doc.openapi}', not 3.1.x`);
    if (!doc.servers?.some((s) => s.url === '/')) p.push('no server with url "/"');
    const b = doc.components?.securitySchemes?.bearer;
    if (b?.type !== 'http' || b?.scheme !== 'bearer') p.push('components.securitySchemes.bearer is not http bearer');
    if (!doc.security?.some((s) => 'bearer' in s)) p.push('bearer is not the default security requirement');
    return p;
});

await test('is a valid OpenAPI 3.1 document (@readme/openapi-parser)', async () => {
    const result = await validate(structuredClone(doc));
    if (!result.valid) return compileErrors(result).split('\n').filter(Boolean);
    if (result.specification !== 'OpenAPI') return `validated as ${result.specification}`;
});

// A local $ref resolved in the raw document (no network, no files).
function resolve(node, seen = new Set()) {
    if (!node || typeof node !== 'object' || typeof node.$ref !== 'string') return node;
    if (!node.$ref.startsWith('#/')) throw new Error(`non-local $ref '${node.$ref}'`);
    if (seen.has(node.$ref)) throw new Error(`circular $ref '${node.$ref}'`);
    seen.add(node.$ref);
    const target = node.$ref.slice(2).split('/')
        .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
        .reduce((n, part) => n?.[part], doc);
    if (target === undefined) throw new Error(`unresolved $ref '${node.$ref}'`);
    return resolve(target, seen);
}

// Every operation: {method, path, op, params (resolved, path-level merged)}.
const operations = [];
for (const [p, item] of Object.entries(doc.paths ?? {})) {
    for (const m of METHODS) {
        if (!item[m]) continue;
        const params = [...(item.parameters ?? []), ...(item[m].parameters ?? [])].map((x) => resolve(x));
        operations.push({ method: m.toUpperCase(), path: p, op: item[m], item, params });
    }
}
const opName = (o) => `${o.method} ${o.path}`;
const shape = (p) => p.replace(/\{[^}]+\}/g, '*');
const isPlanned = (o) => o.op['x-planned'] === true || o.item['x-planned'] === true;

// --- the route table --------------------------------------------------------------------------

const mainC = stripComments(read('api/main.c'));
const routed = new Map(); // "METHOD shape" -> description

await test('api/main.c: the route table parses', () => {
    const table = mainC.match(/static\s+const\s+struct\s+route\s+routes\[\]\s*=\s*\{([\s\S]*?)\n\};/);
    if (!table) return 'no "static const struct route routes[] = {...};" in api/main.c';
    const p = [];
    // {"METHOD", {"seg", ...}, n, route_fn, ROUTE_OWN|ROUTE_GROUP}
    const re = /\{\s*"([A-Z]+)"\s*,\s*\{([^}]*)\}\s*,\s*(\d+)\s*,\s*(\w+)\s*(?:,\s*\w+\s*)?\}/g;
    let m;
    while ((m = re.exec(table[1]))) {
        const segs = [...m[2].matchAll(/"([^"]*)"/g)].map((s) => s[1]);
        if (segs.length !== Number(m[3])) p.push(`${m[4]}: ${segs.length} segments but n = ${m[3]}`);
        routed.set(`${m[1]} /api/v1/${segs.join('/')}`, m[4]);
    }
    if (routed.size === 0) p.push('no routes found in the table');
    // Paths the router handles before the table: `c->n_seg == N && seg_is(c, 0, "x") && ...`,
    // answering GET (or any method when it does not compare c->method).
    const on = mainC.match(/static int on_req\([\s\S]*?\n\}/)?.[0] ?? '';
    if (!on) p.push('no on_req() in api/main.c');
    const sre = /c->n_seg\s*==\s*(\d+)((?:\s*&&\s*seg_is\(\s*c\s*,\s*\d+\s*,\s*"[^"]+"\s*\))+)/g;
    while ((m = sre.exec(on))) {
        const segs = [...m[2].matchAll(/seg_is\(\s*c\s*,\s*(\d+)\s*,\s*"([^"]+)"\s*\)/g)];
        if (segs.length !== Number(m[1])) continue;
        const body = on.slice(m.index, on.indexOf('goto out', m.index));
        const method = body.match(/strcmp\(\s*c->method\s*,\s*"([A-Z]+)"\s*\)/)?.[1] ?? 'GET';
        routed.set(`${method} /${segs.map((s) => s[2]).join('/')}`, 'special route in on_req');
    }
    // Or a path compared as a literal ("/metrics").
    for (const lit of on.matchAll(/(?:h2o_memis|strcmp|strncmp|memcmp)\([^;]*?"(\/[a-z][^"%]*)"/g)) {
        routed.set(`GET ${lit[1]}`, 'literal path in on_req');
    }
    return p;
});

const specOps = new Map(operations.map((o) => [`${o.method} ${shape(o.path)}`, o]));
for (const [key, fn] of routed) {
    await test(`route ${key} (${fn}) is described`, () => {
        const o = specOps.get(key);
        if (!o) return `no operation ${key.replace(/\*/g, '{…}')} in ${SPEC}`;
        if (isPlanned(o)) return `${opName(o)} is marked x-planned but is routed: remove the mark`;
    });
}

await test('every described operation is routed, or marked x-planned', () => {
    const p = [];
    for (const [key, o] of specOps) {
        if (!routed.has(key) && !isPlanned(o)) p.push(`${opName(o)} is not in api/main.c's routes (mark it x-planned: true if it is coming)`);
    }
    return p;
});

// --- problems ------------------------------------------------------------------------------------

await test('every problem type of shared/problem.c is documented with its status and title', () => {
    const src = read('shared/problem.c');
    const table = [...src.matchAll(/\[PROBLEM_\w+\]\s*=\s*\{\s*(\d+)\s*,\s*"([^"]+)"\s*,\s*"([^"]+)"\s*\}/g)];
    if (table.length === 0) return 'no problem table found in shared/problem.c';
    const text = resolve(doc.components?.schemas?.Problem)?.description ?? '';
    const rows = new Map([...text.matchAll(/\|\s*`\/problems\/([a-z-]+)`\s*\|\s*(\d+)\s*\|\s*([^|]+?)\s*\|/g)]
        .map((r) => [r[1], { status: Number(r[2]), title: r[3] }]));
    const p = [];
    for (const [, status, slug, title] of table) {
        const row = rows.get(slug);
        if (!row) p.push(`/problems/${slug} (${status}) is not in the Problem schema's table`);
        else if (row.status !== Number(status) || row.title !== title)
            p.push(`/problems/${slug}: documented ${row.status} "${row.title}", code says ${status} "${title}"`);
        rows.delete(slug);
    }
    for (const slug of rows.keys()) p.push(`/problems/${slug} is documented but not in shared/problem.c`);
    return p;
});

const problemTable = new Map([...read('shared/problem.c')
    .matchAll(/\[PROBLEM_\w+\]\s*=\s*\{\s*(\d+)\s*,\s*"([^"]+)"\s*,\s*"([^"]+)"\s*\}/g)]
    .map((r) => [`/problems/${r[2]}`, { status: Number(r[1]), title: r[3] }]));

// --- what every kind of operation must document ------------------------------------------------

const has = (o, status) => o.op.responses?.[status] !== undefined;
const response = (o, status) => resolve(o.op.responses?.[status]);
const header = (o, status, name) => {
    const h = response(o, status)?.headers ?? {};
    return Object.keys(h).some((k) => k.toLowerCase() === name.toLowerCase());
};
const param = (o, name) => o.params.find((x) => x.name.toLowerCase() === name.toLowerCase());

function rule(name, applies, check) {
    return test(name, () => {
        const p = [];
        for (const o of operations.filter(applies)) for (const why of [check(o)].flat().filter(Boolean)) p.push(`${opName(o)}: ${why}`);
        return p;
    });
}

await rule('every error answer (4xx, 5xx) is application/problem+json', () => true, (o) => {
    const p = [];
    for (const [status, r] of Object.entries(o.op.responses ?? {})) {
        if (!/^[45]/.test(status)) continue;
        const content = resolve(r).content ?? {};
        if (!content['application/problem+json']) p.push(`${status} has no application/problem+json content`);
        const extra = Object.keys(content).filter((t) => t !== 'application/problem+json');
        if (extra.length && !(o.path === '/api/health' && status === '503')) p.push(`${status} also answers ${extra.join(', ')}`);
    }
    return p;
});

await rule('authenticated operations answer 401 with WWW-Authenticate', (o) => !(o.op.security && o.op.security.length === 0),
    (o) => (!has(o, '401') ? 'no 401' : !header(o, '401', 'WWW-Authenticate') ? '401 without WWW-Authenticate' : null));

await rule('operations that need PostgreSQL or Redis answer 503 with Retry-After',
    (o) => o.path !== '/api/ping',
    (o) => (!has(o, '503') ? 'no 503' : !header(o, '503', 'Retry-After') ? '503 without Retry-After' : null));

await rule('operations with a JSON body answer 400, 413, 415 and 422', (o) => o.op.requestBody,
    (o) => ['400', '413', '415', '422'].filter((s) => !has(o, s)).map((s) => `no ${s}`));

await rule('operations on a group ({gid}) or another id answer 404', (o) => /\{/.test(o.path),
    (o) => (has(o, '404') ? null : 'no 404'));

await rule('operations taking If-None-Match answer 304 and send an ETag', (o) => param(o, 'If-None-Match'), (o) => {
    const ok = Object.keys(o.op.responses).find((s) => /^2/.test(s));
    return [!has(o, '304') && 'no 304', !header(o, ok, 'ETag') && `${ok} without ETag`];
});

// The file of api/ that defines route function fn ("" when none does).
const apiSources = fs.readdirSync(path.join(ROOT, 'api')).filter((f) => f.endsWith('.c')).map((f) => read(`api/${f}`));
const sourceOf = (fn) => apiSources.find((src) => new RegExp(`^void\\s+${fn}\\s*\\(`, 'm').test(src)) ?? '';
await rule('group reads (GET …/groups/{gid}[/…]) take If-None-Match, unless their route sends no ETag (noted)',
    (o) => o.method === 'GET' && /^\/api\/v1\/groups\/\{gid\}/.test(o.path), (o) => {
        const fn = routed.get(`GET ${shape(o.path)}`);
        const etag = fn && /add_etag\(|respond_page_head\(/.test(sourceOf(fn));
        if (fn && !etag) {
            console.log(`# note: ${opName(o)}: ${fn} sends no ETag although the contract wants one on group reads`);
            return param(o, 'If-None-Match') ? 'documents If-None-Match, but the route sends no ETag' : null;
        }
        return param(o, 'If-None-Match') ? null : 'no If-None-Match parameter';
    });

const apiH = stripComments(read('api/api.h'));
const define = (src, name) => Number(src.match(new RegExp(`#define\\s+${name}\\s+\\(?\\s*(\\d+)`))?.[1]);
await rule('paginated operations: limit 1..PAGE_MAX_LIMIT default PAGE_DEFAULT_LIMIT (api/api.h), cursor, next_cursor, 422',
    (o) => param(o, 'cursor') || param(o, 'limit'), (o) => {
        const lim = param(o, 'limit')?.schema ?? {};
        const max = define(apiH, 'PAGE_MAX_LIMIT');
        const dflt = define(apiH, 'PAGE_DEFAULT_LIMIT');
        const body = resolve(response(o, '200')?.content?.['application/json']?.schema);
        return [
            !param(o, 'cursor') && 'no cursor parameter',
            (lim.minimum !== 1 || lim.maximum !== max || lim.default !== dflt) &&
                `limit is ${lim.minimum}..${lim.maximum} default ${lim.default}, api.h says 1..${max} default ${dflt}`,
            !(body?.required ?? []).includes('next_cursor') && '200 body without a required next_cursor',
            !(body?.required ?? []).includes('items') && '200 body without a required items',
            !has(o, '422') && 'no 422',
        ];
    });

await rule('asynchronous ledger writes: 202 with Location, Prefer, Idempotency-Key (1..255 bytes), 409 and 422',
    (o) => param(o, 'Prefer'), (o) => {
        const key = param(o, 'Idempotency-Key');
        const body = resolve(response(o, '202')?.content?.['application/json']?.schema);
        return [
            !has(o, '202') && 'no 202',
            has(o, '202') && !header(o, '202', 'Location') && '202 without Location',
            body && (body.properties?.status?.const !== 'queued' || !['event_id', 'status'].every((k) => body.required?.includes(k))) &&
                '202 body is not {event_id, status: queued, …}',
            !key && 'no Idempotency-Key parameter',
            key && key.schema?.maxLength !== 255 && `Idempotency-Key maxLength is ${key.schema?.maxLength}, the api allows 255`,
            !has(o, '409') && 'no 409 (a rejected event with Prefer: wait)',
            !has(o, '422') && 'no 422',
        ];
    });

await test('PUT of an expense requires If-Match: 428 without, 412 malformed, 409 stale', () => {
    const o = operations.find((x) => x.method === 'PUT' && x.path.includes('/expenses/'));
    if (!o) return 'no PUT …/expenses/{eid}';
    const im = param(o, 'If-Match');
    return [!im?.required && 'If-Match is not a required parameter',
        ...['409', '412', '428'].filter((s) => !has(o, s)).map((s) => `no ${s}`)];
});

await test('the ledger writes are the routes that accept events (event_accept, api/route_ledger.c)', () => {
    const writes = operations.filter((o) => param(o, 'Prefer')).map((o) => `${o.method} ${shape(o.path)}`).sort();
    const expected = [...routed].filter(([, fn]) => /route_expense_write|route_payment_write|route_event_revert/.test(fn)).map(([k]) => k).sort();
    if (JSON.stringify(writes) !== JSON.stringify(expected)) return `described ${writes.join(', ')}; routed ${expected.join(', ')}`;
});

// --- request fields and bounds against the code -----------------------------------------------

const schemas = doc.components?.schemas ?? {};
function keyList(file, name) {
    const m = stripComments(read(file)).match(new RegExp(`(?<![A-Za-z0-9_])${name}\\[\\]\\s*=\\s*\\{([^}]*)\\}`));
    if (!m) throw new Error(`no ${name}[] in ${file}`);
    return [...m[1].matchAll(/"([^"]*)"/g)].map((s) => s[1]).sort();
}
const propsOf = (schema) => Object.keys(resolve(schema)?.properties ?? {}).sort();
const FIELDS = [
    ['api/route_auth.c', 'register_keys', schemas.RegisterRequest],
    ['api/route_auth.c', 'login_keys', schemas.LoginRequest],
    ['api/route_groups.c', 'group_keys', schemas.GroupCreateRequest],
    ['api/route_groups.c', 'member_keys', schemas.MemberCreateRequest],
    ['api/route_invites.c', 'create_keys', schemas.InviteCreateRequest],
    ['api/route_invites.c', 'accept_keys', schemas.InviteAcceptRequest],
    ['api/route_guests.c', 'join_keys', schemas.GuestJoinRequest],
    ['api/route_auth.c', 'credentials_keys', schemas.CredentialsRequest],
    ['api/route_webhooks.c', 'create_keys', schemas.WebhookCreateRequest],
    ['shared/ledger.c', 'expense_keys', schemas.ExpenseRequest],
    ['shared/ledger.c', 'payer_keys', schemas.Payer],
    ['shared/ledger.c', 'payment_keys', schemas.PaymentRequest],
    ['shared/ledger.c', 'item_keys', schemas.Item],
    ['shared/ledger.c', 'item_split_keys', schemas.ItemSplit],
    ['shared/ledger.c', 'charge_keys', schemas.Charge],
];
await test('request schemas list exactly the fields the code accepts, and refuse others', () => {
    const p = [];
    for (const [file, list, schema] of FIELDS) {
        if (!schema) { p.push(`no schema for ${list}`); continue; }
        const want = keyList(file, list);
        const got = propsOf(schema);
        if (JSON.stringify(want) !== JSON.stringify(got)) p.push(`${list} (${file}) is [${want}], the schema has [${got}]`);
        if (resolve(schema).additionalProperties !== false) p.push(`the schema for ${list} does not set additionalProperties: false`);
    }
    return p;
});

const SPLITS = { equal: 'EqualSplit', exact: 'ExactSplit', percent: 'PercentSplit', shares: 'SharesSplit', items: 'ItemsSplit' };
await test('split modes and their member fields match shared/ledger.c', () => {
    const p = [];
    const modes = keyList('shared/ledger.c', 'mode_names');
    const mapping = Object.keys(schemas.Split?.discriminator?.mapping ?? {}).sort();
    if (schemas.Split?.discriminator?.propertyName !== 'mode') p.push('Split has no discriminator on mode');
    if (JSON.stringify(modes) !== JSON.stringify(mapping)) p.push(`modes [${modes}], discriminator mapping [${mapping}]`);
    const splitKeys = keyList('shared/ledger.c', 'split_keys');
    const partKeys = keyList('shared/ledger.c', 'part_keys');
    const itemsKeys = keyList('shared/ledger.c', 'items_split_keys');
    for (const mode of modes) {
        const s = resolve(schemas[SPLITS[mode]] ?? {});
        if (s.properties?.mode?.const !== mode) p.push(`${SPLITS[mode]}.mode is not const '${mode}'`);
        if (mode === 'items') {
            // An itemised bill: its own keys; items and charges are checked with the request fields.
            if (JSON.stringify(propsOf(s)) !== JSON.stringify(itemsKeys)) p.push(`${SPLITS[mode]} has [${propsOf(s)}], items_split_keys is [${itemsKeys}]`);
            continue;
        }
        if (JSON.stringify(propsOf(s)) !== JSON.stringify(splitKeys)) p.push(`${SPLITS[mode]} has [${propsOf(s)}], split_keys is [${splitKeys}]`);
        const item = resolve(resolve(s.properties?.members)?.items);
        const fields = propsOf(item);
        if (!fields.every((f) => partKeys.includes(f))) p.push(`${SPLITS[mode]} members have [${fields}], part_keys is [${partKeys}]`);
        if ((mode === 'equal') === fields.includes('value')) p.push(`${SPLITS[mode]}: value must be ${mode === 'equal' ? 'absent' : 'present'}`);
    }
    return p;
});

await test('bounds match shared/ledger.h (lengths, member counts, rate decimals)', () => {
    const h = stripComments(read('shared/ledger.h'));
    const p = [];
    const expect = (what, got, want) => got !== want && p.push(`${what} is ${got}, the code says ${want}`);
    const x = schemas.ExpenseRequest?.properties ?? {};
    expect('ExpenseRequest.description.maxLength', x.description?.maxLength, define(h, 'LEDGER_DESCRIPTION_MAX'));
    expect('ExpenseRequest.category maxLength', x.category?.oneOf?.find((s) => s.type === 'string')?.maxLength, define(h, 'LEDGER_CATEGORY_MAX'));
    expect('PaymentRequest.note maxLength', schemas.PaymentRequest?.properties?.note?.oneOf?.find((s) => s.type === 'string')?.maxLength, define(h, 'LEDGER_NOTE_MAX'));
    const maxMembers = define(h, 'LEDGER_MAX_MEMBERS');
    expect('ExpenseRequest.paid_by.maxItems', x.paid_by?.maxItems, maxMembers);
    for (const name of Object.values(SPLITS).filter((n) => n !== 'ItemsSplit'))
        expect(`${name}.members.maxItems`, resolve(schemas[name]?.properties?.members)?.maxItems, maxMembers);
    const items = schemas.ItemsSplit?.properties ?? {};
    expect('ItemsSplit.items.maxItems', items.items?.maxItems, define(h, 'LEDGER_MAX_ITEMS'));
    expect('ItemsSplit.charges.maxItems', items.charges?.maxItems, define(h, 'LEDGER_MAX_CHARGES'));
    expect('ItemSplit.members.maxItems', schemas.ItemSplit?.properties?.members?.maxItems, maxMembers);
    expect('Item.name.maxLength', schemas.Item?.properties?.name?.maxLength, define(h, 'LEDGER_ITEM_NAME_MAX'));
    expect('Item.quantity.maximum', schemas.Item?.properties?.quantity?.maximum, define(h, 'LEDGER_QUANTITY_MAX'));
    const scale = schemas.ExchangeRate?.pattern?.match(/\{1,(\d+)\}/)?.[1];
    expect('ExchangeRate pattern decimals', Number(scale), define(h, 'LEDGER_RATE_MAX_SCALE'));
    const money = schemas.Money ?? {};
    if (money.type !== 'integer' || money.format !== 'int64') p.push('Money is not an integer of format int64');
    return p;
});

// --- examples ------------------------------------------------------------------------------------

await test('every example validates against its schema, and problem examples match the problem table', async () => {
    const full = await dereference(structuredClone(doc));
    const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true, logger: false, multipleOfPrecision: 9 });
    const p = [];
    const check = (where, schema, value, status) => {
        const v = ajv.compile(schema);
        if (!v(value)) p.push(`${where}: ${ajv.errorsText(v.errors, { dataVar: 'example' })}`);
        if (status && value && typeof value === 'object' && problemTable.has(value.type)) {
            const t = problemTable.get(value.type);
            if (t.status !== value.status || t.title !== value.title) p.push(`${where}: ${value.type} is ${t.status} "${t.title}"`);
            if (String(value.status) !== status) p.push(`${where}: a ${value.status} problem under status ${status}`);
        }
    };
    const media = (where, content, status) => {
        for (const [type, mt] of Object.entries(content ?? {})) {
            if (!mt.schema) continue;
            if (mt.example !== undefined) check(`${where} ${type} example`, mt.schema, mt.example, status);
            for (const [name, ex] of Object.entries(mt.examples ?? {}))
                if (ex.value !== undefined) check(`${where} ${type} example '${name}'`, mt.schema, ex.value, status);
        }
    };
    let n = 0;
    for (const [pth, item] of Object.entries(full.paths)) {
        for (const m of METHODS) {
            const op = item[m];
            if (!op) continue;
            media(`${m.toUpperCase()} ${pth} request`, op.requestBody?.content);
            for (const [status, r] of Object.entries(op.responses ?? {})) media(`${m.toUpperCase()} ${pth} ${status}`, r.content, status);
            n++;
        }
    }
    for (const [name, s] of Object.entries(full.components?.schemas ?? {}))
        for (const [i, ex] of (s.examples ?? []).entries()) check(`schema ${name} examples[${i}]`, s, ex);
    if (n === 0) p.push('no operations');
    return p;
});

finish();
