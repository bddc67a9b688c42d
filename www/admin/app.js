// The embedgate admin console: talks only to /api/v1, with the admin token
// from session storage. Every piece of data goes into the page as text,
// never as HTML.
import { api, session, enc, ApiError } from './api.js';
import { usageChart } from './chart.js';

const $ = (sel, root = document) => root.querySelector(sel);

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) e.append(c instanceof Node ? c : String(c));
  return e;
}

const fmtTime = (t) => (t ? new Date(t * 1000).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }) : '—');
const canChange = () => session.role === 'admin' || session.role === 'owner';

function toast(text) {
  const t = $('#toast');
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 2500);
}

function showError(node, err) {
  node.textContent = err instanceof ApiError ? `${err.message}${err.code ? ` (${err.code})` : ''}` : String(err?.message || err);
  node.hidden = false;
}

async function copy(text, what) {
  try {
    await navigator.clipboard.writeText(text);
    toast(`${what} copied`);
  } catch {
    toast('Copy failed: select the text and copy it by hand');
  }
}

function statusPill(status) {
  return el('span', { class: `pill ${status}`, dataset: { testid: 'status' } }, status);
}

// ---------------------------------------------------------------- sign-in

async function signIn(token) {
  session.token = token;
  await api('GET', '/secrets');
  $('#signin').hidden = true;
  $('#tabs').hidden = false;
  $('#who').hidden = false;
  $('#who-name').textContent = session.name || '';
  $('#who-role').textContent = session.role || '';
  document.body.dataset.role = session.role || '';
  show('secrets');
}

function signOut() {
  session.token = null;
  session.role = null;
  location.reload();
}

// ---------------------------------------------------------------- tabs

let current = 'secrets';
function show(tab) {
  current = tab;
  for (const b of document.querySelectorAll('.tab')) {
    if (b.dataset.tab === tab) b.setAttribute('aria-current', 'page'); else b.removeAttribute('aria-current');
  }
  for (const v of ['secrets', 'credentials', 'audit']) $(`#view-${v}`).hidden = v !== tab;
  for (const b of document.querySelectorAll('[data-role="admin"]')) b.hidden = !canChange();
  if (tab === 'secrets') loadSecrets();
  if (tab === 'credentials') loadCredentials();
  if (tab === 'audit') loadAudit(true);
}

// ---------------------------------------------------------------- dialogs

function openPrompt({ title, label, value, multiline, ok }) {
  const d = $('#dlg-prompt');
  $('#prompt-title').textContent = title;
  $('#prompt-label').textContent = label;
  const input = $('#prompt-input');
  const area = $('#prompt-area');
  input.hidden = !!multiline;
  area.hidden = !multiline;
  const field = multiline ? area : input;
  field.value = value ?? '';
  const err = $('.error', d);
  err.hidden = true;
  d.onclose = null;
  $('#prompt-form').onsubmit = async (ev) => {
    if (ev.submitter?.value !== 'ok') return;
    ev.preventDefault();
    try {
      await ok(field.value);
      d.close();
    } catch (e) { showError(err, e); }
  };
  d.showModal();
  field.focus();
}

function openConfirm({ title, text, button, ok }) {
  const d = $('#dlg-confirm');
  $('#confirm-title').textContent = title;
  $('#confirm-text').textContent = text;
  $('#confirm-ok').textContent = button;
  const err = $('.error', d);
  err.hidden = true;
  $('form', d).onsubmit = async (ev) => {
    if (ev.submitter?.value !== 'ok') return;
    ev.preventDefault();
    try {
      await ok();
      d.close();
    } catch (e) { showError(err, e); }
  };
  d.showModal();
}

function describeChange(c) {
  const old = c.old ?? '—';
  const neu = c.new ?? '—';
  return `${c.field}: ${old} → ${neu}`;
}

