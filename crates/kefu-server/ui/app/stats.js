// Statistics (统计, SPEC §5.1–5.3) and the live monitor (实时监控, §5.4). Every figure comes
// computed from GET /stats and GET /chat/monitor (definitions in kefu-core's stats.rs); this
// page only draws them. Both re-read on their own: the monitor every 3 s, today's statistics
// every 30 s, so no view needs a manual refresh.
import { html, useState, useEffect } from '/ui/vendor/preact-htm.module.js';
import { t } from '/ui/i18n.js';
import { api, download, errorMessage } from '/ui/app/api.js';
import { fmtWait } from '/ui/lib.js';

export const watchesTeam = (account) => ['owner', 'admin', 'supervisor'].includes(account?.role);

const secs = (ms) => (ms == null ? '—' : t('stats.secs', { s: (ms / 1000).toFixed(1) }));
const pct = (x) => (x == null ? '—' : `${(x * 100).toFixed(1)}%`);
const hours = (ms) => t('stats.hours', { h: (ms / 3_600_000).toFixed(1) });

/** Today's date (YYYY-MM-DD) in a time zone: the shop's day, wherever the browser is. */
function dateIn(zone, d = new Date()) {
  try {
    return new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(d);
  } catch {
    const p = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
  }
}

/** A bar chart in plain SVG: one bar per bucket, the value on hover and for screen readers. */
function Bars({ title, buckets, value, format = String, testid, target }) {
  const values = buckets.map(value);
  const max = Math.max(1, target ?? 0, ...values.map((v) => v ?? 0));
  const w = 640;
  const h = 140;
  const bw = w / Math.max(1, buckets.length);
  const label = (b) => (b.label.length > 10 ? b.label.slice(11, 13) : b.label.slice(5));
  const every = Math.ceil(buckets.length / 12);
  return html`<figure class="chart" data-testid=${testid}>
    <figcaption>${title}</figcaption>
    <svg viewBox=${`0 0 ${w} ${h + 18}`} role="img" aria-label=${title}>
      ${target != null ? html`<line class="target" x1="0" x2=${w} y1=${h - (target / max) * h} y2=${h - (target / max) * h} />` : null}
      ${buckets.map((b, i) => {
        const v = values[i] ?? 0;
        const bh = (v / max) * h;
        return html`<g>
          <rect x=${i * bw + bw * 0.15} y=${h - bh} width=${bw * 0.7} height=${bh} class=${target != null && v > target ? 'over' : ''}>
            <title>${b.label}: ${values[i] == null ? '—' : format(values[i])}</title>
          </rect>
          ${i % every === 0 ? html`<text x=${i * bw + bw / 2} y=${h + 14} text-anchor="middle">${label(b)}</text>` : null}
        </g>`;
      })}
    </svg>
  </figure>`;
}

function Card({ label, value, sub, testid }) {
  return html`<div class="stat-card" data-testid=${testid}>
    <div class="stat-label">${label}</div>
    <div class="stat-value">${value}</div>
    ${sub ? html`<div class="stat-sub">${sub}</div>` : null}
  </div>`;
}

