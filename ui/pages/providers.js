// Providers and their keys: what is configured (secrets shown only as their last four
// characters), whether each serves (runtime status, circuit state, error rate, latency), and
// the edits: add a provider, add / edit / disable / delete a key, test a key against the
// provider. Every edit is a new configuration version, applied before the answer returns.

import {h, fill, field, fmt, pill} from '../lib/dom.js';
import {api} from '../lib/api.js';

const KINDS = ['openai', 'anthropic', 'azure', 'bedrock', 'vertex', 'gemini', 'cohere', 'mistral', 'groq',
  'ollama', 'openrouter', 'xai', 'cerebras', 'deepseek', 'together', 'fireworks', 'perplexity', 'vllm',
  'sglang', 'custom'];

function circuitPill(state) {
  if (!state) return pill('no traffic yet', '');
  return pill(`circuit ${state}`, state === 'closed' ? 'ok' : state === 'open' ? 'bad' : 'warn');
}

function list(v) {
  return v.split(',').map((s) => s.trim()).filter(Boolean);
}

function keyForm(provider, key, onSaved, ctx) {
  const name = h('input', {name: 'key_name', value: key ? key.name : '', required: true, autocomplete: 'off'});
  const value = h('input', {name: 'key_value', type: 'password', autocomplete: 'off',
    placeholder: key ? `unchanged (${key.value || 'none'})` : 'sk-… or env.VARIABLE', required: !key});
  const models = h('input', {name: 'key_models', value: key ? (key.models || []).join(', ') : '', placeholder: 'all models'});
  const weight = h('input', {name: 'key_weight', type: 'number', min: 0, step: 'any', value: key ? key.weight ?? 1 : 1});
  const error = h('p', {class: 'form-error', role: 'alert'});
  const form = h('form', {class: 'inline-form', 'aria-label': key ? `Edit key ${key.name}` : `Add a key to ${provider}`},
    field('Key name', name), field('Secret', value, key ? 'Leave empty to keep the stored secret.' : 'Stored encrypted; shown only as its last four characters.'),
    field('Models', models, 'Comma separated; empty allows every model.'), field('Weight', weight),
    h('div', {class: 'form-actions'}, h('button', {type: 'submit', class: 'primary'}, key ? 'Save key' : 'Add key'),
      h('button', {type: 'button', onclick: () => form.remove()}, 'Cancel')), error);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    const body = {name: name.value.trim(), models: list(models.value), weight: Number(weight.value)};
    if (value.value) body.value = value.value;
    else if (key) body.value = key.value;
    if (key && key.enabled === false) body.enabled = false;
    try {
      if (key) {
        await api(`/api/providers/${encodeURIComponent(provider)}/keys/${encodeURIComponent(key.id || key.name)}`, {method: 'PUT', body});
      } else {
        await api(`/api/providers/${encodeURIComponent(provider)}/keys`, {method: 'POST', body});
      }
      ctx.notify(`Key ${body.name} saved.`);
      onSaved();
    } catch (err) {
      error.textContent = `Not saved: ${err.message}`;
    }
  });
  return form;
}

