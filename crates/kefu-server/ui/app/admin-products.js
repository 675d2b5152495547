// 管理 → 商品知识 (SPEC §2.10): per product its attributes, 尺码表, 洗涤保养, 使用方法, 卖点,
// 竞品对比, its own 常见问题 and 关联推荐 with a reason; import and export in one template.
// Lists are edited as lines of text, the way a product manual is written.
import { html, useState, useEffect } from '/ui/vendor/preact-htm.module.js';
import { t, useLang } from '/ui/i18n.js';
import { yuan } from '/ui/lib.js';
import { api, errorMessage } from '/ui/app/api.js';
import { refusal, Field, FormError, ImportDialog, DownloadButtons } from '/ui/app/admin-ui.js';
import { SizeChartTable } from '/ui/app/products.js';

const lines = (s) => s.split('\n').map((l) => l.trim()).filter(Boolean);

function toForm(k) {
  const i = k.info;
  return {
    attributes: Object.entries(k.product.attributes ?? {}).map(([a, v]) => `${a}=${v}`).join('\n'),
    size_chart: i.size_chart?.columns?.length ? [i.size_chart.columns, ...i.size_chart.rows].map((r) => r.join('|')).join('\n') : '',
    care: i.care ?? '',
    usage: i.usage ?? '',
    selling_points: (i.selling_points ?? []).join('\n'),
    comparisons: (i.comparisons ?? []).map((c) => `${c.competitor}|${c.answer}`).join('\n'),
  };
}

function fromForm(f) {
  const attributes = {};
  for (const l of lines(f.attributes)) {
    const at = l.indexOf('=');
    if (at < 0) attributes[l] = '';
    else attributes[l.slice(0, at).trim()] = l.slice(at + 1).trim();
  }
  const rows = lines(f.size_chart).map((l) => l.split('|').map((c) => c.trim()));
  return {
    attributes,
    size_chart: rows.length ? { columns: rows[0], rows: rows.slice(1) } : { columns: [], rows: [] },
    care: f.care,
    usage: f.usage,
    selling_points: lines(f.selling_points),
    comparisons: lines(f.comparisons).map((l) => {
      const at = l.indexOf('|');
      return at < 0 ? { competitor: l, answer: '' } : { competitor: l.slice(0, at).trim(), answer: l.slice(at + 1).trim() };
    }),
  };
}

function FaqEditor({ product, faq, reload }) {
  const [form, setForm] = useState({ question: '', similar: '', answer: '' });
  const [error, setError] = useState(null);
  const add = async (ev) => {
    ev.preventDefault();
    setError(null);
    try {
      await api('POST', `/products/${product.id}/faq`, { question: form.question, similar: form.similar.split('|'), answer: form.answer });
      setForm({ question: '', similar: '', answer: '' });
      reload();
    } catch (e) { setError(refusal(e)); }
  };
  const remove = async (f) => {
    if (!confirm(t('pk.adm.delete_faq', { q: f.question }))) return;
    try { await api('DELETE', `/product-faq/${f.id}`); reload(); } catch (e) { setError(refusal(e)); }
  };
  return html`<section class="pk-box" data-testid="pk-admin-faq"><h4>${t('pk.faq')}</h4>
    <ul class="kb-list">${faq.map((f) => html`<li class="kb-entry"><b>${f.question}</b>
      ${f.similar.length ? html`<div class="muted small">${f.similar.join(' | ')}</div>` : null}
      <div class="pre small">${f.answer}</div>
      <button class="link-btn small" onClick=${() => remove(f)}>${t('adm.delete')}</button></li>`)}</ul>
    <form onSubmit=${add}>
      <${Field} label=${t('pk.adm.question')} name="question" error=${error}>
        <input data-testid="pk-faq-question" value=${form.question} onInput=${(e) => setForm({ ...form, question: e.target.value })} /><//>
      <${Field} label=${t('pk.adm.similar')} name="similar" error=${error}>
        <input value=${form.similar} onInput=${(e) => setForm({ ...form, similar: e.target.value })} /><//>
      <${Field} label=${t('pk.adm.answer')} name="answer" error=${error}>
        <textarea rows="3" data-testid="pk-faq-answer" value=${form.answer} onInput=${(e) => setForm({ ...form, answer: e.target.value })} /><//>
      <${FormError} error=${error} fields=${['question', 'similar', 'answer']} />
      <button class="btn small primary" data-testid="pk-faq-add" disabled=${!form.question.trim() || !form.answer.trim()}>${t('adm.add')}</button>
    </form>
  </section>`;
}

function RelatedEditor({ product, related, reload }) {
  const [sku, setSku] = useState('');
  const [reason, setReason] = useState('');
  const [error, setError] = useState(null);
  const add = async (ev) => {
    ev.preventDefault();
    setError(null);
    try {
      const found = await api('GET', `/products?q=${encodeURIComponent(sku.trim())}&limit=50`);
      const other = found.items.find((p) => p.sku === sku.trim());
      if (!other) { setError({ text: t('pk.adm.no_sku', { sku }), field: 'related' }); return; }
      await api('PUT', `/products/${product.id}/related/${other.id}`, { reason });
      setSku(''); setReason('');
      reload();
    } catch (e) { setError(refusal(e)); }
  };
  const remove = async (r) => {
    try { await api('DELETE', `/products/${product.id}/related/${r.product_id}`); reload(); } catch (e) { setError(refusal(e)); }
  };
  return html`<section class="pk-box" data-testid="pk-admin-related"><h4>${t('pk.related')}</h4>
    <ul class="kb-list">${related.map((r) => html`<li class="kb-entry"><b>${r.title}</b> <span class="muted small">${r.sku} · ${yuan(r.price_fen)}</span>
      <div class="small">${t('pk.reason_is', { reason: r.reason })}</div>
      <button class="link-btn small" onClick=${() => remove(r)}>${t('adm.remove')}</button></li>`)}</ul>
    <form class="row" onSubmit=${add}>
      <input placeholder="SKU" data-testid="pk-related-sku" value=${sku} onInput=${(e) => setSku(e.target.value)} />
      <input placeholder=${t('pk.adm.reason_hint')} data-testid="pk-related-reason" value=${reason} onInput=${(e) => setReason(e.target.value)} />
      <button class="btn small primary" data-testid="pk-related-add" disabled=${!sku.trim() || !reason.trim()}>${t('adm.add')}</button>
    </form>
    <${FormError} error=${error} />
  </section>`;
}

