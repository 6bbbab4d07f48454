// Request logs: the `/api/logs` filters, a page of records, and new requests pushed live from
// `/api/logs/stream` (server-sent events, within milliseconds of a request finishing). A row
// opens the record's detail: request, response, every upstream attempt, tokens and cost.

import {h, fill, field, fmt, pill} from '../lib/dom.js';
import {api, qs} from '../lib/api.js';

const PAGE = 50;
const KEEP = 500;

function statusPill(r) {
  return r.success ? pill(String(r.status), 'ok') : pill(`${r.status} ${r.error_type || ''}`.trim(), 'bad');
}

function modelOf(r) {
  return r.model || r.model_requested;
}

function splitList(v) {
  return v.split(',').map((s) => s.trim()).filter(Boolean);
}

/** Whether a live record passes the filters (the ones the stream can judge). */
function matches(r, f) {
  const any = (list, value) => list.length === 0 || list.includes(value);
  if (!any(splitList(f.provider), r.provider || '')) return false;
  const models = splitList(f.model);
  if (models.length && !models.includes(r.model || '') && !models.includes(r.model_requested)) return false;
  if (!any(splitList(f.virtual_key_id), r.virtual_key_id || '')) return false;
  if (f.status === 'success' && !r.success) return false;
  if (f.status === 'error' && r.success) return false;
  if (/^\d+$/.test(f.status) && String(r.status) !== f.status) return false;
  if (f.stream && String(r.stream) !== f.stream) return false;
  if (f.cache && r.cache !== f.cache) return false;
  return true;
}

function row(r, open, fresh) {
  const tr = h('tr', {class: `clickable${fresh ? ' fresh' : ''}`, tabindex: 0, 'data-id': r.id,
    'aria-label': `Request ${r.id}: ${modelOf(r)}, status ${r.status}`},
  h('td', {}, fmt.time(r.timestamp_ms)),
  h('td', {}, statusPill(r)),
  h('td', {}, r.provider || '—'),
  h('td', {class: 'mono'}, modelOf(r)),
  h('td', {}, r.virtual_key_id || '—'),
  h('td', {class: 'num'}, fmt.ms(r.latency_ms)),
  h('td', {class: 'num'}, fmt.int(r.total_tokens)),
  h('td', {class: 'num'}, r.cache && r.cache.startsWith('hit') ? `${fmt.usd(r.cost)} (saved ${fmt.usd(r.cost_saved)})` : fmt.usd(r.cost)),
  h('td', {}, r.stream ? 'stream' : '', r.cache ? ` ${r.cache}` : ''));
  tr.addEventListener('click', () => open(r));
  tr.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      open(r);
    }
  });
  return tr;
}

