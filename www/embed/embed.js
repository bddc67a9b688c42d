// @embedgate/embed: the host-page SDK of embedgate.
//
// createEmbed() shows a dashboard that sits behind `embedgate serve` in an
// iframe and keeps its session alive without reloading it:
//
// 1. It asks your backend for a signed `/.embedgate/open` URL (the `url`
//    option) and loads it in a hidden iframe on the proxy's origin. The
//    proxy verifies it like any signed URL, sets the session cookie, and
//    answers a tiny page that posts {type: "embedgate:renewed", expiresAt,
//    expiresIn, path} to this page's origin (and to no other).
// 2. It loads `path` (the dashboard, under that cookie) in the visible
//    iframe, once.
// 3. Before the session ends it asks for a signed `/.embedgate/renew` URL
//    and loads it in a fresh hidden iframe: the renewed cookie lands in the
//    same cookie jar (the same partition: both frames are on the proxy's
//    origin in this page), the dashboard keeps running.
// 4. The hidden page watches its session and posts {type:
//    "embedgate:error", reason} when it is revoked or expires; a refused
//    URL or page load is answered by the proxy with a page posting the
//    same. Either way `onError(reason)` is called.
//
// Messages are taken only from the proxy's origin (the origin of the
// first signed URL), only from this embed's own frames, and only in the
// expected shape. No build step, no dependency.

const PREFIX = '/.embedgate/';
const REASON = /^[a-z][a-z0-9_]{0,63}$/;
/** Proxy refusals worth another try: the same URL kind may pass later. */
const TRANSIENT = new Set(['busy', 'replay_unavailable', 'upstream_unavailable', 'upstream_timeout']);
const noop = () => {};

/**
 * Shows the dashboard a signed `/.embedgate/open` URL names in `container`
 * and keeps its session renewed. See embed.d.ts for the options.
 *
 * @param {import('./embed.js').EmbedOptions} options
 * @returns {import('./embed.js').Embed}
 */
