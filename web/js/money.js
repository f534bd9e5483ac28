// Money without floating point. Amounts travel as integer minor units (BigInt here, exact JSON
// numbers on the wire); decimals typed by people are parsed by splitting the string, never by
// Number(); display goes through Intl.NumberFormat with the decimal *string*, which formats it
// exactly (Intl.NumberFormat v3).

import { currentLocale, t } from './i18n.js';

// ISO 4217 minor-unit exponents that are not 2. Everything else is 2.
const EXPONENTS = {
    BHD: 3, IQD: 3, JOD: 3, KWD: 3, LYD: 3, OMR: 3, TND: 3,
    BIF: 0, CLP: 0, DJF: 0, GNF: 0, ISK: 0, JPY: 0, KMF: 0, KRW: 0, PYG: 0, RWF: 0, UGX: 0,
    UYI: 0, VND: 0, VUV: 0, XAF: 0, XOF: 0, XPF: 0,
    CLF: 4, UYW: 4,
};

/** Common currencies offered in pickers (any valid ISO code is accepted by the API). */
export const CURRENCIES = [
    'EUR', 'USD', 'GBP', 'CHF', 'JPY', 'CAD', 'AUD', 'NZD', 'SEK', 'NOK', 'DKK', 'ISK', 'PLN', 'CZK',
    'HUF', 'RON', 'BGN', 'TRY', 'INR', 'CNY', 'HKD', 'SGD', 'KRW', 'THB', 'BRL', 'MXN', 'ZAR',
    'KWD', 'BHD', 'JOD', 'OMR', 'TND',
];

export function isCurrencyCode(code) {
    return typeof code === 'string' && /^[A-Z]{3}$/.test(code);
}

/** Number of minor-unit digits of a currency: JPY 0, EUR 2, KWD 3. */
export function exponent(currency) {
    return Object.hasOwn(EXPONENTS, currency) ? EXPONENTS[currency] : 2;
}

/** Any integer-ish value (BigInt, safe Number, digit string) as a BigInt. */
export function big(v) {
    if (typeof v === 'bigint') return v;
    if (typeof v === 'number') {
        if (!Number.isInteger(v)) throw new TypeError(`not an integer amount: ${v}`);
        return BigInt(v);
    }
    if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
    throw new TypeError(`not an amount: ${v}`);
}

const MAX_I64 = (1n << 63n) - 1n;

/**
 * Parse what a person typed ("12.34", "12,34", "1 200", "12") into minor units.
 * @returns {{minor: bigint} | {error: string}}
 */
