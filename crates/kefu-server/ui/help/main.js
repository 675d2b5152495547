import { html, render } from '/ui/vendor/preact-htm.module.js';
render(html`<main data-testid="help">kefu</main>`, document.getElementById('root'));