function Editor({ id }) {
  const [k, setK] = useState(null);
  const [form, setForm] = useState(null);
  const [error, setError] = useState(null);
  const [saved, setSaved] = useState(false);
  const load = () => api('GET', `/products/${id}/knowledge`).then((r) => { setK(r); setForm(toForm(r)); }).catch((e) => setError(refusal(e)));
  useEffect(() => { setError(null); setSaved(false); load(); }, [id]);
  if (!k || !form) return error ? html`<${FormError} error=${error} />` : html`<p class="muted">${t('common.loading')}</p>`;
  const set = (f, v) => { setForm({ ...form, [f]: v }); setSaved(false); };
  const save = async (ev) => {
    ev.preventDefault();
    setError(null);
    try {
      const r = await api('PUT', `/products/${id}/knowledge`, fromForm(form));
      setK(r); setForm(toForm(r)); setSaved(true);
    } catch (e) { setError(refusal(e)); }
  };
  const area = (name, rows, hint) => html`<${Field} label=${t(`pk.adm.${name}`)} name=${name} error=${error} hint=${hint}>
    <textarea rows=${rows} data-testid=${`pk-${name}`} value=${form[name]} onInput=${(e) => set(name, e.target.value)} /><//>`;
  const preview = fromForm(form).size_chart;
  return html`<div class="pk-editor" data-testid="pk-editor" data-sku=${k.product.sku}>
    <h3>${k.product.title} <span class="muted small">${k.product.sku} · ${yuan(k.product.price)}</span></h3>
    <form class="pk-box" onSubmit=${save}>
      ${area('attributes', 4, t('pk.adm.attributes_hint'))}
      ${area('size_chart', 4, t('pk.adm.size_chart_hint'))}
      ${preview.columns.length ? html`<${SizeChartTable} chart=${preview} />` : null}
      ${area('care', 2)}
      ${area('usage', 2)}
      ${area('selling_points', 3, t('pk.adm.lines_hint'))}
      ${area('comparisons', 3, t('pk.adm.comparisons_hint'))}
      <${FormError} error=${error} fields=${['attributes', 'size_chart', 'care', 'usage', 'selling_points', 'comparisons']} />
      <div class="row end">${saved ? html`<span class="ok-text small" role="status">${t('pk.adm.saved')}</span>` : null}
        <button class="btn small primary" data-testid="pk-save">${t('kba.save')}</button></div>
    </form>
    <${FaqEditor} product=${k.product} faq=${k.faq} reload=${load} />
    <${RelatedEditor} product=${k.product} related=${k.related} reload=${load} />
  </div>`;
}

export function ProductsAdmin() {
  useLang();
  const [q, setQ] = useState('');
  const [items, setItems] = useState(null);
  const [open, setOpen] = useState(null);
  const [importing, setImporting] = useState(false);
  const [error, setError] = useState(null);
  const load = () => {
    const query = q.trim();
    (query ? api('GET', `/products/search?limit=100&q=${encodeURIComponent(query)}`).then((h) => h.map((x) => x.product))
      : api('GET', '/products?limit=200').then((r) => r.items))
      .then((r) => { setItems(r); setError(null); }).catch((e) => setError(errorMessage(e)));
  };
  useEffect(() => { const timer = setTimeout(load, q ? 250 : 0); return () => clearTimeout(timer); }, [q]);
  const summary = (r) => t('pk.adm.imported', { products: r.products, faq: r.faq, related: r.related });
  return html`<div class="admin-split pk-admin" data-testid="admin-products">
    <aside class="admin-page pk-side">
      <div class="row">
        <button class="btn small" data-testid="pk-import" onClick=${() => setImporting(true)}>${t('adm.import')}</button>
        <${DownloadButtons} path="/product-knowledge/export" label=${t('adm.export')} testid="pk-export" name="product-knowledge" />
      </div>
      <input class="search" type="search" data-testid="pk-admin-search" placeholder=${t('product.search')} value=${q} onInput=${(e) => setQ(e.target.value)} />
      ${error ? html`<div class="error-text small" role="alert">${error}</div>` : null}
      <ul class="kb-list">${(items ?? []).map((p) => html`<li class=${`kb-entry ${open === p.id ? 'on' : ''}`} data-testid="pk-admin-item" data-sku=${p.sku}>
        <button class="link-btn" onClick=${() => setOpen(p.id)}>${p.title}</button> <span class="muted small">${p.sku}</span></li>`)}</ul>
    </aside>
    <section class="admin-page">${open ? html`<${Editor} id=${open} />` : html`<p class="muted">${t('pk.adm.pick')}</p>`}</section>
    ${importing ? html`<${ImportDialog} title=${t('pk.adm.import_title')} testid="pk-import-dialog" path="/product-knowledge/import"
      templatePath="/product-knowledge/template" templateName="product-knowledge-template" columns="sku,kind,name,value,similar"
      modes=${false} summary=${summary} onDone=${() => { load(); setOpen(null); }} onClose=${() => setImporting(false)} />` : null}
  </div>`;
}
