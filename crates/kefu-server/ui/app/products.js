// The workbench's 商品 tab (商品知识库, SPEC §2.10): search the shop's products in Chinese (over
// title, attributes, selling points, size chart, FAQ …), read one product's knowledge —
// attributes, 尺码表, 卖点, 竞品对比, 常见问题 — and send it, or a related product (关联推荐),
// to the buyer as a card in one click.
import { html, useState, useEffect, useRef } from '/ui/vendor/preact-htm.module.js';
import { t } from '/ui/i18n.js';
import { yuan } from '/ui/lib.js';
import { api, errorMessage } from '/ui/app/api.js';

function SendButton({ sku, canSend, onSend, sent, setSent, testid = 'product-send', label }) {
  return html`<button class="btn small" data-testid=${testid} data-sku=${sku} disabled=${!canSend}
    title=${canSend ? '' : t('product.no_chat')} onClick=${() => { onSend(sku); setSent(sku); }}>
    ${sent === sku ? t('product.sent') : (label ?? t('product.send'))}</button>`;
}

/** A size chart as a table. */
export function SizeChartTable({ chart }) {
  if (!chart?.columns?.length) return null;
  return html`<table class="size-chart" data-testid="size-chart">
    <thead><tr>${chart.columns.map((c) => html`<th>${c}</th>`)}</tr></thead>
    <tbody>${chart.rows.map((r) => html`<tr>${r.map((c) => html`<td>${c}</td>`)}</tr>`)}</tbody>
  </table>`;
}

function Section({ title, children, testid }) {
  return html`<section class="pk-section" data-testid=${testid}><h4>${title}</h4>${children}</section>`;
}

