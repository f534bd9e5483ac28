// Counted tests for the tests/static/*.mjs checks: one "ok - NAME" or "not ok - NAME" line
// per test (the reasons indented below), then finish() prints "N passed, M failed" and exits
// with status 1 when any failed.

let passed = 0;
let failed = 0;

// record(name, problems): problems is nothing or [] (pass), a string or array of strings (the
// failures), or 'skip: why' (skipped, not counted).
export function record(name, problems) {
    if (typeof problems === 'string' && problems.startsWith('skip:')) {
        console.log(`ok - ${name} # SKIP${problems.slice(5)}`);
        return;
    }
    problems = [problems ?? []].flat().filter(Boolean);
    if (problems.length === 0) {
        passed++;
        console.log(`ok - ${name}`);
    } else {
        failed++;
        console.log(`not ok - ${name}`);
        for (const p of problems) console.log(`    ${p}`);
    }
}

// test(name, fn): record fn's result; a throw is a failure. An async fn is recorded when it
// settles: await the promise test() returns then.
export function test(name, fn) {
    let result;
    try {
        result = fn();
    } catch (err) {
        record(name, [`${err.message}`]);
        return undefined;
    }
    if (result && typeof result.then === 'function') {
        return result.then(
            (problems) => record(name, problems),
            (err) => record(name, [`${err.message}`]),
        );
    }
    record(name, result);
    return undefined;
}

export function finish() {
    console.log(`${passed} passed, ${failed} failed`);
    process.exit(failed ? 1 : 0);
}
