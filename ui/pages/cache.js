// The response cache: whether it is on and where it keeps entries, hits by tier and what they
// saved, and clearing it (all of it, one cache key's entries, or one request's entry).

import {h, fill, field, fmt, pill} from '../lib/dom.js';
import {api} from '../lib/api.js';

function stat(label, value) {
  return h('div', {class: 'stat'}, h('div', {class: 'stat-label'}, label), h('div', {class: 'stat-value'}, value));
}

export async function render(root, ctx) {
  const body = h('div', {});
  const key = h('input', {name: 'cache_key', required: true, autocomplete: 'off'});
  const request = h('input', {name: 'request_id', required: true, autocomplete: 'off'});
  const clearAll = h('button', {type: 'button', class: 'danger'}, 'Clear the whole cache');
  const byKey = h('form', {class: 'inline-form', 'aria-label': 'Clear by cache key'}, field('Cache key (x-bf-cache-key)', key),
    h('div', {class: 'form-actions'}, h('button', {type: 'submit'}, 'Clear this key')));
  const byRequest = h('form', {class: 'inline-form', 'aria-label': 'Clear one request'}, field('Request id', request),
    h('div', {class: 'form-actions'}, h('button', {type: 'submit'}, "Clear this request's entry")));
  fill(root, h('div', {class: 'page-head'}, h('h1', {id: 'page-title'}, 'Cache')), body,
    h('section', {class: 'panel', 'aria-labelledby': 'cache-clear'}, h('h2', {id: 'cache-clear'}, 'Clear'),
      clearAll, byKey, byRequest));

  async function reload() {
    try {
      const s = await api('/api/cache/stats');
      const c = s.counters || {};
      const lookups = (c.hits_exact || 0) + (c.hits_semantic || 0) + (c.misses || 0);
      fill(body,
        h('p', {}, s.enabled ? pill('on', 'ok') : pill('off', 'warn'),
          s.enabled ? ` ${s.backend || 'memory'} backend · TTL ${s.ttl_seconds} s · similarity threshold ${Number(s.threshold).toFixed(2)}${s.embedder ? ` · embeddings by ${s.embedder}` : ''}`
            : ' The cache is off: turn it on in the configuration (the `caching` section, or the semantic cache plugin).'),
        h('div', {class: 'stats'},
          stat('Hit rate', lookups ? fmt.pct(((c.hits_exact || 0) + (c.hits_semantic || 0)) / lookups) : '—'),
          stat('Exact hits', fmt.int(c.hits_exact)), stat('Semantic hits', fmt.int(c.hits_semantic)),
          stat('Misses', fmt.int(c.misses)), stat('Coalesced', fmt.int(c.coalesced)),
          stat('Entries', s.entries === null ? '—' : fmt.int(s.entries)),
          stat('Size', s.bytes === null ? '—' : `${(s.bytes / 1048576).toFixed(2)} MiB`),
          stat('Vectors indexed', fmt.int(s.vectors_indexed)), stat('Stores', fmt.int(c.stores)),
          stat('Errors', fmt.int((c.lookup_errors || 0) + (c.store_errors || 0) + (c.embed_errors || 0)))));
    } catch (e) {
      if (e.status === 401) return;
      fill(body, h('p', {class: 'panel error', role: 'alert'}, `Cache statistics could not load: ${e.message}`));
    }
  }

  async function clear(path, label) {
    try {
      const r = await api(path, {method: 'DELETE'});
      ctx.notify(`${label}: ${r && r.message ? r.message : 'done'}.`);
      await reload();
    } catch (e) {
      ctx.notify(`${label} failed: ${e.message}`, 'error');
    }
  }
  clearAll.addEventListener('click', () => confirm('Remove every cached answer?') && clear('/api/cache/clear', 'Cache cleared'));
  byKey.addEventListener('submit', (e) => {
    e.preventDefault();
    clear(`/api/cache/clear-by-key/${encodeURIComponent(key.value.trim())}`, `Key ${key.value.trim()} cleared`);
  });
  byRequest.addEventListener('submit', (e) => {
    e.preventDefault();
    clear(`/api/cache/clear/${encodeURIComponent(request.value.trim())}`, `Entry of ${request.value.trim()} cleared`);
  });
  await reload();
  const timer = setInterval(reload, 5000);
  return () => clearInterval(timer);
}
