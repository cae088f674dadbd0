/**
 * Server-rendered HTML for the console and the setup page: a tagged
 * template that escapes every interpolated value unless it is already Html,
 * and the page frame. No inline script or style (the Content-Security-Policy
 * forbids them): behaviour comes from /console/assets/console.js.
 */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

type Value = Html | string | number | boolean | null | undefined | readonly Value[];

function render(v: Value): string {
  if (v === null || v === undefined || v === false) return '';
  if (v instanceof Html) return v.text;
  if (Array.isArray(v)) return v.map(render).join('');
  return escapeHtml(String(v));
}

export function html(strings: TemplateStringsArray, ...values: Value[]): Html {
  return new Html(strings.reduce((acc, s, i) => acc + s + (i < values.length ? render(values[i]!) : ''), ''));
}

export const ASSET_VERSION = '1';

export interface PageOptions {
  title: string;
  /** Breadcrumbs after "Tenants". */
  crumbs?: [label: string, href?: string][];
  /** The CSRF token for the sign-out form (signed-in pages). */
  csrf?: string;
  body: Html;
  /** The setup page has no operator navigation. */
  bare?: boolean;
}

export function page(o: PageOptions): string {
  const nav = o.bare
    ? html``
    : html`<header class="top"><a class="brand" href="/console">Roster console</a>
<nav aria-label="Breadcrumbs">${(o.crumbs ?? []).map(([label, href]) => html` › ${href ? html`<a href="${href}">${label}</a>` : html`<span aria-current="page">${label}</span>`}`)}</nav>
${o.csrf ? html`<form method="post" action="/console/logout" class="logout"><input type="hidden" name="_csrf" value="${o.csrf}"><button type="submit">Sign out</button></form>` : ''}</header>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(o.title)} · Roster</title>
<link rel="stylesheet" href="/console/assets/console.css?v=${ASSET_VERSION}">
<script src="/console/assets/console.js?v=${ASSET_VERSION}" defer></script></head>
<body>${nav.text}<main id="main">${o.body.text}</main></body></html>
`;
}

/** A value with a button that copies it (console.js), readable without script too. */
export const copyable = (value: string, label: string) =>
  html`<div class="copy"><input readonly aria-label="${label}" value="${value}" id="copy-${label.replace(/\W+/g, '-').toLowerCase()}"><button type="button" data-copy="copy-${label.replace(/\W+/g, '-').toLowerCase()}">Copy</button></div>`;

/** A POST form with the CSRF token: one button. */
export const action = (path: string, csrf: string, label: string, opts: { danger?: boolean; fields?: Record<string, string>; confirm?: string } = {}) =>
  html`<form method="post" action="${path}" class="inline"${opts.confirm ? html` data-confirm="${opts.confirm}"` : ''}><input type="hidden" name="_csrf" value="${csrf}">${Object.entries(opts.fields ?? {}).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`)}<button type="submit"${opts.danger ? html` class="danger"` : ''}>${label}</button></form>`;

export function table<T>(rows: readonly T[], columns: [header: string, cell: (row: T) => Value][], empty = 'Nothing yet.'): Html {
  if (rows.length === 0) return html`<p class="empty">${empty}</p>`;
  return html`<table><thead><tr>${columns.map(([h]) => html`<th scope="col">${h}</th>`)}</tr></thead><tbody>${rows.map((r) => html`<tr>${columns.map(([, c]) => html`<td>${c(r)}</td>`)}</tr>`)}</tbody></table>`;
}

export const when = (d: Date | null | undefined) => (d ? d.toISOString().replace('T', ' ').slice(0, 19) + ' UTC' : '—');
