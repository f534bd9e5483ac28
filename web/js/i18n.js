// The interface's language: English, Portuguese, Spanish, French or German, chosen from the
// browser's languages (navigator.languages) unless the reader picked one with the switch
// (kept in localStorage). Messages are looked up by their English text, so a sentence missing
// from a catalogue shows in English rather than as a key. Dates, numbers and money are
// formatted for the chosen locale through Intl.

const LANG_KEY = 'splitter.lang';

/** The languages offered, each named in itself. */
export const LANGUAGES = [
    ['en', 'English'],
    ['pt', 'Português'],
    ['es', 'Español'],
    ['fr', 'Français'],
    ['de', 'Deutsch'],
];

let dict = {};
let lang = 'en';
let locale = 'en';

/** The first of `wanted` (BCP 47 tags, most preferred first) that we speak: {lang, locale}. */
export function pickLanguage(wanted) {
    for (const tag of wanted ?? []) {
        const base = String(tag).toLowerCase().split('-')[0];
        if (LANGUAGES.some(([l]) => l === base)) return { lang: base, locale: tag };
    }
    return { lang: 'en', locale: 'en' };
}

/**
 * Load the catalogue of the reader's language and set <html lang>. Call once before the first
 * view is drawn.
 */
export async function initI18n() {
    const stored = localStorage.getItem(LANG_KEY);
    const browser = navigator.languages?.length ? navigator.languages : [navigator.language];
    let pick = pickLanguage(browser);
    if (stored && LANGUAGES.some(([l]) => l === stored) && stored !== pick.lang) {
        // A chosen language keeps the browser's region when it matches ("pt" + "pt-BR").
        const same = browser.find((tag) => String(tag).toLowerCase().split('-')[0] === stored);
        pick = { lang: stored, locale: same ?? stored };
    }
    lang = pick.lang;
    locale = pick.locale;
    try {
        Intl.getCanonicalLocales(locale);
    } catch {
        locale = lang;
    }
    dict = {};
    if (lang !== 'en') {
        try {
            dict = (await import(`./locales/${lang}.js`)).default;
        } catch {
            lang = 'en';
            locale = 'en';
        }
    }
    document.documentElement.lang = locale;
}

/** Remember the reader's choice and redraw everything in it. */
export function setLanguage(code) {
    localStorage.setItem(LANG_KEY, code);
    location.reload();
}

export const currentLang = () => lang;
export const currentLocale = () => locale;

/**
 * The message `text` (its English wording) in the reader's language, with {name} placeholders
 * filled from `vars`.
 */
export function t(text, vars) {
    const s = Object.hasOwn(dict, text) ? dict[text] : text;
    if (!vars) return s;
    return s.replace(/\{(\w+)\}/g, (m, k) => (Object.hasOwn(vars, k) ? String(vars[k]) : m));
}

/** Pick the singular or plural wording by count (the catalogues follow English's two forms). */
export function tn(n, one, other, vars = {}) {
    const form = new Intl.PluralRules(locale).select(Number(n)) === 'one' ? one : other;
    return t(form, { n, ...vars });
}
