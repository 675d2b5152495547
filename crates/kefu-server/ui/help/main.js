// The shop's public help page (SPEC §7.1): /help/{shop}. Self-service FAQ built from the
// knowledge base: `GET /api/v1/widget/{shop}/faq` gives every live entry by category (answers
// as parts: text, links, images, product cards); the page lists them and filters as you type.
// Where that listing is not there (an older server), it searches through the bot
// (`POST /api/v1/widget/{shop}/ask`), which answers, suggests 您是不是想问, or offers a person.
import { html, render, useState, useEffect, useMemo } from '/ui/vendor/preact-htm.module.js';
import { t, useLang, LangSwitch } from '/ui/i18n.js';
import { ProductCard, Image } from '/ui/lib.js';

const shop = decodeURIComponent(location.pathname.split('/').filter(Boolean)[1] ?? 'demo');
const base = `/api/v1/widget/${encodeURIComponent(shop)}`;

/** Normalises the FAQ listing: `[{category, entries: [...]}]` or a flat list of entries. */
function groupsOf(data) {
  const list = Array.isArray(data) ? data : (data?.categories ?? data?.entries ?? []);
  if (list.length && Array.isArray(list[0].entries)) {
    return list.map((g) => ({ name: g.category ?? g.name ?? '', entries: g.entries }));
  }
  const by = new Map();
  for (const e of list) {
    const k = e.category ?? '';
    if (!by.has(k)) by.set(k, []);
    by.get(k).push(e);
  }
  return [...by].map(([name, entries]) => ({ name, entries }));
}

/** An answer's parts as the bot renders them: text, links (the shop's own), images, product cards. */
function Parts({ parts }) {
  return html`<div class="pre">${(parts ?? []).map((p) => {
    switch (p.kind) {
      case 'text': return p.text;
      case 'link': return /^https?:\/\//i.test(p.url) ? html`<a href=${p.url} target="_blank" rel="noopener noreferrer">${p.url}</a>` : p.url;
      case 'image': return html`<${Image} url=${p.url} />`;
      case 'product': return html`<${ProductCard} sku=${p.sku} card=${p} />`;
      default: return null;
    }
  })}</div>`;
}

/** An entry's answer as plain text, for searching. */
function answerText(e) {
  if (typeof e.answer === 'string') return e.answer;
  return (e.parts ?? []).map((p) => p.text ?? p.title ?? p.url ?? '').join('');
}

function Answer({ reply, onPick }) {
  if (!reply) return null;
  const parts = reply.kind === 'answer' && reply.parts?.length ? reply.parts : [{ kind: 'text', text: reply.text }];
  return html`<div class="help-answer" data-testid="help-answer" data-kind=${reply.kind}>
    ${reply.entry ? html`<h3>${reply.entry.question}</h3>` : null}
    <${Parts} parts=${parts} />
    ${reply.kind === 'suggest' ? html`<ol class="suggestions">${reply.suggestions.map((s) => html`<li>
      <button class="suggestion" data-testid="help-suggestion" onClick=${() => onPick(s)}><b>${s.n}.</b> ${s.question}</button></li>`)}</ol>` : null}
    ${reply.kind === 'fallback' || reply.kind === 'handoff' ? html`<p><a class="btn primary" href=${`/widget/${encodeURIComponent(shop)}`}>${t('help.contact')}</a></p>` : null}
    ${reply.kind === 'answer' ? html`<${Helpful} reply=${reply} />` : null}
  </div>`;
}

function Helpful({ reply }) {
  const [voted, setVoted] = useState(null);
  useEffect(() => setVoted(null), [reply.question_id]);
  const vote = (helpful) => {
    setVoted(helpful);
    fetch(`${base}/feedback`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ session_id: reply.session_id, question_id: reply.question_id, helpful }),
    }).catch(() => {});
  };
  return html`<div class="helpful">${voted == null ? html`<span class="muted small">${t('w.helpful_q')}</span>
    <button class="chip" onClick=${() => vote(true)}>${t('w.helpful_yes')}</button>
    <button class="chip" onClick=${() => vote(false)}>${t('w.helpful_no')}</button>`
    : html`<span class="muted small">${voted ? t('w.helpful_thanks') : t('help.sorry')}</span>
      ${voted ? null : html`<a href=${`/widget/${encodeURIComponent(shop)}`}>${t('help.contact')}</a>`}`}</div>`;
}

