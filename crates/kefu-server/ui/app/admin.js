// 管理 (owners and admins; the server refuses everyone else too): one view with a left
// sub-navigation of the admin pages, each in its own module.
import { html } from '/ui/vendor/preact-htm.module.js';
import { t, useLang } from '/ui/i18n.js';
import { KbAdmin } from '/ui/app/admin-kb.js';
import { LearnAdmin } from '/ui/app/admin-learn.js';
import { PhrasesAdmin } from '/ui/app/admin-phrases.js';
import { AccountsAdmin } from '/ui/app/admin-accounts.js';
import { SettingsAdmin } from '/ui/app/admin-settings.js';
import { CustomersAdmin } from '/ui/app/admin-customers.js';
import { AuditAdmin } from '/ui/app/admin-audit.js';
import { ProductsAdmin } from '/ui/app/admin-products.js';
import { WebhooksAdmin } from '/ui/app/admin-webhooks.js';

/** The sections in the order the sub-navigation lists them; the first opens by default. */
export const ADMIN_SECTIONS = ['kb', 'learn', 'products', 'phrases', 'accounts', 'settings', 'customers', 'audit', 'webhooks'];

const PAGES = {
  kb: KbAdmin,
  learn: LearnAdmin,
  products: ProductsAdmin,
  phrases: PhrasesAdmin,
  accounts: AccountsAdmin,
  settings: SettingsAdmin,
  customers: CustomersAdmin,
  audit: AuditAdmin,
  webhooks: WebhooksAdmin,
};

export function AdminView({ me, shop, section, setSection }) {
  useLang();
  const key = PAGES[section] ? section : ADMIN_SECTIONS[0];
  const Page = PAGES[key];
  return html`<div class="admin" data-testid="admin-view" data-section=${key}>
    <nav class="admin-nav" aria-label=${t('adm.nav')}>
      ${ADMIN_SECTIONS.map((s) => html`<button class=${s === key ? 'on' : ''} aria-current=${s === key ? 'page' : null}
        data-testid=${`admin-nav-${s}`} onClick=${() => setSection(s)}>${t(`adm.nav.${s}`)}</button>`)}
    </nav>
    <div class="admin-body"><${Page} key=${key} me=${me} shop=${shop} /></div>
  </div>`;
}
