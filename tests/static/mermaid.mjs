// tests/static/mermaid.sh: render every ```mermaid block of README.md and docs/ in chromium.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch } from '../browser/lib.mjs';
import { finish, record as result } from './lib/tap.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(process.argv[2] ?? path.join(here, '../..'));
const MERMAID = path.join(here, 'mermaid/node_modules/mermaid/dist/mermaid.min.js');
function markdownFiles() {
    const out = [];
    if (fs.existsSync(path.join(ROOT, 'README.md'))) out.push('README.md');
    const walk = (dir) => {
        for (const e of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
            const rel = `${dir}/${e.name}`;
            if (e.isDirectory()) walk(rel);
            else if (e.name.endsWith('.md')) out.push(rel);
        }
    };
    if (fs.existsSync(path.join(ROOT, 'docs'))) walk('docs');
    return out.sort();
}

// Fenced code blocks: { file, line (of the opening fence), lang, code }.
function blocks(file) {
    const lines = fs.readFileSync(path.join(ROOT, file), 'utf8').split('\n');
    const out = [];
    let open = null;
    lines.forEach((l, i) => {
        const m = l.match(/^(\s*)(`{3,}|~{3,})\s*([\w-]*)/);
        if (!open && m) open = { file, line: i + 1, fence: m[2], lang: m[3], body: [] };
        else if (open && l.trim().startsWith(open.fence) && l.trim().replace(/[`~]/g, '') === '') {
            out.push({ ...open, code: open.body.join('\n') });
            open = null;
        } else if (open) open.body.push(l);
    });
    return out;
}

const all = markdownFiles().flatMap(blocks);
const diagrams = all.filter((b) => b.lang === 'mermaid');

for (const b of all.filter((x) => x.lang === '')) {
    if (/[─│┌┐└┘├┤┬┴▶◀]/.test(b.code)) result(`${b.file}:${b.line}: no ASCII-art diagram (use Mermaid)`, 'box-drawing diagram in a code block');
}
result('the docs have Mermaid diagrams', diagrams.length ? [] : 'no ```mermaid block found');

const browser = await launch();
try {
    const page = await browser.newPage();
    await page.setContent('<!doctype html><html><body></body></html>');
    await page.addScriptTag({ path: MERMAID });
    await page.evaluate(() => window.mermaid.initialize({ startOnLoad: false, securityLevel: 'strict' }));
    let n = 0;
    for (const b of diagrams) {
        const kind = b.code.trim().split(/\s/)[0];
        const err = await page.evaluate(async ([id, code]) => {
            try {
                const { svg } = await window.mermaid.render(id, code);
                return /<svg[\s>]/.test(svg) && !/Syntax error/.test(svg) ? null : 'rendered no diagram';
            } catch (e) {
                document.getElementById(id)?.remove();
                document.getElementById(`d${id}`)?.remove();
                return String(e?.message ?? e).split('\n').slice(0, 4).join(' / ');
            }
        }, [`m${n++}`, b.code]);
        result(`${b.file}:${b.line}: ${kind} diagram renders`, err);
    }
} finally {
    await browser.close();
}

finish();