export function createEmbed(options) {
  const { container, url } = options ?? {};
  if (!container || typeof container.appendChild !== 'function') {
    throw new TypeError('createEmbed: `container` must be a DOM element');
  }
  if (typeof url !== 'function') {
    throw new TypeError('createEmbed: `url` must be a function returning (a promise of) a signed URL');
  }
  const onReady = options.onReady ?? noop;
  const onError = options.onError ?? noop;
  const onSessionRenewed = options.onSessionRenewed ?? noop;
  const answerTimeout = options.answerTimeout ?? 15000;
  const maxRetryDelay = options.maxRetryDelay ?? 30000;
  const doc = container.ownerDocument;
  const win = doc.defaultView;

  const frame = doc.createElement('iframe');
  frame.title = options.title ?? 'Embedded dashboard';
  if (options.allow) frame.allow = options.allow;
  frame.style.border = '0';
  frame.style.width = '100%';
  frame.style.height = '100%';
  container.appendChild(frame);

  let proxyOrigin = null;
  let session = null; // the hidden frame whose session is current
  let pending = null; // the hidden frame being loaded
  let seq = 0; // bumps on each load, reload and destroy: stale answers are dropped
  let attempt = 0; // failed tries in a row
  let opened = false; // the dashboard frame has its src
  let phase = 'opening'; // opening | live | renewing | failed | destroyed
  let expiresAt = null;
  let deadline = 0; // Date.now() at which the current session ends
  let margin = 0;
  let renewTimer = 0;
  let answerTimer = 0;

  function hiddenFrame() {
    const f = doc.createElement('iframe');
    f.title = 'embedgate session';
    f.setAttribute('aria-hidden', 'true');
    f.tabIndex = -1;
    f.style.display = 'none';
    return f;
  }

  function clearTimers() {
    win.clearTimeout(renewTimer);
    win.clearTimeout(answerTimer);
    renewTimer = 0;
    answerTimer = 0;
  }

  function dropPending() {
    win.clearTimeout(answerTimer);
    pending?.remove();
    pending = null;
  }

  /** Stops renewing and tells the host page why. */
  function fail(reason) {
    if (phase === 'failed' || phase === 'destroyed') return;
    phase = 'failed';
    seq++;
    clearTimers();
    dropPending();
    onError(reason);
  }

  /**
   * A try that did not get an answer (`reason`: the URL could not be had,
   * or the proxy's page did not answer, or a transient refusal): again,
   * later, while the session lasts (the first open: 3 tries).
   */
  function retry(my, reason) {
    if (my !== seq || phase === 'failed' || phase === 'destroyed') return;
    dropPending();
    attempt++;
    const wait = Math.min(1000 * 2 ** (attempt - 1), maxRetryDelay);
    const outOfTime = opened ? Date.now() + wait >= deadline : attempt >= 3;
    if (outOfTime) {
      fail(reason);
      return;
    }
    renewTimer = win.setTimeout(() => load(opened ? 'renew' : 'open'), wait);
  }

  async function load(kind) {
    const my = ++seq;
    if (opened) phase = 'renewing';
    let signed;
    try {
      signed = String((await url({ kind, origin: win.location.origin })) ?? '').trim();
    } catch {
      retry(my, 'sign_failed');
      return;
    }
    if (my !== seq) return;
    let target;
    try {
      target = new URL(signed);
    } catch {
      retry(my, 'sign_failed');
      return;
    }
    const kindOk = target.pathname === `${PREFIX}open` || target.pathname === `${PREFIX}renew`;
    if (!/^https?:$/.test(target.protocol) || !kindOk || (proxyOrigin !== null && target.origin !== proxyOrigin)) {
      fail('bad_url');
      return;
    }
    proxyOrigin ??= target.origin;
    dropPending();
    pending = hiddenFrame();
    const mine = pending;
    // No answer within the time (a wrong `origin` in the URL makes the
    // proxy's page refuse to show here): try again. Once the page has
    // loaded, its message is due at once.
    answerTimer = win.setTimeout(() => retry(my, 'no_answer'), answerTimeout);
    mine.addEventListener('load', () => {
      if (pending !== mine) return;
      win.clearTimeout(answerTimer);
      answerTimer = win.setTimeout(() => retry(my, 'no_answer'), 3000);
    });
    mine.src = target.href;
    container.appendChild(mine);
  }

  function schedule(expiresIn) {
    win.clearTimeout(renewTimer);
    deadline = Date.now() + expiresIn * 1000;
    // A quarter of the session, between 2 s and 60 s, before its end.
    margin = Math.min(Math.max(expiresIn * 250, 2000), 60000);
    const delay = Math.max(expiresIn * 1000 - margin, 1000);
    renewTimer = win.setTimeout(() => load('renew'), delay);
  }

  function renewed(m) {
    const ok = Number.isSafeInteger(m.expiresAt) && m.expiresAt > 0
      && Number.isFinite(m.expiresIn) && m.expiresIn >= 0
      && typeof m.path === 'string' && m.path.startsWith('/') && !m.path.startsWith('//') && m.path.length <= 8192;
    if (!ok) return;
    win.clearTimeout(answerTimer);
    session?.remove();
    session = pending;
    pending = null;
    attempt = 0;
    expiresAt = m.expiresAt;
    phase = 'live';
    schedule(m.expiresIn);
    if (!opened) {
      const dashboard = new URL(m.path, proxyOrigin);
      if (dashboard.origin !== proxyOrigin) {
        fail('bad_url');
        return;
      }
      opened = true;
      frame.addEventListener('load', () => { if (phase !== 'destroyed') onReady(); }, { once: true });
      frame.src = dashboard.href;
    } else {
      onSessionRenewed({ expiresAt });
    }
  }

  function onMessage(ev) {
    if (phase === 'destroyed' || proxyOrigin === null || ev.origin !== proxyOrigin) return;
    const src = ev.source;
    const fromPending = pending !== null && src === pending.contentWindow;
    const fromSession = session !== null && src === session.contentWindow;
    const fromFrame = src === frame.contentWindow;
    if (!fromPending && !fromSession && !fromFrame) return;
    const m = ev.data;
    if (m === null || typeof m !== 'object') return;
    if (m.type === 'embedgate:renewed') {
      if (fromPending) renewed(m);
      return;
    }
    if (m.type !== 'embedgate:error' || typeof m.reason !== 'string' || !REASON.test(m.reason)) return;
    if (fromPending) {
      if (TRANSIENT.has(m.reason)) retry(seq, m.reason);
      else fail(m.reason);
    } else if (fromSession) {
      // The session's watch: revoked, or expired without a renewal. An
      // expiry while a renewal is on its way is that renewal's business.
      if (!(m.reason === 'session_expired' && phase === 'renewing')) fail(m.reason);
    } else {
      fail(m.reason);
    }
  }

  // A background tab's timers may be held back: on return, renew at once
  // if the session is within its margin.
  function onVisible() {
    if (doc.visibilityState === 'visible' && phase === 'live' && Date.now() >= deadline - margin) {
      load('renew');
    }
  }

  win.addEventListener('message', onMessage);
  doc.addEventListener('visibilitychange', onVisible);
  load('open');

  return {
    iframe: frame,
    get expiresAt() {
      return expiresAt;
    },
    reload() {
      if (phase === 'destroyed') return;
      clearTimers();
      dropPending();
      session?.remove();
      session = null;
      opened = false;
      attempt = 0;
      expiresAt = null;
      phase = 'opening';
      load('open');
    },
    destroy() {
      if (phase === 'destroyed') return;
      phase = 'destroyed';
      seq++;
      clearTimers();
      dropPending();
      session?.remove();
      session = null;
      frame.remove();
      win.removeEventListener('message', onMessage);
      doc.removeEventListener('visibilitychange', onVisible);
    },
  };
}
