// The embedgate signing playground. Everything happens in this page with the
// WebAssembly build of embedgate-core; no value typed here is sent anywhere.
//
// The WebAssembly package (./pkg/, built by `cargo xtask demo` or `cargo
// xtask test`, not committed) is imported dynamically: a static import of a
// missing module fails before this script runs, leaving a dead page with no
// word of why.
import { explode, diffLines } from './diff.js';

let signEmbedUrl, verifyEmbedUrl, stringToSign, generateSecret, generateNonce;

const $ = (id) => document.getElementById(id);
const nowSecs = () => Math.floor(Date.now() / 1000);

function parseAttrs(text) {
  const attrs = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const eq = line.indexOf('=');
    attrs.push(eq < 0 ? [line, ''] : [line.slice(0, eq).trim(), line.slice(eq + 1)]);
  }
  return attrs;
}

function wholeNumber(id, { optional = false } = {}) {
  const v = $(id).value.trim();
  if (v === '' && optional) return undefined;
  const n = Number(v);
  if (v === '' || !Number.isSafeInteger(n) || n < 0) {
    throw Object.assign(new Error(`${$(id).closest('label').firstChild.textContent.trim()} must be a whole number of seconds`), { code: 'invalid_argument' });
  }
  return n;
}

/** What the form describes, except the time and nonce. */
function formParams() {
  const session = wholeNumber('session', { optional: true });
  return {
    url: $('base-url').value.trim(),
    kid: $('kid').value.trim(),
    secret: $('secret').value,
    sub: $('sub').value,
    ...(session === undefined ? {} : { session }),
    attrs: parseAttrs($('attrs').value),
  };
}

function showError(el, err) {
  el.hidden = false;
  el.replaceChildren();
  const code = document.createElement('span');
  code.className = 'code';
  code.textContent = err.code ?? 'error';
  el.append(code, document.createTextNode(' ' + String(err.message).replace(/^[a-z_]+: /, '')));
}

// ---- signing -------------------------------------------------------------

function refreshSign() {
  const err = $('sign-error');
  try {
    const now = wholeNumber('now');
    const url = signEmbedUrl({ ...formParams(), nonce: $('nonce').value.trim(), now, ttl: wholeNumber('ttl') });
    const sig = new URL(url).searchParams.get('eg_sig');
    $('sts').textContent = stringToSign(url);
    $('sig').textContent = sig;
    $('signed-url').textContent = url;
    err.hidden = true;
    document.body.dataset.signed = 'yes';
  } catch (e) {
    showError(err, e);
    for (const id of ['sts', 'sig', 'signed-url']) $(id).textContent = '';
    document.body.dataset.signed = 'no';
  }
}

// ---- verifying -----------------------------------------------------------

function urlParam(url, name) {
  try {
    return new URL(url).searchParams.get(name);
  } catch {
    return null;
  }
}

function renderFields(fields) {
  const dl = $('fields');
  dl.replaceChildren();
  const rows = [
    ['User', fields.sub],
    ['Expires', fields.exp === undefined ? undefined : `${fields.exp} (${new Date(fields.exp * 1000).toISOString().replace('.000Z', 'Z')})`],
    ['Session granted', fields.session === undefined ? undefined : `${fields.session} s`],
    ['Attributes', fields.attrs && Object.keys(fields.attrs).length ? Object.entries(fields.attrs).map(([k, v]) => `${k}=${v}`).join(', ') : undefined],
    ['Forwarded as', fields.forwardPathAndQuery],
  ];
  for (const [k, v] of rows) {
    if (v === undefined) continue;
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = v;
    dl.append(dt, dd);
  }
  dl.hidden = dl.childElementCount === 0;
}

/**
 * For bad_signature: the string to sign the URL implies against the one the
 * form would sign for the same URL, i.e. the form's content URL, kid, user,
 * session and attributes with the pasted URL's eg_exp and eg_nonce (which
 * are time- and chance-dependent, so the form cannot know them).
 */