function providerCard(p, health, reload, ctx) {
  const hp = health.providers.find((x) => x.name === p.name);
  const keyHealth = (k) => hp && hp.keys.find((x) => x.name === k.name);
  const slot = h('div', {class: 'form-slot'});
  const testResult = new Map();
  const enc = encodeURIComponent;

  async function test(k, out) {
    out.textContent = 'testing…';
    try {
      const r = await api(`/api/providers/${enc(p.name)}/keys/${enc(k.id || k.name)}/test`, {method: 'POST', body: {}});
      out.textContent = `works (${fmt.ms(r.latency_ms)}, ${r.models} models)`;
      out.className = 'test-result ok';
    } catch (e) {
      out.textContent = `failed: ${e.message}`;
      out.className = 'test-result bad';
    }
  }

  async function toggle(k) {
    const enabled = k.enabled === false;
    try {
      const body = {...k, enabled};
      delete body.id;
      await api(`/api/providers/${enc(p.name)}/keys/${enc(k.id || k.name)}`, {method: 'PUT', body});
      ctx.notify(`Key ${k.name} ${enabled ? 'enabled' : 'disabled'}.`);
      reload();
    } catch (e) {
      ctx.notify(`Key ${k.name} could not be ${enabled ? 'enabled' : 'disabled'}: ${e.message}`, 'error');
    }
  }

  async function remove(k) {
    if (!confirm(`Delete key ${k.name} of ${p.name}?`)) return;
    try {
      await api(`/api/providers/${enc(p.name)}/keys/${enc(k.id || k.name)}`, {method: 'DELETE'});
      ctx.notify(`Key ${k.name} deleted.`);
      reload();
    } catch (e) {
      ctx.notify(`Key ${k.name} could not be deleted: ${e.message}`, 'error');
    }
  }

  async function removeProvider() {
    if (!confirm(`Delete provider ${p.name} and its keys?`)) return;
    try {
      await api(`/api/providers/${enc(p.name)}`, {method: 'DELETE'});
      ctx.notify(`Provider ${p.name} deleted.`);
      reload();
    } catch (e) {
      ctx.notify(`Provider ${p.name} could not be deleted: ${e.message}`, 'error');
    }
  }

  const keys = (p.keys || []).map((k) => {
    const kh = keyHealth(k);
    const out = h('span', {class: 'test-result', 'aria-live': 'polite'}, testResult.get(k.name) || '');
    return h('tr', {'data-key': k.name},
      h('td', {}, k.name),
      h('td', {class: 'mono'}, k.value || '—'),
      h('td', {}, (k.models || []).length ? k.models.join(', ') : 'all'),
      h('td', {class: 'num'}, k.weight ?? 1),
      h('td', {}, k.enabled === false ? pill('disabled', 'warn') : pill('enabled', 'ok'), ' ',
        kh ? circuitPill(kh.state) : null, kh && kh.cooling_down ? pill('cooling down', 'warn') : null,
        kh && kh.error_rate ? h('span', {class: 'muted small'}, ` ${fmt.pct(kh.error_rate)} errors`) : null),
      h('td', {class: 'actions'},
        h('button', {type: 'button', onclick: () => test(k, out)}, 'Test'),
        h('button', {type: 'button', onclick: () => fill(slot, keyForm(p.name, k, reload, ctx))}, 'Edit'),
        h('button', {type: 'button', onclick: () => toggle(k)}, k.enabled === false ? 'Enable' : 'Disable'),
        h('button', {type: 'button', class: 'danger', onclick: () => remove(k)}, 'Delete'),
        out));
  });

  const baseUrl = p.network_config && p.network_config.base_url;
  return h('article', {class: 'panel provider', 'aria-labelledby': `prov-${p.name}`, 'data-provider': p.name},
    h('header', {class: 'panel-head'},
      h('h2', {id: `prov-${p.name}`}, p.name),
      h('span', {class: 'muted'}, p.type || p.name),
      p.status === 'active' ? pill('serving', 'ok') : pill(p.status, 'bad'),
      hp ? circuitPill(hp.state) : null,
      h('button', {type: 'button', class: 'danger push', onclick: removeProvider}, 'Delete provider')),
    p.unavailable_reason ? h('p', {class: 'form-error'}, p.unavailable_reason) : null,
    h('p', {class: 'muted small'},
      baseUrl ? `Base URL ${baseUrl}` : 'Default base URL',
      hp ? ` · latency ${fmt.ms(hp.latency_ewma_ms)} · ${fmt.pct(hp.error_rate)} errors · ${hp.in_flight} in flight · ${hp.queued} queued` : ''),
    h('div', {class: 'table-wrap'}, h('table', {},
      h('thead', {}, h('tr', {}, ['Key', 'Secret', 'Models', 'Weight', 'State', ''].map((c) => h('th', {scope: 'col'}, c)))),
      h('tbody', {}, keys.length ? keys : h('tr', {}, h('td', {colspan: 6, class: 'muted'}, 'No keys.'))))),
    h('button', {type: 'button', onclick: () => fill(slot, keyForm(p.name, null, reload, ctx))}, 'Add key'),
    slot);
}

