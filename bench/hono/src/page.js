// The landing page of GhostTools, as a Hono app would write it (hono/html escapes every
// interpolation): the same markup as templates/base.html + templates/landing.html for an
// anonymous visitor, so the peer sends the same bytes our Worker does.
import { html } from "hono/html";

export const layout = ({ title, nonce, build }, content) => html`<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>${title}</title>
  <meta name="description" content="GhostTools: AgentWrite writes product descriptions, PodScribe turns podcast episodes into transcripts, subtitles and show notes.">
  <meta name="color-scheme" content="light dark">
  <link rel="icon" href="/favicon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="/app.css?v=${build}">
  <script nonce="${nonce}" src="/app.js?v=${build}" defer></script>
</head>
<body>
  <a class="skip-link" href="#main">Skip to content</a>
  <header class="site-header">
    <nav class="nav container" aria-label="Main">
      <a class="brand" href="/"><img src="/favicon.svg" alt="" width="28" height="28"> GhostTools</a>
      <ul class="nav-links">
        <li><a href="/#tools">Tools</a></li>
        <li><a href="/#pricing">Pricing</a></li>
        <li><a class="button button-small" href="/signin">Sign in</a></li>
      </ul>
    </nav>
  </header>
  <main id="main" tabindex="-1">
${content}
  </main>
  <footer class="site-footer">
    <div class="container footer-inner">
      <p>© GhostTools</p>
      <ul class="footer-links">
        <li><a href="/terms">Terms</a></li>
        <li><a href="/privacy">Privacy</a></li>
      </ul>
    </div>
  </footer>
</body>
</html>`;

export const landing = () => html`<section class="hero">
  <div class="container">
    <p class="eyebrow">AI content tools for small businesses and creators</p>
    <h1>Write the product page. Publish the episode. <span class="accent">Let the ghost do the typing.</span></h1>
    <p class="lead">AgentWrite turns a few facts into a polished product description while you watch. PodScribe turns an episode into a transcript, subtitles and show notes.</p>
    <p class="actions">
      <a class="button" href="/signin">Start free</a>
      <a class="button button-ghost" href="#tools">See what it does</a>
    </p>
  </div>
</section>

<section id="tools" class="container tools" aria-labelledby="tools-heading">
  <h2 id="tools-heading">Two tools, one account</h2>
  <div class="cards">
    <article class="card">
      <h3>AgentWrite</h3>
      <p>Give it the product name, the features that matter and who it is for. It writes a title, a description and bullet points in your tone and language, streamed as it writes.</p>
      <figure class="example">
        <figcaption>Example</figcaption>
        <blockquote>
          <p><strong>TrailLite 2 Backpacking Tent</strong> — Pitch camp in minutes and sleep dry. At 1.1 kg, the TrailLite 2 is the tent you forget you are carrying until the rain starts.</p>
          <ul><li>Sets up in under 3 minutes</li><li>3000 mm waterproof fly</li><li>Two doors, two vestibules</li></ul>
        </blockquote>
      </figure>
    </article>
    <article class="card">
      <h3>PodScribe</h3>
      <p>Upload an episode (mp3, m4a, wav and more, up to 25 MB). Get a searchable transcript, SRT and VTT subtitles with timestamps, and show notes with chapters.</p>
      <figure class="example">
        <figcaption>Example</figcaption>
        <blockquote>
          <p><strong>00:00 Intro</strong> · <strong>03:12 Why small shops win on trust</strong> · <strong>17:45 Listener questions</strong></p>
          <p>"…and that is why we answer every review, even the one-star ones."</p>
        </blockquote>
      </figure>
    </article>
  </div>
</section>

<section id="pricing" class="container pricing" aria-labelledby="pricing-heading">
  <h2 id="pricing-heading">Pricing</h2>
  <p>Buy credits once, or subscribe to Starter or Pro for a monthly allowance. One credit is one product description or one started minute of audio.</p>
  <p><a class="button button-ghost" href="/pricing">See current prices</a></p>
</section>`;