function renderDiff(pasted, result) {
  const box = $('diff-box');
  const note = $('diff-note');
  const exp = Number(urlParam(pasted, 'eg_exp'));
  const nonce = urlParam(pasted, 'eg_nonce') ?? '';
  let formSts;
  try {
    const resigned = signEmbedUrl({ ...formParams(), exp, nonce });
    formSts = stringToSign(resigned);
  } catch (e) {
    box.hidden = false;
    note.textContent = `The form above cannot sign this URL's parameters (${e.code}: ${String(e.message).replace(/^[a-z_]+: /, '')}), so there is nothing to compare with.`;
    $('diff').replaceChildren();
    $('sig-compare').replaceChildren();
    return;
  }
  const rows = diffLines(explode(formSts), explode(result.stringToSign));
  const changed = rows.filter((r) => r.op !== ' ').length;
  const diff = $('diff');
  diff.replaceChildren();
  for (const r of rows) {
    const line = document.createElement('div');
    line.className = r.op === '-' ? 'line del' : r.op === '+' ? 'line ins' : 'line same';
    const op = document.createElement('span');
    op.className = 'op';
    op.textContent = r.op;
    const part = document.createElement('span');
    part.className = 'part';
    part.textContent = r.part;
    const text = document.createElement('span');
    text.className = 'text';
    text.textContent = r.text === '' ? '(empty)' : r.text;
    line.append(op, part, text);
    diff.append(line);
  }
  if (changed === 0) {
    note.textContent = 'This URL carries exactly what the form signs (with its eg_exp and eg_nonce), so the content was not changed: it was signed with a different secret than the one given here.';
  } else {
    const dels = rows.filter((r) => r.op === '-').length;
    note.textContent = `What the form signs (with this URL's eg_exp and eg_nonce) and what the URL implies differ in ${changed} line${changed === 1 ? '' : 's'} (−${dels} +${changed - dels}). The query is shown one parameter per line.`;
  }
  const cmp = $('sig-compare');
  cmp.replaceChildren();
  for (const [label, value, cls] of [
    ['eg_sig in the URL', urlParam(pasted, 'eg_sig') ?? '', 'ins'],
    ['expected for its string to sign', result.expectedSignature ?? '', 'same'],
  ]) {
    const row = document.createElement('div');
    const l = document.createElement('span');
    l.className = 'part';
    l.textContent = label;
    const v = document.createElement('span');
    v.className = cls;
    v.textContent = value;
    row.append(l, v);
    cmp.append(row);
  }
  box.hidden = false;
}

function refreshVerify() {
  const pasted = $('verify-url').value.trim();
  const verdict = $('verdict');
  $('diff-box').hidden = true;
  $('fields').hidden = true;
  if (pasted === '') {
    verdict.hidden = true;
    document.body.dataset.verdict = '';
    return;
  }
  const badge = $('verdict-badge');
  const detail = $('verdict-detail');
  verdict.hidden = false;
  try {
    const secret = $('verify-secret').value || $('secret').value;
    const kid = urlParam(pasted, 'eg_kid') || $('kid').value.trim() || 'kid';
    const result = verifyEmbedUrl(pasted, { [kid]: secret }, {
      now: wholeNumber('verify-now'),
      skew: wholeNumber('skew'),
      maxUrlTtl: wholeNumber('max-ttl'),
    });
    badge.className = result.ok ? 'badge ok' : 'badge bad';
    badge.textContent = result.ok ? 'valid' : result.reason;
    detail.textContent = result.ok ? `Signed by ${result.fields.kid} for ${result.fields.sub}.` : result.detail;
    document.body.dataset.verdict = result.ok ? 'ok' : result.reason;
    if (result.ok) renderFields(result.fields);
    if (result.reason === 'bad_signature' && result.stringToSign !== null) renderDiff(pasted, result);
  } catch (e) {
    badge.className = 'badge bad';
    badge.textContent = e.code ?? 'error';
    detail.textContent = String(e.message).replace(/^[a-z_]+: /, '');
    document.body.dataset.verdict = e.code ?? 'error';
  }
}

