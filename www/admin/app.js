// The embedgate admin console: talks only to /api/v1, with the admin token
// from session storage. Every piece of data goes into the page as text,
// never as HTML. No secret value is ever shown, except the one-time value
// in the answer to creating a secret or an admin token.
import { api, session, enc, events, ApiError, openApi, patchFields } from './api.js';
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

// A table cell that names its column, for the narrow layout (one card per
// row, each value beside its column's name; style.css). The content sits in
// one wrapper so that it stays one grid item there.
const td = (label, attrs, ...children) =>
  el('td', { ...attrs, dataset: { ...attrs.dataset, label } }, el('div', { class: 'cell' }, ...children));
const btn = (action, text, onclick, extra = {}) =>
  el('button', { type: 'button', class: `btn small${extra.danger ? ' danger' : ''}`, dataset: { action }, onclick, disabled: extra.disabled, title: extra.title }, text);

const fmtTime = (t) => (t ? new Date(t * 1000).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }) : '—');
// "5 min ago", with the exact time on hover: short enough for a column.
function ago(t) {
  if (!t) return el('span', { class: 'muted' }, 'never');
  const s = Math.max(0, Date.now() / 1000 - t);
  const text = s < 60 ? 'just now'
    : s < 3600 ? `${Math.floor(s / 60)} min ago`
      : s < 86400 ? `${Math.floor(s / 3600)} h ago`
        : s < 30 * 86400 ? `${Math.floor(s / 86400)} d ago`
          : new Date(t * 1000).toLocaleDateString(undefined, { dateStyle: 'medium' });
  return el('span', { title: fmtTime(t) }, text);
}
const canChange = () => session.role === 'admin' || session.role === 'owner';
const isOwner = () => session.role === 'owner';

// `datetime-local` works in local time without seconds.
function toLocalInput(t) {
  if (!t) return '';
  const d = new Date(t * 1000);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}
const fromLocalInput = (s) => (s ? Math.floor(new Date(s).getTime() / 1000) : null);
const splitScopes = (s) => String(s || '').split(/\s+/).filter(Boolean);

// The status pill, and under it when the item expires (or expired).
function statusCell(item) {
  const left = item.expires_at ? item.expires_at - Date.now() / 1000 : null;
  const soon = left !== null && left > 0 && left < 7 * 86400;
  const when = item.expires_at
    ? el('span', { class: soon ? 'soon' : undefined, title: soon ? 'expires within 7 days' : undefined, dataset: { testid: 'expires' } }, fmtTime(item.expires_at))
    : el('span', { dataset: { testid: 'expires' } }, 'no expiry');
  const verb = left === null ? null : left <= 0 ? 'expired ' : 'expires ';
  return [statusPill(item.status), el('div', { class: 'expiry small muted' }, verb, when)];
}

function toast(text) {
  const t = $('#toast');
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 2500);
}