export function parseAmount(text, currency, { allowZero = false } = {}) {
    const exp = exponent(currency);
    let s = String(text ?? '').trim().replace(/[\s\u00a0\u202f']/g, '');
    if (s === '') return { error: t('Enter an amount') };
    // One separator: "." or "," as the decimal point. Grouping separators are not guessed.
    if (!/^\d+([.,]\d*)?$/.test(s) && !/^[.,]\d+$/.test(s)) {
        return { error: t('Enter a number like 12.50') };
    }
    s = s.replace(',', '.');
    const [intPart, frac = ''] = s.split('.');
    if (frac.length > exp) {
        return {
            error: exp === 0 ? t('{currency} has no minor unit: enter a whole amount', { currency })
                : t('{currency} has at most {n} decimals', { currency, n: exp }),
        };
    }
    const minor = BigInt(intPart || '0') * 10n ** BigInt(exp) + BigInt((frac.padEnd(exp, '0')) || '0');
    if (minor > MAX_I64) return { error: t('That amount is too large') };
    if (minor === 0n && !allowZero) return { error: t('The amount must be more than zero') };
    return { minor };
}

/** Minor units as a plain decimal string in major units: 1234n, "EUR" -> "12.34". */
export function toDecimal(minor, currency) {
    const exp = exponent(currency);
    let v = big(minor);
    const neg = v < 0n;
    if (neg) v = -v;
    let digits = v.toString();
    if (exp === 0) return (neg ? '-' : '') + digits;
    digits = digits.padStart(exp + 1, '0');
    return `${neg ? '-' : ''}${digits.slice(0, -exp)}.${digits.slice(-exp)}`;
}

/** For an input's value when editing: like toDecimal, no sign. */
export function toInput(minor, currency) {
    return toDecimal(big(minor) < 0n ? -big(minor) : minor, currency);
}

const formatters = new Map();
function formatter(currency, signDisplay) {
    const key = `${currency}|${signDisplay}`;
    let f = formatters.get(key);
    if (!f) {
        const exp = exponent(currency);
        try {
            f = new Intl.NumberFormat(currentLocale(), {
                style: 'currency', currency, signDisplay,
                minimumFractionDigits: exp, maximumFractionDigits: exp,
            });
        } catch {
            f = new Intl.NumberFormat(currentLocale(), { minimumFractionDigits: exp, maximumFractionDigits: exp });
        }
        formatters.set(key, f);
    }
    return f;
}

/** 9000n, "EUR" -> "€90.00" (in the reader's locale). signDisplay: auto | always | never. */
export function formatMoney(minor, currency, { sign = 'auto' } = {}) {
    return formatter(currency, sign).format(toDecimal(minor, currency));
}

/** Hundredths of a percent as a percentage in the reader's locale: 1050n -> "10.5%". */
export function formatPercent(hundredths) {
    const v = big(hundredths);
    const neg = v < 0n;
    const a = neg ? -v : v;
    const text = `${neg ? '-' : ''}${a / 10000n}.${String(a % 10000n).padStart(4, '0')}`;
    return new Intl.NumberFormat(currentLocale(), { style: 'percent', maximumFractionDigits: 2 }).format(text);
}

/**
 * A positive decimal with at most `maxDecimals` digits after the point (percent, shares):
 * returns the canonical text or an error. Sent as a JSON number with exactly this text.
 */
export function parseDecimal(text, { maxDecimals = 2, allowZero = false } = {}) {
    const s = String(text ?? '').trim().replace(',', '.');
    if (s === '') return { error: t('Required') };
    const re = new RegExp(`^\\d+(\\.\\d{1,${maxDecimals}})?$`);
    if (!re.test(s)) return { error: t('A number with at most {n} decimals', { n: maxDecimals }) };
    const [i, f = ''] = s.split('.');
    const canonical = `${BigInt(i)}${f ? `.${f}` : ''}`;
    if (!allowZero && /^0(\.0*)?$/.test(canonical)) return { error: t('Must be more than zero') };
    return { text: canonical, hundredths: BigInt(i) * 100n + BigInt(f.padEnd(2, '0').slice(0, 2) || '0') };
}

/** An exchange rate: a positive decimal string ("1.0825"), kept as text. */
export function parseRate(text) {
    const s = String(text ?? '').trim().replace(',', '.');
    if (s === '') return { error: t('Enter the exchange rate') };
    if (!/^\d+(\.\d+)?$/.test(s) || /^0+(\.0+)?$/.test(s)) return { error: t('Enter a positive number like 1.0825') };
    return { text: s };
}

/**
 * A JSON number holding an exact decimal string: JSON text "33.33" must stay "33.33". Wrapped so
 * that the serializer in api.js writes the digits as they are.
 */
export class RawNumber {
    constructor(text) {
        this.text = text;
    }
}

/** Split `total` minor units in proportion to `weights` (BigInt), largest remainders first. */
export function apportion(total, weights) {
    const sum = weights.reduce((a, b) => a + b, 0n);
    if (sum === 0n) return weights.map(() => 0n);
    const floors = weights.map((w) => (total * w) / sum);
    const rems = weights.map((w, i) => ({ i, r: (total * w) % sum }));
    let left = total - floors.reduce((a, b) => a + b, 0n);
    rems.sort((a, b) => (a.r === b.r ? a.i - b.i : a.r > b.r ? -1 : 1));
    for (const { i } of rems) {
        if (left <= 0n) break;
        floors[i] += 1n;
        left -= 1n;
    }
    return floors;
}

/**
 * Convert minor units of `from` to minor units of `to` at a decimal-string rate (units of `to`
 * per one unit of `from`), rounding half to even: the server's rule, for previews.
 */
export function convert(minor, from, rateText, to) {
    const m = big(minor);
    const [ri, rf = ''] = String(rateText).split('.');
    const R = BigInt(ri + rf);
    const k = rf.length;
    const ef = exponent(from);
    const et = exponent(to);
    let num = m * R * 10n ** BigInt(et);
    let den = 10n ** BigInt(k + ef);
    let q = num / den;
    const r = num % den;
    if (2n * r > den || (2n * r === den && q % 2n === 1n)) q += 1n;
    return q;
}