function AgentTable({ report, names }) {
  const rows = report.agents;
  if (!rows.length) return html`<p class="empty">${t('stats.no_agents')}</p>`;
  return html`<table class="grid" data-testid="stats-agents">
    <thead><tr>
      <th>${t('stats.agent')}</th><th title=${t('stats.def.received')}>${t('stats.received')}</th>
      <th title=${t('stats.def.handled')}>${t('stats.handled')}</th><th>${t('stats.transferred')}</th>
      <th title=${t('stats.def.first_response')}>${t('stats.first_response')}</th><th>${t('stats.within_10')}</th>
      <th title=${t('stats.def.reply_wait')}>${t('stats.reply_wait')}</th><th>${t('stats.reply_max')}</th><th>${t('stats.within_20')}</th>
      <th>${t('stats.online')}</th><th>${t('stats.suspended')}</th><th>${t('stats.messages')}</th>
      <th title=${t('stats.def.compliance_warnings')}>${t('stats.compliance_warnings')}</th>
      <th title=${t('stats.def.satisfaction')}>${t('stats.satisfaction')}</th>
    </tr></thead>
    <tbody>${rows.map((a) => html`<tr data-testid=${`stats-agent-${names.get(a.account_id) ?? a.account_id}`}>
      <td>${names.get(a.account_id) ?? '—'}</td><td>${a.received}</td><td>${a.handled}</td><td>${a.transferred}</td>
      <td data-testid="agent-first-response">${secs(a.first_response.avg_ms)}</td><td>${pct(a.first_response.share_within_target)}</td>
      <td>${secs(a.reply_wait.avg_ms)}</td><td>${secs(a.reply_wait.max_ms)}</td><td>${pct(a.reply_wait.share_within_target)}</td>
      <td>${hours(a.online_ms)}</td><td>${hours(a.suspended_ms)}</td><td>${a.messages}</td>
      <td data-testid="agent-compliance-warnings" class=${a.compliance_warnings ? 'stat-warn' : ''}>${a.compliance_warnings ?? 0}</td>
      <td>${a.satisfaction.ratings ? `${pct(a.satisfaction.share_satisfied)} (${a.satisfaction.ratings})` : '—'}</td>
    </tr>`)}</tbody>
  </table>`;
}

