// The group's hash chain, checked in the browser from the audit log it loads: every entry's
// hash must be SHA-256(previous hash || its canonical bytes), as docs/ARCHITECTURE.md ("The
// hash chain") defines them, the first one's previous hash being 32 zero bytes.

const enc = new TextEncoder();

function hex(buf) {
    return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The canonical bytes of an audit-log entry of group gid. */
export function canonical(gid, ev) {
    return `{"accepted_at":"${ev.accepted_at}","actor":"${ev.actor}","event_id":"${ev.event_id}",` +
        `"group_id":"${gid}","payload_sha256":"${ev.payload_sha256}","seq":${ev.seq},"type":"${ev.type}"}`;
}

/** Can this browser compute SHA-256 here? (Web Crypto needs a secure context: HTTPS or localhost.) */
export const canVerify = () => Boolean(globalThis.crypto?.subtle);

/**
 * Check the chain over items (the group's log from its first event, oldest first).
 * Returns {ok: true, head, count} or {ok: false, at: entry, why}.
 */
export async function verifyChain(gid, items) {
    let prev = new Uint8Array(32);
    let head = null;
    for (let i = 0; i < items.length; i++) {
        const ev = items[i];
        if (ev.seq !== i + 1) return { ok: false, at: ev, why: `expected event #${i + 1}` };
        const body = enc.encode(canonical(gid, ev));
        const input = new Uint8Array(32 + body.length);
        input.set(prev, 0);
        input.set(body, 32);
        const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', input));
        head = hex(digest);
        if (head !== ev.hash) return { ok: false, at: ev, why: 'its hash does not match' };
        prev = digest;
    }
    return { ok: true, head, count: items.length };
}

/** "1a2b3c4d…" */
export const shortHash = (h) => `${h.slice(0, 12)}…`;