async function openHistory(kind, item) {
  const d = $('#dlg-history');
  $('#history-title').textContent = `History of ${item.name}`;
  const body = $('#history-table tbody');
  body.replaceChildren();
  d.showModal();
  try {
    const { entries } = await api('GET', `/${kind}/${enc(item.id)}/history`);
    for (const e of entries) {
      body.append(el('tr', {},
        el('td', {}, e.seq), el('td', {}, fmtTime(e.at)), el('td', {}, e.actor),
        el('td', {}, el('span', { class: 'action' }, e.action)),
        el('td', {}, el('ul', { class: 'changes' }, e.changes.map((c) => el('li', {}, describeChange(c)))))));
    }
  } catch (e) {
    body.append(el('tr', {}, el('td', { colspan: '5', class: 'error' }, e.message)));
  }
}

// ---------------------------------------------------------------- secrets

let searchTimer;
async function loadSecrets() {
  const err = $('#secrets-error');
  err.hidden = true;
  const q = $('#search').value.trim();
  let items;
  try {
    ({ items } = await api('GET', `/secrets${q ? `?search=${enc(q)}` : ''}`));
  } catch (e) { showError(err, e); return; }
  const body = $('#secrets-table tbody');
  body.replaceChildren(...items.map(secretRow));
  $('#secrets-empty').hidden = items.length > 0;
  $('#secrets-empty').textContent = q ? `No embed secret matches “${q}”.` : 'No embed secrets yet.';
  for (const s of items) {
    api('GET', `/secrets/${enc(s.id)}/usage`).then((u) => {
      const cell = body.querySelector(`tr[data-id="${CSS.escape(s.id)}"] .usage`);
      cell?.replaceChildren(usageChart(u));
    }).catch(() => {});
  }
}

function secretRow(s) {
  const actions = canChange() ? [
    el('button', { type: 'button', class: 'btn small', dataset: { action: 'rename' }, onclick: () => openPrompt({
      title: 'Rename secret', label: 'New name', value: s.name,
      ok: async (name) => { await api('PATCH', `/secrets/${enc(s.id)}`, { name }); toast('Renamed'); loadSecrets(); },
    }) }, 'Rename'),
    el('button', { type: 'button', class: 'btn small', dataset: { action: 'describe' }, onclick: () => openPrompt({
      title: 'Edit description', label: 'Description', value: s.description, multiline: true,
      ok: async (description) => { await api('PATCH', `/secrets/${enc(s.id)}`, { description }); toast('Description saved'); loadSecrets(); },
    }) }, 'Describe'),
    s.active
      ? el('button', { type: 'button', class: 'btn small', dataset: { action: 'deactivate' }, onclick: () => act(`/secrets/${enc(s.id)}/deactivate`, 'Deactivated') }, 'Deactivate')
      : el('button', { type: 'button', class: 'btn small', dataset: { action: 'activate' }, disabled: s.status === 'expired', title: s.status === 'expired' ? 'An expired secret cannot be reactivated' : undefined, onclick: () => act(`/secrets/${enc(s.id)}/activate`, 'Activated') }, 'Activate'),
  ] : [];
  const history = el('button', { type: 'button', class: 'btn small', dataset: { action: 'history' }, onclick: () => openHistory('secrets', s) }, 'History');
  const del = canChange() ? el('button', { type: 'button', class: 'btn small danger', dataset: { action: 'delete' }, onclick: () => openConfirm({
    title: `Delete ${s.name}?`,
    text: `Deleting “${s.name}” (${s.client_id}) is permanent. Every URL and every session signed with it will get 403 from the proxy at once.`,
    button: 'Delete secret',
    ok: async () => { await api('DELETE', `/secrets/${enc(s.id)}`); toast('Deleted'); loadSecrets(); },
  }) }, 'Delete') : null;
  return el('tr', { dataset: { id: s.id, name: s.name } },
    el('td', {}, el('div', { class: 'name' }, s.name), s.description ? el('div', { class: 'desc muted' }, s.description) : null),
    el('td', {}, el('span', { class: 'kid' }, el('code', {}, s.client_id),
      el('button', { type: 'button', class: 'icon-btn', title: 'Copy client id', 'aria-label': `Copy client id of ${s.name}`, onclick: () => copy(s.client_id, 'Client id') }, 'Copy'))),
    el('td', {}, s.environment ? el('span', { class: 'env' }, s.environment) : el('span', { class: 'muted' }, '—')),
    el('td', {}, statusPill(s.status)),
    el('td', { class: 'nowrap' }, fmtTime(s.created_at)),
    el('td', { class: 'nowrap' }, fmtTime(s.last_used_at)),
    el('td', { class: 'usage' }, el('span', { class: 'muted small' }, '…')),
    el('td', { class: 'actions' }, actions, history, del));
}

