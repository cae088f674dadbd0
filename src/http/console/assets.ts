/**
 * The console's stylesheet and script, served by Roster itself (no CDN: the
 * console works on a network without internet) from memory, so the compiled
 * dist/ needs no extra files.
 */
export const CONSOLE_CSS = `
:root{--fg:#1a1a1a;--muted:#555;--line:#d0d0d0;--accent:#0b57d0;--ok:#146c2e;--bad:#b3261e;--bg:#fff;--soft:#f4f6f8}
*{box-sizing:border-box}
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg);margin:0}
a{color:var(--accent)}
a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible,textarea:focus-visible{outline:3px solid #f0b400;outline-offset:2px}
.top{display:flex;gap:1rem;align-items:center;padding:.6rem 1.5rem;border-bottom:1px solid var(--line);background:var(--soft)}
.brand{font-weight:700;text-decoration:none;color:var(--fg)}
.top nav{flex:1}
main{max-width:72rem;margin:1.5rem auto;padding:0 1.5rem}
h1{font-size:1.6rem;margin:.2rem 0 1rem}h2{font-size:1.2rem;margin:2rem 0 .6rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-weight:600;color:var(--muted)}
form.inline{display:inline}
label{display:block;font-weight:600;margin:.6rem 0 .2rem}
input[type=text],input[type=password],input[type=number],input:not([type]),select,textarea{font:inherit;padding:.35rem .5rem;border:1px solid #8a8a8a;border-radius:4px;min-width:18rem;max-width:100%}
textarea{width:100%;min-height:24rem;font-family:ui-monospace,monospace;font-size:.9rem}
button{font:inherit;padding:.35rem .9rem;border:1px solid var(--accent);background:var(--accent);color:#fff;border-radius:4px;cursor:pointer}
button.danger{background:var(--bad);border-color:var(--bad)}
.logout button{background:transparent;color:var(--accent)}
.copy{display:flex;gap:.4rem;align-items:center}.copy input{flex:1;font-family:ui-monospace,monospace}
.secret{border:2px solid #f0b400;background:#fff8e1;padding:.8rem 1rem;border-radius:6px;margin:1rem 0}
.error{border:2px solid var(--bad);background:#fdecea;padding:.6rem 1rem;border-radius:6px}
.notice{border:1px solid var(--line);background:var(--soft);padding:.6rem 1rem;border-radius:6px}
.pill{display:inline-block;padding:0 .5rem;border-radius:1rem;font-size:.85rem;border:1px solid var(--line)}
.pill.ok{color:var(--ok);border-color:var(--ok)}.pill.bad{color:var(--bad);border-color:var(--bad)}
.panel{border:2px solid var(--line);border-radius:8px;padding:1rem;margin:1rem 0}
.panel.connected{border-color:var(--ok);background:#e8f5e9}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(12rem,1fr));gap:1rem}
.card{border:1px solid var(--line);border-radius:6px;padding:.8rem}
.card b{display:block;font-size:1.4rem}
.empty,.muted{color:var(--muted)}
ol.steps li{margin:.4rem 0}
code,pre{font-family:ui-monospace,monospace;background:var(--soft);padding:0 .25rem}
pre{padding:.6rem;overflow:auto}
.idps{display:flex;flex-wrap:wrap;gap:.5rem;list-style:none;padding:0}
.idps a{display:block;border:1px solid var(--line);border-radius:6px;padding:.5rem .9rem;text-decoration:none}
.idps a[aria-current]{border:2px solid var(--accent);font-weight:600}
`;

export const CONSOLE_JS = `
'use strict';
document.addEventListener('click', (e) => {
  const b = e.target.closest('button[data-copy]');
  if (!b) return;
  const input = document.getElementById(b.dataset.copy);
  input.select();
  (navigator.clipboard ? navigator.clipboard.writeText(input.value) : Promise.reject()).then(
    () => { b.textContent = 'Copied'; },
    () => { document.execCommand('copy'); b.textContent = 'Copied'; },
  );
});
document.addEventListener('submit', (e) => {
  const msg = e.target.dataset && e.target.dataset.confirm;
  if (msg && !window.confirm(msg)) e.preventDefault();
});
// The setup page's connection panel: poll until the first SCIM request arrives.
const panel = document.getElementById('connection');
if (panel && panel.dataset.poll) {
  const render = (s) => {
    panel.classList.toggle('connected', s.connected);
    panel.querySelector('[data-state]').textContent = s.connected ? 'Connected: Roster has received requests from your identity provider.' : 'Waiting for the first request from your identity provider…';
    const list = panel.querySelector('[data-errors]');
    list.replaceChildren(...s.errors.map((x) => { const li = document.createElement('li'); li.textContent = x; return li; }));
    list.hidden = s.errors.length === 0;
  };
  const tick = () => fetch(panel.dataset.poll, { credentials: 'same-origin', headers: { accept: 'application/json' } })
    .then((r) => (r.ok ? r.json() : null)).then((s) => { if (s) render(s); }).catch(() => {});
  tick();
  setInterval(tick, Number(panel.dataset.interval || 3000));
}
`;