function showError(node, err) {
  if (err instanceof ApiError && err.status === 403) {
    node.textContent = `Not allowed: ${err.message} (forbidden)`;
  } else {
    node.textContent = err instanceof ApiError ? `${err.message}${err.code ? ` (${err.code})` : ''}` : String(err?.message || err);
  }
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

// The PATCH fields the running API documents, per kind (see patchFields).
const DEFAULT_FIELDS = {
  secrets: new Set(['name', 'description', 'environment', 'scopes', 'expires_at']),
  credentials: new Set(['name', 'description', 'token_type', 'issuer', 'scopes', 'expires_at']),
};
const caps = { secrets: DEFAULT_FIELDS.secrets, credentials: DEFAULT_FIELDS.credentials };

async function signIn(token) {
  session.token = token;
  await api('GET', '/secrets');
  const doc = await openApi();
  for (const kind of ['secrets', 'credentials']) {
    const fields = patchFields(doc, `/${kind}/{id}`);
    caps[kind] = fields.size ? fields : DEFAULT_FIELDS[kind];
  }
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

// The token was revoked (possibly by this very session) or is unknown:
// back to the sign-in form, saying why.
events.addEventListener('unauthorized', () => {
  if ($('#signin').hidden === false) return; // signing in: the form says it
  session.token = null;
  session.role = null;
  for (const d of document.querySelectorAll('dialog[open]')) d.close();
  for (const v of document.querySelectorAll('.view')) v.hidden = true;
  $('#tabs').hidden = true;
  $('#who').hidden = true;
  $('#signin').hidden = false;
  showError($('#signin-error'), 'Signed out: the API no longer accepts this token (revoked or unknown). Sign in with another token.');
});

// ---------------------------------------------------------------- tabs

const VIEWS = ['secrets', 'credentials', 'tokens', 'audit'];
function show(tab) {
  if (tab === 'tokens' && !isOwner()) tab = 'secrets';
  for (const b of document.querySelectorAll('.tab')) {
    if (b.dataset.tab === tab) b.setAttribute('aria-current', 'page'); else b.removeAttribute('aria-current');
  }
  for (const v of VIEWS) $(`#view-${v}`).hidden = v !== tab;
  for (const b of document.querySelectorAll('[data-role="admin"]')) b.hidden = !canChange();
  for (const b of document.querySelectorAll('[data-role="owner"]')) b.hidden = !isOwner();
  if (tab === 'secrets') loadSecrets();
  if (tab === 'credentials') loadCredentials();
  if (tab === 'tokens') loadTokens();
  if (tab === 'audit') loadAudit(true);
}

// ---------------------------------------------------------------- dialogs

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
        td('#', {}, e.seq), td('When', { class: 'nowrap' }, fmtTime(e.at)), td('Actor', {}, e.actor),
        td('Action', {}, el('span', { class: 'action' }, e.action)),
        td('Changes', {}, el('ul', { class: 'changes' }, e.changes.map((c) => el('li', {}, describeChange(c)))))));
    }
  } catch (e) {
    body.append(el('tr', {}, el('td', { colspan: '5', class: 'error' }, e.message)));
  }
}

// ---------------------------------------------------------------- edit (secrets and credentials)

// The metadata dialog: name, description, environment (secrets), type and
// issuer (credentials), owner (when the API documents it as settable),
// expiry and scopes. Only the fields that changed are sent.
let editing = null;

function editValues(form) {
  const f = new FormData(form);
  return {
    name: f.get('name'),
    description: f.get('description'),
    environment: f.get('environment'),
    token_type: f.get('token_type'),
    issuer: f.get('issuer'),
    owner: f.get('owner'),
    expires_at: f.get('expires_at'),
    scopes: splitScopes(f.get('scopes')).join(' '),
  };
}

function openEdit(kind, item, reload) {
  const form = $('#edit-form');
  form.reset();
  $('.error', form).hidden = true;
  $('#edit-title').textContent = `Edit ${item.name}`;
  for (const l of form.querySelectorAll('[data-kind]')) l.hidden = l.dataset.kind !== kind;
  const ownerSettable = caps[kind].has('owner');
  $('#edit-owner-field').hidden = !ownerSettable;
  $('#edit-owner-static').hidden = ownerSettable;
  $('#edit-owner-text').textContent = item.owner || '—';
  const e = form.elements;
  e.name.value = item.name;
  e.description.value = item.description ?? '';
  e.environment.value = item.environment ?? '';
  if (item.token_type) e.token_type.value = item.token_type;
  e.issuer.value = item.issuer ?? '';
  e.owner.value = item.owner ?? '';
  e.expires_at.value = toLocalInput(item.expires_at);
  e.scopes.value = (item.scopes ?? []).join(' ');
  $('#edit-scopes-hint').textContent = kind === 'secrets'
    ? 'path prefixes this secret may sign, space-separated; empty: any path'
    : 'space-separated; empty: none';
  editing = { kind, item, reload, initial: editValues(form) };
  $('#dlg-edit').showModal();
}