export function StatsView({ me }) {
  // No dates means the shop's today, which the server reckons in the shop's time zone: a
  // browser elsewhere (or past midnight in Beijing while still evening in UTC) has another day.
  const [q, setQ] = useState({ from: '', to: '', by: 'hour', agent: '' });
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const [staff, setStaff] = useState([]);
  const team = watchesTeam(me);

  useEffect(() => {
    if (team) api('GET', '/chat/agents').then(setStaff).catch(() => {});
  }, [team]);

  const path = (base, extra = {}) => {
    const p = new URLSearchParams({ by: q.by, ...extra });
    if (q.from) p.set('from', q.from);
    if (q.to) p.set('to', q.to);
    if (q.agent) p.set('agent', q.agent);
    return `${base}?${p}`;
  };
  const load = () => api('GET', path('/stats')).then((d) => { setData(d); setError(null); }).catch((e) => setError(errorMessage(e)));
  useEffect(() => {
    load();
    // A range that has ended does not change: no need to re-read it.
    if (q.to && data?.time_zone && q.to < dateIn(data.time_zone)) return undefined;
    const timer = setInterval(load, 30_000);
    return () => clearInterval(timer);
  }, [q.from, q.to, q.by, q.agent]);

  // The dates shown: those picked, else the day the server reported.
  const shown = { from: q.from || data?.from || '', to: q.to || data?.to || '' };
  const set = (k) => (e) => setQ({ ...q, ...(k === 'from' || k === 'to' ? shown : {}), [k]: e.target.value });
  const names = new Map((data?.staff ?? []).map((s) => [s.account_id, s.display_name]));
  const r = data;
  return html`<section class="stats-page" data-testid="stats">
    <header class="page-head">
      <h2>${t('stats.title')}</h2>
      <label>${t('stats.from')} <input type="date" value=${shown.from} max=${shown.to} onChange=${set('from')} data-testid="stats-from" /></label>
      <label>${t('stats.to')} <input type="date" value=${shown.to} min=${shown.from} onChange=${set('to')} data-testid="stats-to" /></label>
      <select value=${q.by} onChange=${set('by')} data-testid="stats-by" aria-label=${t('stats.by')}>
        <option value="hour">${t('stats.by_hour')}</option><option value="day">${t('stats.by_day')}</option>
      </select>
      ${team ? html`<select value=${q.agent} onChange=${set('agent')} data-testid="stats-agent" aria-label=${t('stats.agent')}>
        <option value="">${t('stats.whole_team')}</option>
        ${staff.map((s) => html`<option value=${s.account_id}>${s.display_name}</option>`)}
      </select>` : null}
      <button class="btn" onClick=${() => download(path("/stats/export", { format: "xlsx" }), 'stats.xlsx').catch((e) => setError(errorMessage(e)))}
        data-testid="stats-export-xlsx">${t('stats.export_xlsx')}</button>
      <button class="btn" onClick=${() => download(path("/stats/export", { format: "csv" }), 'stats.csv').catch((e) => setError(errorMessage(e)))}
        data-testid="stats-export-csv">${t('stats.export_csv')}</button>
    </header>
    ${error ? html`<p class="error" role="alert" data-testid="stats-error">${error}</p>` : null}
    ${!r ? html`<p>${t('common.loading')}</p>` : html`
      <div class="stat-cards">
        <${Card} label=${t('stats.received')} value=${r.team.received} sub=${t('stats.handled_n', { n: r.team.handled })} testid="stats-received" />
        <${Card} label=${t('stats.first_response')} value=${secs(r.team.first_response.avg_ms)}
          sub=${t('stats.within_target', { p: pct(r.team.first_response.share_within_target), s: 10 })} testid="stats-first-response" />
        <${Card} label=${t('stats.reply_wait')} value=${secs(r.team.reply_wait.avg_ms)}
          sub=${t('stats.max_and_target', { max: secs(r.team.reply_wait.max_ms), p: pct(r.team.reply_wait.share_within_target), s: 20 })} testid="stats-reply-wait" />
        <${Card} label=${t('stats.satisfaction')} value=${pct(r.team.satisfaction.share_satisfied)}
          sub=${t('stats.ratings_n', { n: r.team.satisfaction.ratings })} testid="stats-satisfaction" />
        <${Card} label=${t('stats.online')} value=${hours(r.team.online_ms)} sub=${`${t('stats.suspended')} ${hours(r.team.suspended_ms)}`} />
        <${Card} label=${t('stats.messages')} value=${r.team.messages} sub=${t('stats.transferred_n', { n: r.team.transferred })} />
      </div>
      <div class="charts">
        <${Bars} title=${t('stats.chart_received')} buckets=${r.buckets} value=${(b) => b.received} testid="chart-received" />
        <${Bars} title=${t('stats.chart_first_response')} buckets=${r.buckets} value=${(b) => (b.first_response.avg_ms == null ? null : b.first_response.avg_ms / 1000)}
          format=${(v) => t('stats.secs', { s: v.toFixed(1) })} target=${10} testid="chart-first-response" />
      </div>
      <h3>${t('stats.by_agent')}</h3>
      <${AgentTable} report=${r} names=${names} />
      ${team ? html`<div class="stat-cards">
        <${Card} label=${t('stats.bot_questions')} value=${r.bot.questions}
          sub=${t('stats.bot_detail', { a: r.bot.answered, s: r.bot.suggested, u: r.bot.unknown })} testid="stats-bot" />
        <${Card} label=${t('stats.bot_resolved')} value=${r.bot.resolved_without_human} sub=${t('stats.sessions_n', { n: r.bot.sessions })} />
        <${Card} label=${t('stats.transfer_rate')} value=${pct(r.bot.transfer_rate)} sub=${`${t('stats.unknown_rate')} ${pct(r.bot.unknown_rate)}`} />
        <${Card} label=${t('stats.sales')} value=${pct(r.sales.order_rate)}
          sub=${t('stats.sales_detail', { c: r.sales.consulted, o: r.sales.ordered, p: r.sales.paid })} testid="stats-sales" />
        <${Card} label=${t('stats.reminders')} value=${r.reminders.sent} sub=${t('stats.reminders_paid', { n: r.reminders.paid_after })} />
      </div>` : null}
      <p class="hint">${t('stats.time_zone', { tz: r.time_zone })}</p>
    `}
  </section>`;
}

const PRESENCE = { online: 'presence.online', suspended: 'presence.suspended', offline: 'presence.offline' };