async function act(path, done) {
  try {
    await api('POST', path);
    toast(done);
  } catch (e) { showError($('#secrets-error'), e); }
  loadSecrets();
}

function openAdd() {
  const d = $('#dlg-add');
  const form = $('#add-form');
  form.reset();
  form.hidden = false;
  $('#add-result').hidden = true;
  $('.error', form).hidden = true;
  d.showModal();
}

async function submitAdd(ev) {
  if (ev.submitter?.value !== 'ok') return;
  ev.preventDefault();
  const form = $('#add-form');
  const f = new FormData(form);
  const body = {
    name: f.get('name'),
    description: f.get('description'),
    environment: f.get('environment'),
    scopes: String(f.get('scopes') || '').split(/\s+/).filter(Boolean),
  };
  const exp = f.get('expires_at');
  if (exp) body.expires_at = Math.floor(new Date(exp).getTime() / 1000);
  try {
    const created = await api('POST', '/secrets', body);
    form.hidden = true;
    $('#new-client-id').textContent = created.secret.client_id;
    $('#new-value').textContent = created.value;
    $('#add-result').hidden = false;
    $('#copy-value').onclick = () => copy(created.value, 'Secret value');
    loadSecrets();
  } catch (e) { showError($('.error', form), e); }
}

function closeAdd() {
  // Forget the value as soon as the dialog closes.
  $('#new-value').textContent = '';
  $('#dlg-add').close();
}

// ---------------------------------------------------------------- credentials

async function loadCredentials() {
  const err = $('#credentials-error');
  err.hidden = true;
  const q = $('#cred-search').value.trim();
  let items;
  try {
    ({ items } = await api('GET', `/credentials${q ? `?search=${enc(q)}` : ''}`));
  } catch (e) { showError(err, e); return; }
  $('#credentials-table tbody').replaceChildren(...items.map(credentialRow));
  $('#credentials-empty').hidden = items.length > 0;
}

function credentialRow(c) {
  const act2 = async (path, done) => {
    try { await api('POST', path); toast(done); } catch (e) { showError($('#credentials-error'), e); }
    loadCredentials();
  };
  const actions = canChange() ? [
    el('button', { type: 'button', class: 'btn small', dataset: { action: 'replace' }, onclick: () => openCredential(c) }, 'Replace value'),
    c.active
      ? el('button', { type: 'button', class: 'btn small', dataset: { action: 'deactivate' }, onclick: () => act2(`/credentials/${enc(c.id)}/deactivate`, 'Deactivated') }, 'Deactivate')
      : el('button', { type: 'button', class: 'btn small', dataset: { action: 'activate' }, disabled: c.status === 'expired', onclick: () => act2(`/credentials/${enc(c.id)}/activate`, 'Activated') }, 'Activate'),
  ] : [];
  const del = canChange() ? el('button', { type: 'button', class: 'btn small danger', dataset: { action: 'delete' }, onclick: () => openConfirm({
    title: `Delete ${c.name}?`,
    text: `Deleting the credential “${c.name}” is permanent. Routes that inject it stop getting a value.`,
    button: 'Delete credential',
    ok: async () => { await api('DELETE', `/credentials/${enc(c.id)}`); toast('Deleted'); loadCredentials(); },
  }) }, 'Delete') : null;
  return el('tr', { dataset: { id: c.id, name: c.name } },
    el('td', {}, el('div', { class: 'name' }, c.name), c.description ? el('div', { class: 'desc muted' }, c.description) : null),
    el('td', {}, c.token_type), el('td', {}, c.issuer || '—'), el('td', {}, statusPill(c.status)),
    el('td', {}, `v${c.version}`), el('td', {}, el('code', {}, c.fingerprint)), el('td', { class: 'nowrap' }, fmtTime(c.updated_at)),
    el('td', { class: 'actions' }, actions, el('button', { type: 'button', class: 'btn small', dataset: { action: 'history' }, onclick: () => openHistory('credentials', c) }, 'History'), del));
}

