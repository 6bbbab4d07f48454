// Virtual keys, teams and customers: who may call, how much they may spend and how fast. Each
// budget and rate limit is shown with the live counters enforcement uses (the same numbers
// that refuse a request), as usage bars; a new key's value is shown once, as the API gives it.

import {h, fill, field, table, meter, fmt, pill} from '../lib/dom.js';
import {api} from '../lib/api.js';

const DURATIONS = ['1m', '1h', '1d', '1w', '1M'];
const enc = encodeURIComponent;

function budgetMeter(b) {
  if (!b) return h('span', {class: 'muted'}, 'no budget');
  const resets = b.period_end_ms ? `, resets ${fmt.time(b.period_end_ms)}` : '';
  return [meter(`Budget (${b.reset_duration || 'never resets'}${resets})`, b.current_usage || 0, b.max_limit, fmt.usd),
    b.reserved ? h('small', {class: 'muted'}, `${fmt.usd(b.reserved)} reserved by requests in flight`) : null];
}

function rateMeters(r) {
  if (!r) return h('span', {class: 'muted'}, 'no rate limit');
  const out = [];
  if (r.request_max_limit) {
    out.push(meter(`Requests per ${r.request_reset_duration}`, r.request_current_usage || 0, r.request_max_limit, fmt.int));
  }
  if (r.token_max_limit) {
    out.push(meter(`Tokens per ${r.token_reset_duration}`, r.token_current_usage || 0, r.token_max_limit, fmt.int));
  }
  if (r.max_in_flight) out.push(h('small', {class: 'muted'}, `at most ${r.max_in_flight} in flight`));
  return out.length ? out : h('span', {class: 'muted'}, 'no rate limit');
}

function limitFields() {
  const budget = h('input', {name: 'budget_max', type: 'number', min: 0, step: 'any', placeholder: 'none'});
  const budgetReset = h('select', {name: 'budget_reset'}, DURATIONS.map((d) => h('option', {value: d}, d)));
  budgetReset.value = '1M';
  const requests = h('input', {name: 'request_max', type: 'number', min: 1, step: 1, placeholder: 'none'});
  const requestWindow = h('select', {name: 'request_window'}, DURATIONS.slice(0, 3).map((d) => h('option', {value: d}, d)));
  const tokens = h('input', {name: 'token_max', type: 'number', min: 1, step: 1, placeholder: 'none'});
  const tokenWindow = h('select', {name: 'token_window'}, DURATIONS.slice(0, 3).map((d) => h('option', {value: d}, d)));
  tokenWindow.value = '1h';
  return {
    fields: [field('Budget (USD)', budget), field('Budget resets every', budgetReset),
      field('Requests', requests), field('per', requestWindow), field('Tokens', tokens), field('per', tokenWindow)],
    apply(body) {
      if (budget.value) body.budget = {max_limit: Number(budget.value), reset_duration: budgetReset.value};
      const rl = {};
      if (requests.value) Object.assign(rl, {request_max_limit: Number(requests.value), request_reset_duration: requestWindow.value});
      if (tokens.value) Object.assign(rl, {token_max_limit: Number(tokens.value), token_reset_duration: tokenWindow.value});
      if (Object.keys(rl).length) body.rate_limit = rl;
    },
  };
}

function createForm(kind, data, onDone, ctx) {
  const name = h('input', {name: 'name', required: true, autocomplete: 'off'});
  const limits = limitFields();
  const extra = [];
  const team = h('select', {name: 'team_id'}, h('option', {value: ''}, 'none'), data.teams.map((t) => h('option', {value: t.id}, t.name || t.id)));
  const customer = h('select', {name: 'customer_id'}, h('option', {value: ''}, 'none'), data.customers.map((c) => h('option', {value: c.id}, c.name || c.id)));
  const providers = data.providers.map((p) => h('input', {type: 'checkbox', name: 'provider', value: p.name, checked: true}));
  if (kind === 'virtual-keys') {
    extra.push(field('Team', team), field('Customer', customer, 'A key belongs to a team or a customer, not both.'));
    extra.push(h('fieldset', {class: 'field wide'}, h('legend', {}, 'Providers it may use (every model)'),
      providers.length ? providers.map((c, i) => h('label', {class: 'check'}, c, ` ${data.providers[i].name}`)) : h('span', {class: 'muted'}, 'No providers configured.')));
  } else if (kind === 'teams') {
    extra.push(field('Customer', customer));
  }
  const error = h('p', {class: 'form-error', role: 'alert'});
  const result = h('div', {'aria-live': 'polite'});
  const label = {'virtual-keys': 'virtual key', teams: 'team', customers: 'customer'}[kind];
  const form = h('form', {class: 'panel', 'aria-labelledby': `new-${kind}`},
    h('h2', {id: `new-${kind}`}, `New ${label}`),
    h('div', {class: 'grid-form'}, field('Name', name), extra, limits.fields),
    h('div', {class: 'form-actions'}, h('button', {type: 'submit', class: 'primary'}, `Create ${label}`),
      h('button', {type: 'button', onclick: () => onDone(false)}, 'Cancel')), error, result);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    const body = {name: name.value.trim()};
    if (kind === 'virtual-keys') {
      if (team.value) body.team_id = team.value;
      if (customer.value) body.customer_id = customer.value;
      body.provider_configs = providers.filter((c) => c.checked).map((c) => ({provider: c.value, allowed_models: ['*']}));
    } else if (kind === 'teams' && customer.value) {
      body.customer_id = customer.value;
    }
    limits.apply(body);
    try {
      const r = await api(`/api/governance/${kind}`, {method: 'POST', body});
      ctx.notify(r.message || `${label} created.`);
      const vk = r.virtual_key;
      if (vk && vk.value) {
        fill(form, h('h2', {id: `new-${kind}`}, `Virtual key ${vk.name} created`),
          h('p', {}, 'Copy the key now: it is shown this once, only its hash is stored.'),
          h('p', {}, h('code', {class: 'secret-once', tabindex: 0}, vk.value)),
          h('button', {type: 'button', class: 'primary', onclick: () => onDone(true)}, 'Done'));
        form.querySelector('code').focus();
      } else {
        onDone(true);
      }
    } catch (err) {
      error.textContent = `Not created: ${err.message}`;
    }
  });
  return form;
}