async function submitEdit(ev) {
  if (ev.submitter?.value !== 'ok') return;
  ev.preventDefault();
  const form = $('#edit-form');
  const { kind, item, reload, initial } = editing;
  const now = editValues(form);
  const body = {};
  for (const field of caps[kind]) {
    if (!(field in now) || now[field] === initial[field]) continue;
    if (field === 'environment' && kind !== 'secrets') continue;
    if ((field === 'token_type' || field === 'issuer') && kind !== 'credentials') continue;
    if (field === 'expires_at') body.expires_at = fromLocalInput(now.expires_at);
    else if (field === 'scopes') body.scopes = splitScopes(now.scopes);
    else body[field] = now[field];
  }
  if (Object.keys(body).length === 0) {
    $('#dlg-edit').close();
    toast('Nothing changed');
    return;
  }
  try {
    await api('PATCH', `/${kind}/${enc(item.id)}`, body);
    $('#dlg-edit').close();
    toast('Saved');
    reload();
  } catch (e) { showError($('.error', form), e); }
}

// ---------------------------------------------------------------- secrets

// Lists come a page at a time (the API's default page, `next_cursor` for
// the next): a fresh load replaces the table, "Load more" appends.
function pagePath(path, query, cursor) {
  const params = new URLSearchParams();
  if (query) params.set('search', query);
  if (cursor) params.set('cursor', cursor);
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

let searchTimer;
let secretsCursor = null;
async function loadSecrets(more = false) {
  const err = $('#secrets-error');
  err.hidden = true;
  const q = $('#search').value.trim();
  let items;
  let next;
  try {
    ({ items, next_cursor: next } = await api('GET', pagePath('/secrets', q, more ? secretsCursor : null)));
  } catch (e) { showError(err, e); return; }
  secretsCursor = next ?? null;
  $('#secrets-more').hidden = secretsCursor === null;
  const body = $('#secrets-table tbody');
  if (more) body.append(...items.map(secretRow));
  else body.replaceChildren(...items.map(secretRow));
  $('#secrets-empty').hidden = body.children.length > 0;
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
    btn('edit', 'Edit', () => openEdit('secrets', s, loadSecrets)),
    s.active
      ? btn('deactivate', 'Deactivate', () => act(`/secrets/${enc(s.id)}/deactivate`, 'Deactivated'))
      : btn('activate', 'Activate', () => act(`/secrets/${enc(s.id)}/activate`, 'Activated'),
        { disabled: s.status === 'expired', title: s.status === 'expired' ? 'An expired secret cannot be reactivated' : undefined }),
  ] : [];
  const history = btn('history', 'History', () => openHistory('secrets', s));
  const del = canChange() ? btn('delete', 'Delete', () => openConfirm({
    title: `Delete ${s.name}?`,
    text: `Deleting “${s.name}” (${s.client_id}) is permanent. Every URL and every session signed with it will get 403 from the proxy at once.`,
    button: 'Delete secret',
    ok: async () => { await api('DELETE', `/secrets/${enc(s.id)}`); toast('Deleted'); loadSecrets(); },
  }), { danger: true }) : null;
  const scopes = (s.scopes ?? []).length ? el('div', { class: 'desc muted', title: 'scopes' }, `scopes: ${s.scopes.join(' ')}`) : null;
  return el('tr', { dataset: { id: s.id, name: s.name } },
    td('Name', { class: 'cell-name' }, el('div', { class: 'name' }, s.name), s.description ? el('div', { class: 'desc muted' }, s.description) : null, scopes),
    td('Client id', {}, el('span', { class: 'kid' }, el('code', {}, s.client_id),
      el('button', { type: 'button', class: 'icon-btn', title: 'Copy client id', 'aria-label': `Copy client id of ${s.name}`, onclick: () => copy(s.client_id, 'Client id') }, 'Copy'))),
    td('Environment', { dataset: { testid: 'environment' } }, s.environment ? el('span', { class: 'env' }, s.environment) : el('span', { class: 'muted' }, '—')),
    td('Owner', { dataset: { testid: 'owner' } }, s.owner || '—'),
    td('Status', {}, statusCell(s)),
    td('Last used', { class: 'nowrap' }, ago(s.last_used_at)),
    td('Verifications, 24 h', { class: 'usage' }, el('span', { class: 'muted small' }, '…')),
    td('Actions', { class: 'actions' }, actions, history, del));
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
    scopes: splitScopes(f.get('scopes')),
  };
  const exp = fromLocalInput(f.get('expires_at'));
  if (exp !== null) body.expires_at = exp;
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

