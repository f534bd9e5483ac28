// A group's webhooks, on the members tab: the list with each webhook's last delivery, adding
// one (its signing secret is shown once, with a copy button), deleting one.

import { get, isMissingRoute, request } from './api.js';
import { clear, field, formatDateTime, h, setFieldError, toast } from './dom.js';
import { problemSentence } from './problems.js';
import { t } from './i18n.js';
import { formAlert, onSubmit } from './ui.js';

function statusText(status) {
    return { delivered: t('delivered'), pending: t('pending'), failed: t('failed') }[status] ?? status;
}

function lastDelivery(d) {
    if (!d) return h('span', { class: 'muted small' }, t('No deliveries yet'));
    const when = d.delivered_at ?? d.next_attempt_at ?? d.created_at;
    return h('span', { class: ['small', 'webhook-status', `webhook-${d.status}`], dataset: { status: d.status } },
        t('Last delivery: {status}', { status: statusText(d.status) }),
        d.last_status_code ? ` (${d.last_status_code})` : '',
        when ? h('span', { class: 'muted' }, ` · ${formatDateTime(when)}`) : '');
}

function showSecret(slot, secret) {
    clear(slot);
    const input = h('input', { type: 'text', readonly: true, value: secret, id: 'webhook-secret', class: 'mono' });
    slot.append(h('div', { class: 'invite-box' },
        field({ label: t('Signing secret'), control: input, name: 'secret', hint: t('Shown only now: copy it into the receiving service to check signatures.') }),
        h('button', {
            type: 'button', class: 'btn btn-secondary', id: 'copy-secret',
            onclick: async () => {
                try {
                    await navigator.clipboard.writeText(secret);
                    toast(t('Secret copied.'));
                } catch {
                    input.select();
                    toast(t('Select the secret and copy it.'));
                }
            },
        }, t('Copy secret'))));
    input.focus();
    input.select();
}

/** The webhooks card of group (filled once its list arrives). */
export function webhooksCard(group) {
    const list = h('ul', { class: 'webhook-list', id: 'webhook-list', 'aria-live': 'polite' }, h('li', { class: 'muted loading' }, t('Loading…')));
    const secretSlot = h('div', { class: 'invite-slot', 'aria-live': 'polite' });
    const section = h('section', { class: 'card', 'aria-labelledby': 'h-webhooks', id: 'webhooks' },
        h('h2', { id: 'h-webhooks' }, t('Webhooks')),
        h('p', { class: 'muted' }, t('Send this group’s changes to another service. Each delivery is signed with the webhook’s secret.')),
        list);

    const refresh = async () => {
        let items;
        try {
            items = (await get(`groups/${group.id}/webhooks`)).items;
        } catch (e) {
            clear(list);
            list.append(h('li', { class: 'notice' }, isMissingRoute(e)
                ? t('{what} is not available from this server yet.', { what: t('Webhooks') })
                : problemSentence(e)));
            return;
        }
        clear(list);
        if (!items.length) list.append(h('li', { class: 'muted', id: 'no-webhooks' }, t('No webhooks yet.')));
        for (const w of items) {
            const del = h('button', {
                type: 'button', class: 'btn btn-ghost btn-small delete-webhook',
                'aria-label': t('Delete webhook {url}', { url: w.url }),
                onclick: async () => {
                    del.disabled = true;
                    try {
                        await request('DELETE', `groups/${group.id}/webhooks/${w.id}`);
                        toast(t('Webhook deleted.'));
                        await refresh();
                    } catch (e) {
                        toast(`${t('Could not delete the webhook.')} ${problemSentence(e)}`, 'error');
                        del.disabled = false;
                    }
                },
            }, t('Delete'));
            list.append(h('li', { class: 'webhook', dataset: { id: w.id } },
                h('span', { class: 'who mono webhook-url' }, w.url),
                h('span', { class: 'muted small' }, w.events ? w.events.join(', ') : t('all events')),
                lastDelivery(w.last_delivery),
                del));
        }
    };

    const url = h('input', { type: 'url', required: true, maxlength: 2048, autocomplete: 'off', id: 'webhook-url', placeholder: 'https://hooks.example.com/splitter', class: 'mono' });
    const form = h('form', { class: 'form inline-form', id: 'add-webhook', novalidate: true },
        formAlert(),
        h('div', { class: 'row row-end' },
            field({ label: t('URL'), control: url, name: 'url', className: 'grow', hint: t('An https:// address that accepts POST requests.') }),
            h('button', { type: 'submit', class: 'btn btn-primary' }, t('Add webhook'))));
    onSubmit(form, async () => {
        const value = url.value.trim();
        if (!/^https?:\/\/\S+$/i.test(value)) {
            setFieldError(url, t('Enter an https:// URL'));
            url.focus();
            return;
        }
        setFieldError(url, null);
        const r = await request('POST', `groups/${group.id}/webhooks`, { body: { url: value } });
        url.value = '';
        toast(t('Webhook added.'));
        showSecret(secretSlot, r.data.secret);
        await refresh();
    });
    section.append(form, secretSlot);
    refresh();
    return section;
}
