import { html, render } from '/ui/vendor/preact-htm.module.js';
render(html`<main data-testid="widget">kefu</main>`, document.getElementById('root'));