function section(title, kind, rows, columns, onNew) {
  return h('section', {class: 'gov-section', 'aria-labelledby': `sec-${kind}`},
    h('div', {class: 'section-head'}, h('h2', {id: `sec-${kind}`}, title),
      h('button', {type: 'button', onclick: onNew}, `New ${title.toLowerCase().replace(/s$/, '')}`)),
    table(columns, rows, {empty: `No ${title.toLowerCase()} yet.`, class: 'gov', rowAttrs: (r) => ({'data-id': r.id})}));
}

export async function render(root, ctx) {
  const slot = h('div', {});
  const body = h('div', {});
  fill(root, h('div', {class: 'page-head'}, h('h1', {id: 'page-title'}, 'Virtual keys, teams and customers')), slot, body);
  let data = null;

  async function act(label, fn) {
    try {
      await fn();
      ctx.notify(label);
      await reload();
    } catch (e) {
      ctx.notify(`${label} failed: ${e.message}`, 'error');
    }
  }

  function open(kind) {
    fill(slot, createForm(kind, data, async (changed) => {
      fill(slot);
      if (changed) await reload();
    }, ctx));
    slot.querySelector('input').focus();
  }

  async function reload() {
    try {
      const [vks, teams, customers, providers] = await Promise.all([
        api('/api/governance/virtual-keys'), api('/api/governance/teams'),
        api('/api/governance/customers'), api('/api/providers')]);
      data = {teams: teams.teams, customers: customers.customers, providers: providers.providers};
      const owner = (r) => r.team_id ? `team ${r.team_id}` : r.customer_id ? `customer ${r.customer_id}` : '—';
      fill(body,
        section('Virtual keys', 'virtual-keys', vks.virtual_keys, [
          ['Name', (r) => [h('strong', {}, r.name || r.id), h('div', {class: 'muted small mono'}, r.id, ' · ', r.value_preview || '')]],
          ['Belongs to', owner],
          ['Providers', (r) => (r.provider_configs || []).map((p) => `${p.provider} (${(p.allowed_models || []).join(', ') || 'no models'})`).join('; ') || 'none'],
          ['Budget', (r) => budgetMeter(r.budget)],
          ['Rate limit', (r) => rateMeters(r.rate_limit)],
          ['State', (r) => (r.is_active === false ? pill('inactive', 'bad') : pill('active', 'ok'))],
          ['', (r) => h('div', {class: 'actions'},
            h('button', {type: 'button', onclick: () => act(`Virtual key ${r.name} ${r.is_active === false ? 'activated' : 'deactivated'}`,
              () => api(`/api/governance/virtual-keys/${enc(r.id)}`, {method: 'PUT', body: {is_active: r.is_active === false}}))},
            r.is_active === false ? 'Activate' : 'Deactivate'),
            h('button', {type: 'button', class: 'danger', onclick: () => confirm(`Delete virtual key ${r.name}?`) &&
              act(`Virtual key ${r.name} deleted`, () => api(`/api/governance/virtual-keys/${enc(r.id)}`, {method: 'DELETE'}))}, 'Delete'))],
        ], () => open('virtual-keys')),
        section('Teams', 'teams', teams.teams, [
          ['Name', (r) => [h('strong', {}, r.name || r.id), h('div', {class: 'muted small mono'}, r.id)]],
          ['Customer', (r) => r.customer_id || '—'],
          ['Budget', (r) => budgetMeter(r.budget)],
          ['Rate limit', (r) => rateMeters(r.rate_limit)],
          ['', (r) => h('button', {type: 'button', class: 'danger', onclick: () => confirm(`Delete team ${r.name}?`) &&
            act(`Team ${r.name} deleted`, () => api(`/api/governance/teams/${enc(r.id)}`, {method: 'DELETE'}))}, 'Delete')],
        ], () => open('teams')),
        section('Customers', 'customers', customers.customers, [
          ['Name', (r) => [h('strong', {}, r.name || r.id), h('div', {class: 'muted small mono'}, r.id)]],
          ['Budget', (r) => budgetMeter(r.budget)],
          ['Rate limit', (r) => rateMeters(r.rate_limit)],
          ['', (r) => h('button', {type: 'button', class: 'danger', onclick: () => confirm(`Delete customer ${r.name}?`) &&
            act(`Customer ${r.name} deleted`, () => api(`/api/governance/customers/${enc(r.id)}`, {method: 'DELETE'}))}, 'Delete')],
        ], () => open('customers')));
    } catch (e) {
      if (e.status === 401) return;
      fill(body, h('p', {class: 'panel error', role: 'alert'}, `Governance could not load: ${e.message}`));
    }
  }
  await reload();
  const timer = setInterval(() => {
    if (!slot.childElementCount) reload();
  }, 3000);
  return () => clearInterval(timer);
}