function pretty(text) {
  if (text === null || text === undefined) return '(not recorded: content logging is off for this request)';
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

function detail(r) {
  const kv = (k, v) => [h('dt', {}, k), h('dd', {}, v === null || v === undefined || v === '' ? '—' : v)];
  return [
    h('dl', {class: 'kv'},
      kv('Request id', h('code', {}, r.id)),
      kv('Time', fmt.time(r.timestamp_ms)),
      kv('Route', `${r.route} · ${r.operation}${r.stream ? ' · streamed' : ''}`),
      kv('Status', statusPill(r)),
      kv('Error', r.error ? `${r.error_type}: ${r.error}` : null),
      kv('Provider / model', `${r.provider || '—'} / ${modelOf(r)} (asked for ${r.model_requested})`),
      kv('Provider key', r.key_name),
      kv('Virtual key / team / customer', [r.virtual_key_id, r.team_id, r.customer_id].map((x) => x || '—').join(' / ')),
      kv('Latency', `${fmt.ms(r.latency_ms)} (gateway ${fmt.ms(r.overhead_ms)}${r.ttft_ms ? `, first token ${fmt.ms(r.ttft_ms)}` : ''})`),
      kv('Tokens', `${fmt.int(r.prompt_tokens)} in · ${fmt.int(r.completion_tokens)} out · ${fmt.int(r.cached_tokens)} cached · ${fmt.int(r.reasoning_tokens)} reasoning`),
      kv('Cost', r.unpriced ? 'unpriced model' : `${fmt.usd(r.cost)}${r.cost_saved ? ` (cache saved ${fmt.usd(r.cost_saved)})` : ''}`),
      kv('Cache', r.cache),
      kv('Finish reason', r.finish_reason),
      kv('Client request id', r.client_request_id)),
    h('h3', {}, `Attempts (${r.attempts}, ${r.retries} retries, fallback ${r.fallback_index})`),
    h('div', {class: 'table-wrap'}, h('table', {},
      h('thead', {}, h('tr', {}, ['#', 'Provider', 'Model', 'Key', 'Status', 'Error', 'Latency'].map((c) => h('th', {scope: 'col'}, c)))),
      h('tbody', {}, (r.trail || []).map((t, i) => h('tr', {},
        h('td', {}, i + 1), h('td', {}, t.provider), h('td', {class: 'mono'}, t.model), h('td', {}, t.key_name || '—'),
        h('td', {}, t.status), h('td', {}, t.error || '—'), h('td', {class: 'num'}, fmt.ms(t.latency_ms))))))),
    h('h3', {}, 'Request'),
    h('pre', {class: 'payload', tabindex: 0}, pretty(r.input)),
    h('h3', {}, 'Response'),
    h('pre', {class: 'payload', tabindex: 0}, r.output === null || r.output === undefined ? pretty(null) : r.output),
  ];
}

export async function render(root, ctx) {
  const f = {provider: '', model: '', status: '', virtual_key_id: '', stream: '', cache: '', content_search: '', since: ''};
  const inputs = {
    provider: h('input', {name: 'provider', placeholder: 'any'}),
    model: h('input', {name: 'model', placeholder: 'any'}),
    status: h('select', {name: 'status'}, h('option', {value: ''}, 'any'), h('option', {value: 'success'}, 'success'),
      h('option', {value: 'error'}, 'error'), ['400', '401', '402', '403', '404', '429', '500', '502', '503', '504'].map((c) => h('option', {value: c}, c))),
    virtual_key_id: h('input', {name: 'virtual_key_id', placeholder: 'any'}),
    stream: h('select', {name: 'stream'}, h('option', {value: ''}, 'any'), h('option', {value: 'true'}, 'streamed'), h('option', {value: 'false'}, 'not streamed')),
    cache: h('select', {name: 'cache'}, h('option', {value: ''}, 'any'), ['hit-exact', 'hit-semantic', 'miss'].map((c) => h('option', {value: c}, c))),
    content_search: h('input', {name: 'content_search', type: 'search', placeholder: 'text in request or response'}),
    since: h('select', {name: 'since'}, h('option', {value: ''}, 'all time'),
      [['15m', 15], ['1h', 60], ['24h', 1440], ['7d', 10080]].map(([l, m]) => h('option', {value: String(m)}, `last ${l}`))),
  };
  const live = h('input', {type: 'checkbox', name: 'live', checked: true});
  const liveState = h('span', {class: 'live-state muted', 'aria-live': 'polite'}, 'connecting…');
  const tbody = h('tbody', {});
  const total = h('p', {class: 'muted small', 'aria-live': 'polite'});
  const more = h('button', {type: 'button'}, 'Load more');
  const dialog = h('dialog', {class: 'detail', 'aria-labelledby': 'detail-title'});
  const form = h('form', {class: 'filters', role: 'search', 'aria-label': 'Filter logs'},
    field('Provider', inputs.provider), field('Model', inputs.model), field('Status', inputs.status),
    field('Virtual key', inputs.virtual_key_id), field('Streamed', inputs.stream), field('Cache', inputs.cache),
    field('Content', inputs.content_search), field('Time', inputs.since),
    h('div', {class: 'filter-actions'}, h('button', {type: 'submit', class: 'primary'}, 'Apply'),
      h('button', {type: 'reset'}, 'Clear')));
  fill(root,
    h('div', {class: 'page-head'}, h('h1', {id: 'page-title'}, 'Logs'),
      h('div', {class: 'controls'}, h('label', {class: 'check'}, live, ' Live'), liveState)),
    form, total,
    h('div', {class: 'table-wrap'}, h('table', {class: 'logs'},
      h('thead', {}, h('tr', {}, ['Time', 'Status', 'Provider', 'Model', 'Virtual key', 'Latency', 'Tokens', 'Cost', ''].map((c) => h('th', {scope: 'col'}, c)))),
      tbody)),
    more, dialog);

  let offset = 0;
  let shown = new Set();

  async function open(r) {
    fill(dialog, h('div', {class: 'dialog-head'}, h('h2', {id: 'detail-title'}, 'Request'),
      h('button', {type: 'button', class: 'icon-button', 'aria-label': 'Close', onclick: () => dialog.close()}, '×')),
    h('p', {class: 'muted'}, 'Loading…'));
    if (!dialog.open) dialog.showModal();
    // A request pushed live may not be in the store yet (the log writer batches): ask again
    // for a few seconds before showing what the live event carried.
    let full = null;
    for (let attempt = 0; attempt < 12 && !full; attempt++) {
      try {
        full = await api(`/api/logs/${encodeURIComponent(r.id)}`);
      } catch (e) {
        if (e.status !== 404) {
          ctx.notify(`The record's payload could not load: ${e.message}`, 'error');
          break;
        }
        await new Promise((done) => setTimeout(done, 250));
      }
      if (!dialog.open) return;
    }
    full = full || r;
    fill(dialog, h('div', {class: 'dialog-head'}, h('h2', {id: 'detail-title'}, `Request ${modelOf(full)}`),
      h('button', {type: 'button', class: 'icon-button', 'aria-label': 'Close', onclick: () => dialog.close()}, '×')),
    detail(full));
  }

  function params() {
    const p = {...f, limit: PAGE, offset};
    if (p.since) p.start_time = Date.now() - Number(p.since) * 60e3;
    delete p.since;
    return p;
  }

  async function load(reset) {
    if (reset) {
      offset = 0;
      shown = new Set();
      tbody.replaceChildren();
    }
    try {
      const page = await api(`/api/logs${qs(params())}`);
      for (const r of page.logs) {
        if (shown.has(r.id)) continue;
        shown.add(r.id);
        tbody.append(row(r, open, false));
      }
      offset += page.logs.length;
      total.textContent = `${fmt.int(page.total)}${page.total_capped ? '+' : ''} matching requests`;
      more.hidden = !page.has_more;
      if (tbody.children.length === 0) {
        tbody.append(h('tr', {class: 'empty'}, h('td', {colspan: 9, class: 'muted'}, 'No requests match.')));
      }
    } catch (e) {
      if (e.status === 401) return;
      ctx.notify(`Logs could not load: ${e.message}`, 'error');
    }
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    for (const k of Object.keys(f)) f[k] = inputs[k].value.trim();
    load(true);
  });
  form.addEventListener('reset', () => {
    setTimeout(() => {
      for (const k of Object.keys(f)) f[k] = '';
      load(true);
    });
  });
  more.addEventListener('click', () => load(false));

  // Live: one EventSource while the page is open and "Live" is on.
  let source = null;
  function connect() {
    if (source) source.close();
    source = new EventSource('/api/logs/stream');
    source.addEventListener('ready', () => {
      liveState.textContent = 'live';
    });
    source.addEventListener('log', (e) => {
      let r;
      try {
        r = JSON.parse(e.data);
      } catch {
        return;
      }
      if (f.content_search || !matches(r, f) || shown.has(r.id)) return;
      shown.add(r.id);
      const empty = tbody.querySelector('tr.empty');
      if (empty) empty.remove();
      tbody.prepend(row(r, open, true));
      offset += 1;
      while (tbody.children.length > KEEP) {
        const last = tbody.lastElementChild;
        shown.delete(last.dataset.id);
        last.remove();
      }
    });
    source.addEventListener('lagged', (e) => {
      liveState.textContent = `live (skipped ${JSON.parse(e.data).missed} while busy)`;
    });
    source.onerror = () => {
      liveState.textContent = 'reconnecting…';
    };
  }
  function disconnect() {
    if (source) source.close();
    source = null;
    liveState.textContent = 'paused';
  }
  live.addEventListener('change', () => (live.checked ? connect() : disconnect()));
  dialog.addEventListener('click', (e) => {
    if (e.target === dialog) dialog.close();
  });

  connect();
  await load(true);
  return () => disconnect();
}
