// HTTP helpers of the benchmarks' node clients (BASE_URL from the environment).
//
//   request(method, path, body, token, headers) -> { status, text }, over kept-alive
//                                                  connections with node:http: a far lighter
//                                                  load generator than fetch(), which matters
//                                                  when it shares the cores with what it measures
//   must(...the same)                           -> the parsed JSON body (null when empty);
//                                                  throws on a status of 300 or more
//   agent                                       -> the connections' agent: destroy() it at
//                                                  the end, or its sockets keep node running
//   expense(members, i, label)                  -> the i-th expense body of a benchmark: paid
//                                                  by one member in turn, split equally

import http from 'node:http';

export const agent = new http.Agent({ keepAlive: true, maxSockets: 2048 });

export function request(method, path, body, token, headers = {}) {
    const data = body ? JSON.stringify(body) : undefined;
    const url = new URL(process.env.BASE_URL + path);
    return new Promise((resolve, reject) => {
        const req = http.request(
            {
                host: url.hostname,
                port: url.port,
                path: url.pathname + url.search,
                method,
                agent,
                headers: {
                    'Content-Type': 'application/json',
                    ...(data ? { 'Content-Length': Buffer.byteLength(data) } : {}),
                    ...(token ? { Authorization: `Bearer ${token}` } : {}),
                    ...headers,
                },
            },
            (res) => {
                let text = '';
                res.setEncoding('utf8');
                res.on('data', (d) => (text += d));
                res.on('end', () => resolve({ status: res.statusCode, text }));
            },
        );
        req.on('error', reject);
        req.end(data);
    });
}

export async function must(method, path, body, token, headers) {
    const r = await request(method, path, body, token, headers);
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
    return r.text ? JSON.parse(r.text) : null;
}

export function expense(members, i, label = 'bench') {
    const amount = 100 + (i % 9973);
    return {
        description: `${label} ${i}`,
        amount,
        paid_by: [{ member_id: members[i % members.length], amount }],
        split: { mode: 'equal', members: members.map((member_id) => ({ member_id })) },
    };
}
