// Read benchmarks' client side, driven by scripts/bench.sh against its private stack.
//
//   node bench/reads.mjs setup   -> prints shell assignments: READ_TOKEN, READ_USER,
//                                   READ_GROUP (5 members, a few applied expenses, cached view)
//                                   and BIG_GROUP (an empty group of the same user, for
//                                   bench/seed_group.sql)
//
// BASE_URL comes from the environment.

import { randomUUID } from 'node:crypto';
import { agent, must as api } from './client.mjs';

const reg = await api('POST', '/api/v1/auth/register', {
    email: `reader-${randomUUID()}@bench.test`,
    password: 'correct horse battery',
    name: 'Reader',
});
const t = reg.token;
const g = await api('POST', '/api/v1/groups', { name: 'reads', currency: 'EUR' }, t);
const members = [g.members[0].id];
for (let i = 1; i < 5; i++) members.push((await api('POST', `/api/v1/groups/${g.id}/members`, { name: `m${i}` }, t)).id);
for (let i = 0; i < 5; i++) {
    await api('POST', `/api/v1/groups/${g.id}/expenses`, {
        description: `e${i}`,
        amount: 1000 + i,
        paid_by: [{ member_id: members[i], amount: 1000 + i }],
        split: { mode: 'equal', members: members.map((member_id) => ({ member_id })) },
    }, t, { Prefer: 'wait=10', 'Idempotency-Key': randomUUID() });
}
await api('GET', `/api/v1/groups/${g.id}/balances`, null, t);
const big = await api('POST', '/api/v1/groups', { name: 'big', currency: 'EUR' }, t);
console.log(`READ_TOKEN=${t}`);
console.log(`READ_USER=${reg.user.id}`);
console.log(`READ_GROUP=${g.id}`);
console.log(`BIG_GROUP=${big.id}`);
agent.destroy();
