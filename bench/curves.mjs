// The cost curves' client side, driven by scripts/bench.sh (bench_curves) against its private
// stack.
//
//   node bench/curves.mjs group N DIR  -> a new user and a group of N members (the creator and
//                                         N - 1 without accounts); prints shell assignments
//                                         CURVE_TOKEN, CURVE_USER, CURVE_GROUP and CURVE_BODY
//                                         (a file in DIR: a valid expense split equally
//                                         between all N). With N > 1 that expense is applied
//                                         once (Prefer: wait), so the group's view is cached.
//                                         With N = 1 nothing is written: bench/seed_group.sql
//                                         wants the creator as the only member.
//
// BASE_URL comes from the environment.

import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agent, must as api } from './client.mjs';

if (process.argv[2] !== 'group') {
    console.error('usage: node bench/curves.mjs group N DIR');
    process.exit(2);
}
const n = Number(process.argv[3]);
const reg = await api('POST', '/api/v1/auth/register', {
    email: `curve-${randomUUID()}@bench.test`,
    password: 'benchmark password',
    name: 'Curve',
});
const token = reg.token;
const g = await api('POST', '/api/v1/groups', { name: `curve ${n}`, currency: 'EUR' }, token);
const members = [g.members[0].id];
for (let i = 1; i < n; i++)
    members.push((await api('POST', `/api/v1/groups/${g.id}/members`, { name: `m${i}` }, token)).id);
const amount = 100 * n + 7;
const body = {
    description: `split between ${n}`,
    amount,
    paid_by: [{ member_id: members[0], amount }],
    split: { mode: 'equal', members: members.map((member_id) => ({ member_id })) },
};
const file = join(process.argv[4], `curve-${n}-${g.id}.json`);
writeFileSync(file, JSON.stringify(body));
if (n > 1) await api('POST', `/api/v1/groups/${g.id}/expenses`, body, token, { Prefer: 'wait=30' });
console.log(`CURVE_TOKEN=${token}\nCURVE_USER=${reg.user.id}\nCURVE_GROUP=${g.id}\nCURVE_BODY=${file}`);
agent.destroy();