function ProductDetail({ id, canSend, onSend, onBack }) {
  const [k, setK] = useState(null);
  const [error, setError] = useState(null);
  const [sent, setSent] = useState(null);
  useEffect(() => {
    setK(null);
    api('GET', `/products/${id}/knowledge`).then(setK).catch((e) => setError(errorMessage(e)));
  }, [id]);
  if (error) return html`<div class="panel-body"><button class="btn ghost small" onClick=${onBack}>← ${t('pk.back')}</button>
    <div class="error-text small" role="alert">${error}</div></div>`;
  if (!k) return html`<p class="muted pad">${t('common.loading')}</p>`;
  const p = k.product;
  const info = k.info;
  const attrs = Object.entries(p.attributes ?? {});
  return html`<div class="panel-body product-detail" data-testid="product-detail" data-sku=${p.sku}>
    <button class="btn ghost small" data-testid="product-back" onClick=${onBack}>← ${t('pk.back')}</button>
    <div class="kb-q"><b>${p.title}</b></div>
    <div class="row product-meta"><span class="price">${yuan(p.price)}</span>
      <span class=${p.stock > 0 ? 'muted small' : 'error-text small'}>${p.stock > 0 ? t('card.stock', { n: p.stock }) : t('product.sold_out')}</span>
      <span class="muted small">${p.sku}</span></div>
    <div class="row"><${SendButton} sku=${p.sku} canSend=${canSend} onSend=${onSend} sent=${sent} setSent=${setSent} /></div>
    ${attrs.length ? html`<${Section} title=${t('pk.attributes')} testid="pk-attributes">
      <dl class="kv attrs">${attrs.map(([a, v]) => html`<dt>${a}</dt><dd>${String(v)}</dd>`)}</dl><//>` : null}
    ${info.size_chart?.columns?.length ? html`<${Section} title=${t('pk.size_chart')} testid="pk-size-chart"><${SizeChartTable} chart=${info.size_chart} /><//>` : null}
    ${info.selling_points?.length ? html`<${Section} title=${t('pk.selling_points')} testid="pk-selling-points">
      <ul class="pk-points">${info.selling_points.map((s) => html`<li>${s}</li>`)}</ul><//>` : null}
    ${info.care ? html`<${Section} title=${t('pk.care')}><p class="pre small">${info.care}</p><//>` : null}
    ${info.usage ? html`<${Section} title=${t('pk.usage')}><p class="pre small">${info.usage}</p><//>` : null}
    ${info.comparisons?.length ? html`<${Section} title=${t('pk.comparisons')} testid="pk-comparisons">
      ${info.comparisons.map((c) => html`<div class="pk-qa"><div class="muted small">${t('pk.compared_with', { who: c.competitor })}</div>
        <div class="pre small">${c.answer}</div></div>`)}<//>` : null}
    ${k.faq.length ? html`<${Section} title=${t('pk.faq')} testid="pk-faq">
      ${k.faq.map((f) => html`<div class="pk-qa" data-testid="pk-faq-item"><b class="small">${f.question}</b><div class="pre small">${f.answer}</div></div>`)}<//>` : null}
    <${Section} title=${t('pk.related')} testid="pk-related">
      ${k.related.length ? html`<ul class="kb-list">${k.related.map((r) => html`<li class="kb-entry related-item" data-testid="related-item" data-sku=${r.sku}>
        <div class="kb-q"><b>${r.title}</b> <span class="price">${yuan(r.price_fen)}</span></div>
        <div class="small related-reason" data-testid="related-reason">${t('pk.reason_is', { reason: r.reason })}</div>
        <div class="row"><${SendButton} sku=${r.sku} canSend=${canSend} onSend=${onSend} sent=${sent} setSent=${setSent}
          testid="related-send" label=${t('pk.send_card')} /></div>
      </li>`)}</ul>` : html`<p class="muted small">${t('pk.no_related')}</p>`}
    <//>
  </div>`;
}

export function ProductSearch({ canSend, onSend }) {
  const [q, setQ] = useState('');
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const [sent, setSent] = useState(null);
  const [open, setOpen] = useState(null);
  const seq = useRef(0);
  useEffect(() => {
    const n = ++seq.current;
    const timer = setTimeout(() => {
      const query = q.trim();
      // Words search the products' knowledge; nothing typed lists the catalog.
      const req = query
        ? api('GET', `/products/search?limit=50&q=${encodeURIComponent(query)}`)
          .then((hits) => ({ items: hits.map((h) => ({ ...h.product, matched: h.matched })), total: hits.length }))
        : api('GET', '/products?limit=50');
      req.then((r) => { if (n === seq.current) { setResult(r); setError(null); } })
        .catch((e) => { if (n === seq.current) setError(errorMessage(e)); });
    }, q ? 250 : 0);
    return () => clearTimeout(timer);
  }, [q]);
  if (open) return html`<${ProductDetail} id=${open} canSend=${canSend} onSend=${onSend} onBack=${() => setOpen(null)} />`;
  const items = result?.items ?? [];
  return html`<div class="panel-body" data-testid="products">
    <input class="search" type="search" data-testid="product-search" placeholder=${t('product.search')} value=${q}
      onInput=${(e) => setQ(e.target.value)} />
    ${error ? html`<div class="error-text small" role="alert">${error}</div>` : null}
    ${result == null && !error ? html`<p class="muted pad">${t('common.loading')}</p>` : null}
    <ul class="kb-list">${items.map((p) => html`<li class="kb-entry product-item" data-testid="product-item" data-sku=${p.sku}>
      <div class="kb-q"><b>${p.title}</b></div>
      <div class="row product-meta"><span class="price">${yuan(p.price)}</span>
        <span class=${p.stock > 0 ? 'muted small' : 'error-text small'}>${p.stock > 0 ? t('card.stock', { n: p.stock }) : t('product.sold_out')}</span>
        <span class="muted small">${p.sku}</span></div>
      ${p.matched?.length ? html`<div class="muted small" data-testid="product-matched">${t('pk.found_in')}: ${p.matched.map((m) => t(`pk.field.${m}`)).join('、')}</div>` : null}
      ${p.attributes && Object.keys(p.attributes).length ? html`<dl class="kv attrs">${Object.entries(p.attributes).map(([k, v]) => html`<dt>${k}</dt><dd>${String(v)}</dd>`)}</dl>` : null}
      <div class="row"><button class="btn small ghost" data-testid="product-open" onClick=${() => setOpen(p.id)}>${t('pk.details')}</button>
        <${SendButton} sku=${p.sku} canSend=${canSend} onSend=${onSend} sent=${sent} setSent=${setSent} /></div>
    </li>`)}</ul>
    ${result && items.length === 0 ? html`<p class="muted small pad">${t('product.none')}</p>` : null}
    ${result && result.total > items.length ? html`<p class="muted small pad">${t('product.more', { n: result.total })}</p>` : null}
  </div>`;
}