function Help() {
  useLang();
  const [hello, setHello] = useState(null);
  const [faq, setFaq] = useState(null); // null: not known yet; false: no public listing
  const [q, setQ] = useState('');
  const [reply, setReply] = useState(null);
  const [session, setSession] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [open, setOpen] = useState(null);
  useEffect(() => { if (faq) setReply(null); }, [q]);

  useEffect(() => {
    fetch(`${base}/hello`).then((r) => (r.ok ? r.json() : null)).then((h) => {
      if (h) { setHello(h); document.title = `${h.shop_name} · ${t('help.title')}`; }
    }).catch(() => {});
    fetch(`${base}/faq`).then((r) => (r.ok ? r.json() : null)).then((d) => {
      setFaq(d ? groupsOf(d) : false);
      if (d?.shop_name) setHello((h) => h ?? { shop_name: d.shop_name });
    }).catch(() => setFaq(false));
  }, []);

  const ask = async (body) => {
    setBusy(true);
    setError(null);
    try {
      const r = await fetch(`${base}/ask`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify(session ? { ...body, session_id: session } : body),
      });
      const j = await r.json().catch(() => ({}));
      if (r.status === 404 && session) { setSession(null); setBusy(false); return ask(body); }
      if (!r.ok) setError(r.status === 429 ? t('err.too_many') : (j.message || t('err.generic')));
      else { setReply(j); setSession(j.session_id); }
    } catch {
      setError(t('err.network'));
    }
    setBusy(false);
    return null;
  };

  const needle = q.trim().toLowerCase();
  const groups = useMemo(() => (faq || []).map((g) => ({
    ...g,
    entries: g.entries.filter((e) => !needle || e.question.toLowerCase().includes(needle) || answerText(e).toLowerCase().includes(needle)
      || (e.similar ?? []).some((s) => s.toLowerCase().includes(needle))),
  })).filter((g) => g.entries.length), [faq, needle]);

  const submit = (ev) => {
    ev.preventDefault();
    if (!q.trim() || (faq && groups.length)) return;
    ask({ text: q.trim() });
  };
  const topics = t('help.topics').split('|');
  return html`<main class="help" data-testid="help">
    <header class="help-head">
      <div class="help-brand"><span class="logo">客</span><div><div class="brand-name">${hello?.shop_name ?? ''}</div>
        <div class="muted small">${t('help.title')}</div></div></div>
      <${LangSwitch} />
    </header>
    <section class="help-hero">
      <h1>${t('help.heading')}</h1>
      <form class="help-search" onSubmit=${submit} role="search">
        <input type="search" data-testid="help-search" value=${q} placeholder=${t('help.search')} maxlength="500"
          onInput=${(e) => setQ(e.target.value)} aria-label=${t('help.search')} />
        ${faq ? null : html`<button class="btn primary" type="submit" data-testid="help-submit" disabled=${busy || !q.trim()}>${t('help.ask')}</button>`}
      </form>
      ${faq === false ? html`<div class="topics">${topics.map((x) => html`<button class="chip" onClick=${() => { setQ(x); ask({ text: x }); }}>${x}</button>`)}</div>` : null}
    </section>
    ${error ? html`<div class="error-text" role="alert">${error}</div>` : null}
    ${faq === false || (faq && needle && groups.length === 0) ? html`<${Answer} reply=${reply} onPick=${(s) => ask({ pick: s.entry_id })} />` : null}
    ${faq ? html`<section class="faq">
      ${groups.map((g) => html`<div class="faq-group" data-testid="help-category"><h2>${g.name}</h2>
        <ul>${g.entries.map((e) => html`<li class=${`faq-item ${open === (e.id ?? e.question) ? 'open' : ''}`} data-testid="help-entry">
          <button class="faq-q" onClick=${() => setOpen(open === (e.id ?? e.question) ? null : (e.id ?? e.question))}>${e.question}</button>
          ${open === (e.id ?? e.question) || needle ? html`<div class="faq-a">${e.parts ? html`<${Parts} parts=${e.parts} />` : html`<span class="pre">${e.answer}</span>`}</div>` : null}
        </li>`)}</ul></div>`)}
      ${groups.length === 0 && !reply ? html`<p class="muted">${t('help.none')}
        <button class="link-btn" data-testid="help-ask-bot" disabled=${busy} onClick=${() => ask({ text: q.trim() })}>${t('help.ask_bot')}</button></p>` : null}
    </section>` : null}
    <footer class="help-foot">
      <span class="muted">${t('help.still')}</span>
      <a class="btn" href=${`/widget/${encodeURIComponent(shop)}`} data-testid="help-contact">${t('help.contact')}</a>
    </footer>
  </main>`;
}

document.body.classList.add('help-page');
render(html`<${Help} />`, document.getElementById('root'));