function addProviderForm(reload, ctx) {
  const name = h('input', {name: 'provider_name', required: true, pattern: '[A-Za-z0-9_.-]+', autocomplete: 'off'});
  const kind = h('select', {name: 'provider_type'}, KINDS.map((k) => h('option', {value: k}, k)));
  const base = h('input', {name: 'base_url', type: 'url', placeholder: 'default for the type'});
  const keyName = h('input', {name: 'key_name', placeholder: '<provider>-key-0', autocomplete: 'off'});
  const keyValue = h('input', {name: 'key_value', type: 'password', autocomplete: 'off', placeholder: 'sk-… or env.VARIABLE'});
  const models = h('input', {name: 'models', placeholder: 'all models'});
  const error = h('p', {class: 'form-error', role: 'alert'});
  const form = h('form', {class: 'panel', 'aria-labelledby': 'add-provider-title'},
    h('h2', {id: 'add-provider-title'}, 'Add a provider'),
    h('div', {class: 'grid-form'},
      field('Name', name, 'Clients address models as name/model.'), field('Type', kind), field('Base URL', base),
      field('Key name', keyName), field('Key secret', keyValue), field('Models', models, 'Comma separated; empty allows every model.')),
    h('div', {class: 'form-actions'}, h('button', {type: 'submit', class: 'primary'}, 'Add provider')), error);
  name.addEventListener('input', () => {
    if (KINDS.includes(name.value.trim())) kind.value = name.value.trim();
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    const body = {provider: name.value.trim(), type: kind.value, keys: []};
    if (base.value.trim()) body.network_config = {base_url: base.value.trim()};
    if (keyValue.value) {
      const key = {value: keyValue.value, models: list(models.value), weight: 1};
      if (keyName.value.trim()) key.name = keyName.value.trim();
      body.keys.push(key);
    }
    try {
      await api('/api/providers', {method: 'POST', body});
      ctx.notify(`Provider ${body.provider} added.`);
      form.reset();
      reload();
    } catch (err) {
      error.textContent = `Not added: ${err.message}`;
    }
  });
  return form;
}

export async function render(root, ctx) {
  const listEl = h('div', {class: 'providers'});
  const addSlot = h('div', {});
  const addButton = h('button', {type: 'button', class: 'primary', 'aria-expanded': 'false'}, 'Add provider');
  fill(root, h('div', {class: 'page-head'}, h('h1', {id: 'page-title'}, 'Providers and keys'),
    h('div', {class: 'controls'}, addButton)), addSlot, listEl);

  async function reload() {
    try {
      const [ps, health] = await Promise.all([api('/api/providers'), api('/api/providers/health')]);
      fill(listEl, ps.providers.length ? ps.providers.map((p) => providerCard(p, health, reload, ctx))
        : h('p', {class: 'panel muted'}, 'No providers yet. Add one to start serving requests.'));
    } catch (e) {
      if (e.status === 401) return;
      fill(listEl, h('p', {class: 'panel error', role: 'alert'}, `Providers could not load: ${e.message}`));
    }
  }
  addButton.addEventListener('click', () => {
    const open = addSlot.childElementCount === 0;
    fill(addSlot, open ? addProviderForm(async () => { fill(addSlot); addButton.setAttribute('aria-expanded', 'false'); await reload(); }, ctx) : null);
    addButton.setAttribute('aria-expanded', String(open));
    if (open) addSlot.querySelector('input').focus();
  });
  await reload();
  // Health moves on its own; refresh it unless the user is in the middle of an edit.
  const timer = setInterval(() => {
    if (!root.querySelector('form')) reload();
  }, 10000);
  return () => clearInterval(timer);
}