let credentialsCursor = null;
async function loadCredentials(more = false) {
  const err = $('#credentials-error');
  err.hidden = true;
  const q = $('#cred-search').value.trim();
  let items;
  let next;
  try {
    ({ items, next_cursor: next } = await api('GET', pagePath('/credentials', q, more ? credentialsCursor : null)));
  } catch (e) { showError(err, e); return; }
  credentialsCursor = next ?? null;
  $('#credentials-more').hidden = credentialsCursor === null;
  const body = $('#credentials-table tbody');
  if (more) body.append(...items.map(credentialRow));
  else body.replaceChildren(...items.map(credentialRow));
  $('#credentials-empty').hidden = body.children.length > 0;
}

function credentialRow(c) {
  const act2 = async (path, done) => {
    try { await api('POST', path); toast(done); } catch (e) { showError($('#credentials-error'), e); }
    loadCredentials();
  };
  const actions = canChange() ? [
    btn('edit', 'Edit', () => openEdit('credentials', c, loadCredentials)),
    btn('replace', 'Replace value', () => openCredential(c)),
    c.active
      ? btn('deactivate', 'Deactivate', () => act2(`/credentials/${enc(c.id)}/deactivate`, 'Deactivated'))
      : btn('activate', 'Activate', () => act2(`/credentials/${enc(c.id)}/activate`, 'Activated'), { disabled: c.status === 'expired' }),
  ] : [];
  const del = canChange() ? btn('delete', 'Delete', () => openConfirm({
    title: `Delete ${c.name}?`,
    text: `Deleting the credential “${c.name}” is permanent. Routes that inject it stop getting a value.`,
    button: 'Delete credential',
    ok: async () => { await api('DELETE', `/credentials/${enc(c.id)}`); toast('Deleted'); loadCredentials(); },
  }), { danger: true }) : null;
  return el('tr', { dataset: { id: c.id, name: c.name } },
    td('Name', { class: 'cell-name' }, el('div', { class: 'name' }, c.name), c.description ? el('div', { class: 'desc muted' }, c.description) : null),
    td('Type', {}, c.token_type), td('Issuer', {}, c.issuer || '—'),
    td('Owner', { dataset: { testid: 'owner' } }, c.owner || '—'), td('Status', {}, statusCell(c)),
    td('Version', {}, `v${c.version}`), td('Fingerprint', {}, el('code', {}, c.fingerprint)),
    td('Updated', { class: 'nowrap' }, fmtTime(c.updated_at)),
    td('Actions', { class: 'actions' }, actions, btn('history', 'History', () => openHistory('credentials', c)), del));
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
  // A new value takes the expiry sent with it (none when empty), so the
  // current one is filled in rather than silently dropped.
  form.elements.expires_at.value = toLocalInput(existing?.expires_at);
  $('#cred-expiry-hint').textContent = existing
    ? 'the new value expires then; empty: never (the current expiry is filled in)'
    : 'optional; leave empty for no expiry';
  d.showModal();
}

async function submitCredential(ev) {
  if (ev.submitter?.value !== 'ok') return;
  ev.preventDefault();
  const form = $('#cred-form');
  const f = new FormData(form);
  const exp = fromLocalInput(f.get('expires_at'));
  try {
    if (replacing) {
      const body = { value: f.get('value') };
      if (exp !== null) body.expires_at = exp;
      await api('PUT', `/credentials/${enc(replacing.id)}/value`, body);
      toast('Value replaced');
    } else {
      const body = {
        name: f.get('name'), value: f.get('value'), token_type: f.get('token_type'),
        issuer: f.get('issuer'), description: f.get('description'),
      };
      if (exp !== null) body.expires_at = exp;
      await api('POST', '/credentials', body);
      toast('Credential stored');
    }
    form.reset();
    $('#dlg-credential').close();
    loadCredentials();
  } catch (e) { showError($('.error', form), e); }
}

// ---------------------------------------------------------------- admin tokens (owner only)