let replacing = null;
function openCredential(existing) {
  replacing = existing || null;
  const d = $('#dlg-credential');
  const form = $('#cred-form');
  form.reset();
  $('.error', form).hidden = true;
  $('#cred-title').textContent = existing ? `Replace the value of ${existing.name}` : 'Store credential';
  for (const l of form.querySelectorAll('.cred-new')) l.hidden = !!existing;
  form.elements.name.required = !existing;
  d.showModal();
}

async function submitCredential(ev) {
  if (ev.submitter?.value !== 'ok') return;
  ev.preventDefault();
  const form = $('#cred-form');
  const f = new FormData(form);
  try {
    if (replacing) {
      await api('PUT', `/credentials/${enc(replacing.id)}/value`, { value: f.get('value') });
      toast('Value replaced');
    } else {
      await api('POST', '/credentials', {
        name: f.get('name'), value: f.get('value'), token_type: f.get('token_type'),
        issuer: f.get('issuer'), description: f.get('description'),
      });
      toast('Credential stored');
    }
    form.reset();
    $('#dlg-credential').close();
    loadCredentials();
  } catch (e) { showError($('.error', form), e); }
}

// ---------------------------------------------------------------- audit

let auditAfter = null;
async function loadAudit(fresh) {
  const body = $('#audit-table tbody');
  if (fresh) { body.replaceChildren(); auditAfter = null; }
  const kind = $('#audit-kind').value;
  const params = new URLSearchParams({ limit: '100' });
  if (kind) params.set('kind', kind);
  if (auditAfter !== null) params.set('after', String(auditAfter));
  try {
    const page = await api('GET', `/audit?${params}`);
    for (const e of page.entries) {
      body.append(el('tr', {},
        el('td', {}, e.seq), el('td', { class: 'nowrap' }, fmtTime(e.at)), el('td', {}, e.actor),
        el('td', {}, el('span', { class: 'action' }, e.action)), el('td', {}, e.kind.replace('_', ' ')),
        el('td', {}, e.subject_name, el('div', { class: 'muted small' }, e.subject_id)),
        el('td', {}, el('ul', { class: 'changes' }, e.changes.map((c) => el('li', {}, describeChange(c)))))));
    }
    auditAfter = page.next_after;
    $('#audit-more').hidden = page.next_after === null;
  } catch (e) {
    body.append(el('tr', {}, el('td', { colspan: '7', class: 'error' }, e.message)));
  }
}

// ---------------------------------------------------------------- wiring

$('#signin-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const err = $('#signin-error');
  err.hidden = true;
  try {
    await signIn($('#token').value.trim());
    $('#token').value = '';
  } catch (e) {
    session.token = null;
    showError(err, e.status === 401 ? 'That token is not valid (unknown or revoked).' : e);
  }
});
$('#sign-out').addEventListener('click', signOut);
for (const b of document.querySelectorAll('.tab')) b.addEventListener('click', () => show(b.dataset.tab));
$('#search').addEventListener('input', () => { clearTimeout(searchTimer); searchTimer = setTimeout(loadSecrets, 200); });
$('#cred-search').addEventListener('input', () => { clearTimeout(searchTimer); searchTimer = setTimeout(loadCredentials, 200); });
$('#add-secret').addEventListener('click', openAdd);
$('#add-form').addEventListener('submit', submitAdd);
$('#add-done').addEventListener('click', closeAdd);
$('#dlg-add').addEventListener('close', () => { $('#new-value').textContent = ''; });
$('#history-close').addEventListener('click', () => $('#dlg-history').close());
$('#add-credential').addEventListener('click', () => openCredential(null));
$('#cred-form').addEventListener('submit', submitCredential);
$('#audit-kind').addEventListener('change', () => loadAudit(true));
$('#audit-more').addEventListener('click', () => loadAudit(false));

if (session.token) {
  signIn(session.token).catch(() => { session.token = null; });
}