// ---- wiring --------------------------------------------------------------

async function copy(text, button) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const ta = document.createElement('textarea');
    ta.value = text;
    document.body.append(ta);
    ta.select();
    document.execCommand('copy');
    ta.remove();
  }
  const was = button.textContent;
  button.textContent = 'Copied';
  setTimeout(() => { button.textContent = was; }, 1200);
}

function wire() {
  for (const id of ['base-url', 'kid', 'secret', 'sub', 'ttl', 'session', 'attrs', 'nonce', 'now']) {
    $(id).addEventListener('input', () => { refreshSign(); refreshVerify(); });
  }
  for (const id of ['verify-url', 'verify-secret', 'verify-now', 'skew', 'max-ttl']) {
    $(id).addEventListener('input', refreshVerify);
  }
  $('new-secret').addEventListener('click', () => { $('secret').value = generateSecret(); refreshSign(); refreshVerify(); });
  $('new-nonce').addEventListener('click', () => { $('nonce').value = generateNonce(); refreshSign(); });
  $('set-now').addEventListener('click', () => { $('now').value = nowSecs(); refreshSign(); });
  $('verify-set-now').addEventListener('click', () => { $('verify-now').value = nowSecs(); refreshVerify(); });
  $('to-verify').addEventListener('click', () => {
    $('verify-url').value = $('signed-url').textContent;
    $('verify-now').value = nowSecs();
    refreshVerify();
    $('verify-url').scrollIntoView({ behavior: 'smooth', block: 'center' });
  });
  for (const b of document.querySelectorAll('[data-copy]')) {
    b.addEventListener('click', () => copy($(b.dataset.copy).textContent, b));
  }
  for (const b of document.querySelectorAll('[data-reveal]')) {
    b.addEventListener('click', () => {
      const input = $(b.dataset.reveal);
      const show = input.type === 'password';
      input.type = show ? 'text' : 'password';
      b.textContent = show ? 'Hide' : 'Show';
    });
  }
}

/** Why the WebAssembly package did not load, in words a reader can act on. */
async function loadFailure(e) {
  let missing = false;
  try {
    missing = (await fetch(new URL('./pkg/embedgate_wasm.js', import.meta.url), { method: 'HEAD', cache: 'no-store' })).status === 404;
  } catch {
    // Not even this page's origin answers; report the import's error.
  }
  return missing
    ? 'The playground\'s WebAssembly build is missing (pkg/embedgate_wasm.js: 404 Not Found), so nothing can be signed or verified here. ' +
        'Build it with `cargo xtask demo` or `cargo xtask test` (either rebuilds the embedgate binary that embeds it; restart it), or serve www/playground with its pkg/ folder; then reload.'
    : `The playground's WebAssembly module did not load (${e.message}). Serve this directory over HTTP with its pkg/ folder (built by \`cargo xtask demo\` or \`cargo xtask test\`), then reload.`;
}

try {
  const wasm = await import('./pkg/embedgate_wasm.js');
  await wasm.default({ module_or_path: new URL('./pkg/embedgate_wasm_bg.wasm', import.meta.url) });
  ({ signEmbedUrl, verifyEmbedUrl, stringToSign, generateSecret, generateNonce } = wasm);
  $('secret').value = generateSecret();
  $('nonce').value = generateNonce();
  $('now').value = nowSecs();
  $('verify-now').value = nowSecs();
  wire();
  refreshSign();
  $('local-state').textContent = 'Runs in your browser · nothing you type leaves this page';
  document.body.dataset.ready = 'yes';
} catch (e) {
  const el = $('load-error');
  el.hidden = false;
  el.textContent = await loadFailure(e);
  $('local-state').textContent = 'Not running: the WebAssembly module did not load';
  for (const b of document.querySelectorAll('main button')) b.disabled = true;
  document.body.dataset.ready = 'failed';
}