async function loadTokens() {
  const err = $('#tokens-error');
  err.hidden = true;
  // Admin tokens are few: every page, followed to the end.
  const items = [];
  try {
    let cursor = null;
    do {
      const page = await api('GET', pagePath('/tokens', '', cursor));
      items.push(...page.items);
      cursor = page.next_cursor ?? null;
    } while (cursor !== null);
  } catch (e) { showError(err, e); return; }
  $('#tokens-table tbody').replaceChildren(...items.map(tokenRow));
}

function tokenRow(t) {
  const mine = t.name === session.name;
  const revoke = btn('revoke', 'Revoke', () => openConfirm({
    title: `Revoke ${t.name}?`,
    text: `Revoking “${t.name}” (${t.role}) takes effect at once: every request made with it gets 401.${mine ? ' It is the token this console is signed in with: you will be signed out.' : ''}`,
    button: 'Revoke token',
    ok: async () => { await api('DELETE', `/tokens/${enc(t.id)}`); toast('Revoked'); loadTokens(); },
  }), { danger: true });
  return el('tr', { dataset: { id: t.id, name: t.name } },
    td('Name', { class: 'cell-name' }, el('span', { class: 'name' }, t.name), mine ? el('span', { class: 'tag' }, 'this session') : null),
    td('Role', {}, el('span', { class: `badge light role-${t.role}`, dataset: { testid: 'role' } }, t.role)),
    td('Created by', {}, t.created_by || '—'),
    td('Created', { class: 'nowrap' }, fmtTime(t.created_at)),
    td('Last used', { class: 'nowrap' }, ago(t.last_used_at)),
    td('Actions', { class: 'actions' }, revoke));
}

function openToken() {
  const form = $('#token-form');
  form.reset();
  form.hidden = false;
  $('.error', form).hidden = true;
  $('#token-result').hidden = true;
  $('#dlg-token').showModal();
}

async function submitToken(ev) {
  if (ev.submitter?.value !== 'ok') return;
  ev.preventDefault();
  const form = $('#token-form');
  const f = new FormData(form);
  try {
    const created = await api('POST', '/tokens', { name: f.get('name'), role: f.get('role') });
    form.hidden = true;
    $('#new-token-name').textContent = created.token.name;
    $('#new-token-role').textContent = created.token.role;
    $('#new-token-value').textContent = created.value;
    $('#copy-token').onclick = () => copy(created.value, 'Token');
    $('#token-result').hidden = false;
    loadTokens();
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
        td('#', {}, e.seq), td('When', { class: 'nowrap' }, fmtTime(e.at)), td('Actor', {}, e.actor),
        td('Action', {}, el('span', { class: 'action' }, e.action)), td('Kind', {}, e.kind.replace('_', ' ')),
        td('Subject', {}, e.subject_name, el('div', { class: 'muted small' }, e.subject_id)),
        td('Changes', {}, el('ul', { class: 'changes' }, e.changes.map((c) => el('li', {}, describeChange(c)))))));
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
$('#edit-form').addEventListener('submit', submitEdit);
$('#edit-no-expiry').addEventListener('click', () => { $('#edit-expires').value = ''; });
$('#history-close').addEventListener('click', () => $('#dlg-history').close());
$('#add-credential').addEventListener('click', () => openCredential(null));
$('#cred-form').addEventListener('submit', submitCredential);
$('#add-token').addEventListener('click', openToken);
$('#token-form').addEventListener('submit', submitToken);
$('#token-done').addEventListener('click', () => {
  $('#new-token-value').textContent = '';
  $('#dlg-token').close();
});
// Forget the token as soon as the dialog closes, however it closes.
$('#dlg-token').addEventListener('close', () => { $('#new-token-value').textContent = ''; });
$('#audit-kind').addEventListener('change', () => loadAudit(true));
$('#audit-more').addEventListener('click', () => loadAudit(false));
$('#secrets-more').addEventListener('click', () => loadSecrets(true));
$('#credentials-more').addEventListener('click', () => loadCredentials(true));

if (session.token) {
  signIn(session.token).catch(() => { session.token = null; });
}