export function MonitorView() {
  const [m, setM] = useState(null);
  const [error, setError] = useState(null);
  const [, tick] = useState(0);
  useEffect(() => {
    let alive = true;
    const load = () => api('GET', '/chat/monitor')
      .then((d) => { if (alive) { setM(d); setError(null); } })
      .catch((e) => alive && setError(errorMessage(e)));
    load();
    const poll = setInterval(load, 3000);
    const clock = setInterval(() => tick((n) => n + 1), 1000);
    return () => { alive = false; clearInterval(poll); clearInterval(clock); };
  }, []);
  const names = new Map((m?.agents ?? []).map((a) => [a.account_id, a.display_name]));
  return html`<section class="monitor-page" data-testid="monitor">
    <header class="page-head"><h2>${t('monitor.title')}</h2><span class="live-dot" title=${t('monitor.live')}></span></header>
    ${error ? html`<p class="error" role="alert">${error}</p>` : null}
    ${!m ? html`<p>${t('common.loading')}</p>` : html`
      <div class="stat-cards">
        <${Card} label=${t('presence.online')} value=${m.online} testid="monitor-online" />
        <${Card} label=${t('presence.suspended')} value=${m.suspended} />
        <${Card} label=${t('monitor.queue')} value=${m.queue_length} testid="monitor-queue" />
        <${Card} label=${t('monitor.serving')} value=${m.serving} testid="monitor-serving" />
        <${Card} label=${t('stats.received')} value=${m.today.received} sub=${t('monitor.today')} />
        <${Card} label=${t('stats.first_response')} value=${secs(m.today.first_response.avg_ms)} sub=${t('monitor.today')} />
        <${Card} label=${t('monitor.visits_overdue')} value=${m.visits_overdue ?? 0} testid="monitor-visits-overdue" />
      </div>
      <h3>${t('monitor.agents')}</h3>
      <table class="grid" data-testid="monitor-agents">
        <thead><tr><th>${t('stats.agent')}</th><th>${t('monitor.status')}</th><th>${t('monitor.since')}</th><th>${t('monitor.load')}</th></tr></thead>
        <tbody>${m.agents.map((a) => html`<tr data-testid=${`monitor-agent-${a.display_name}`}>
          <td>${a.display_name}${a.skill_group ? html` <span class="tag">${a.skill_group}</span>` : null}</td>
          <td><span class=${`presence-dot ${a.presence}`}></span>${t(PRESENCE[a.presence])}</td>
          <td>${a.since ? fmtWait(a.since) : '—'}</td>
          <td data-testid="monitor-load"><meter min="0" max=${Math.max(1, a.capacity)} value=${a.load}></meter> ${a.load}/${a.capacity}</td>
        </tr>`)}</tbody>
      </table>
      <h3>${t('monitor.waiting')}</h3>
      ${m.waiting.length ? html`<table class="grid" data-testid="monitor-waiting">
        <thead><tr><th>${t('monitor.buyer')}</th><th>${t('monitor.state')}</th><th>${t('stats.agent')}</th><th>${t('monitor.waited')}</th></tr></thead>
        <tbody>${m.waiting.map((w) => html`<tr data-testid="monitor-waiting-row">
          <td>${w.buyer_nick}</td>
          <td>${t(w.state === 'queued' ? 'monitor.in_queue' : 'monitor.awaiting_reply')}</td>
          <td>${w.agent_id ? names.get(w.agent_id) ?? '—' : '—'}</td>
          <td class=${Date.now() - Date.parse(w.waiting_since) > 20_000 ? 'late' : ''}>${fmtWait(w.waiting_since)}</td>
        </tr>`)}</tbody>
      </table>` : html`<p class="empty" data-testid="monitor-nobody-waiting">${t('monitor.nobody_waiting')}</p>`}
      ${m.overdue_visits?.length ? html`<h3>${t('monitor.visits_overdue')}</h3>
      <table class="grid" data-testid="monitor-overdue-visits">
        <thead><tr><th>${t('monitor.buyer')}</th><th>${t('visit.case')}</th><th>${t('stats.agent')}</th><th>${t('visit.due_since')}</th></tr></thead>
        <tbody>${m.overdue_visits.map((v) => html`<tr data-testid="monitor-overdue-visit">
          <td>${v.buyer_nick}</td><td>${t(`visit.source.${v.source}`)}</td><td>${v.assignee_name ?? '—'}</td>
          <td class="late">${fmtWait(v.due_at)}</td>
        </tr>`)}</tbody>
      </table>` : null}
    `}
  </section>`;
}
