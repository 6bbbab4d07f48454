// The dashboard: traffic, latency, errors, tokens and cost over time, broken down by provider,
// model or virtual key, from the log store's time series (`/api/logs/timeseries`). It
// refreshes every 5 s while open.

import {h, fill, field, table, fmt} from '../lib/dom.js';
import {api, qs} from '../lib/api.js';
import {chart} from '../lib/chart.js';

const RANGES = [
  ['15m', 15 * 60e3], ['1h', 3600e3], ['6h', 6 * 3600e3], ['24h', 86400e3], ['7d', 7 * 86400e3],
];
const GROUPS = [['provider', 'Provider'], ['model', 'Model'], ['virtual_key', 'Virtual key']];

function card(label, value, sub) {
  return h('div', {class: 'stat'}, h('div', {class: 'stat-label'}, label),
    h('div', {class: 'stat-value'}, value), sub ? h('div', {class: 'stat-sub muted'}, sub) : null);
}

function bucketLabel(s) {
  return s % 3600 === 0 ? `${s / 3600} h` : s % 60 === 0 ? `${s / 60} min` : `${s} s`;
}

export async function render(root, ctx) {
  const state = {
    range: sessionStorage.getItem('dash-range') || '1h',
    group: sessionStorage.getItem('dash-group') || 'provider',
  };
  const rangeSel = h('select', {name: 'range'}, RANGES.map(([k]) => h('option', {value: k}, `Last ${k}`)));
  rangeSel.value = state.range;
  const groupSel = h('select', {name: 'group_by'}, GROUPS.map(([k, l]) => h('option', {value: k}, l)));
  groupSel.value = state.group;
  const body = h('div', {class: 'dash-body'}, h('p', {class: 'muted'}, 'Loading…'));
  const updated = h('span', {class: 'muted small', 'aria-live': 'off'});
  fill(root,
    h('div', {class: 'page-head'}, h('h1', {id: 'page-title'}, 'Dashboard'),
      h('div', {class: 'controls'}, field('Time range', rangeSel), field('Break down by', groupSel), updated)),
    body);

  let timer = null;
  let busy = false;
  async function load() {
    if (busy) return;
    busy = true;
    try {
      const span = RANGES.find(([k]) => k === state.range)[1];
      const end = Date.now();
      const params = {start_time: end - span, end_time: end, group_by: state.group};
      const [ts, stats] = await Promise.all([
        api(`/api/logs/timeseries${qs(params)}`),
        api(`/api/logs/stats${qs({start_time: params.start_time, end_time: end})}`),
      ]);
      draw(ts, stats);
      updated.textContent = `Updated ${fmt.clock(Date.now())}`;
    } catch (e) {
      if (e.status === 401) return;
      fill(body, h('div', {class: 'panel error', role: 'alert'},
        h('p', {}, `The dashboard has no data: ${e.message}`),
        e.status === 503 ? h('p', {class: 'muted'}, 'Request logging is off or its store is unreachable; the dashboard reads the request log.') : null));
    } finally {
      busy = false;
    }
  }

  function draw(ts, stats) {
    const times = ts.buckets.map((b) => b.t);
    const groupName = GROUPS.find(([k]) => k === state.group)[1].toLowerCase();
    const per = bucketLabel(ts.bucket_seconds);
    const errors = ts.buckets.reduce((s, b) => s + b.errors, 0);
    const requests = ts.buckets.reduce((s, b) => s + b.requests, 0);
    const tokens = ts.buckets.reduce((s, b) => s + b.tokens, 0);
    const cost = ts.buckets.reduce((s, b) => s + b.cost, 0);
    const bySeries = (field) => ts.groups.map((g) => ({name: g.key, values: g[field]}));
    fill(body,
      h('div', {class: 'stats'},
        card('Requests', fmt.int(requests), `${(requests / (Math.max(1, (ts.end_time - ts.start_time)) / 60e3)).toFixed(2)} per minute`),
        card('Error rate', fmt.pct(requests ? errors / requests : 0), `${fmt.int(errors)} failed`),
        card('Average latency', fmt.ms(stats.average_latency_ms), `success ${fmt.pct(stats.success_rate)}`),
        card('Tokens', fmt.int(tokens)),
        card('Cost', fmt.usd(cost))),
      ts.sampled ? h('p', {class: 'muted small'}, `Aggregated from the newest ${fmt.int(ts.records)} records of the range.`) : null,
      h('div', {class: 'charts'},
        chart({title: `Requests per ${per}, by ${groupName}`, times, kind: 'bar', series: bySeries('requests_series'), format: (v) => fmt.int(Math.round(v))}),
        chart({title: 'Latency p50 / p99', times, series: [
          {name: 'p50', values: ts.buckets.map((b) => b.p50_latency_ms)},
          {name: 'p99', values: ts.buckets.map((b) => b.p99_latency_ms), color: '#ef4444'},
        ], format: fmt.ms}),
        chart({title: 'Error rate', times, series: [
          {name: 'errors / requests', values: ts.buckets.map((b) => (b.requests ? b.errors / b.requests : 0)), color: '#ef4444'},
        ], format: (v) => `${(v * 100).toFixed(0)}%`}),
        chart({title: `Tokens per ${per}, by ${groupName}`, times, kind: 'bar', series: bySeries('tokens_series'), format: (v) => fmt.int(Math.round(v))}),
        chart({title: `Cost per ${per}, by ${groupName}`, times, kind: 'bar', series: bySeries('cost_series'), format: fmt.usd})),
      h('h2', {}, `By ${groupName}`),
      table([
        [GROUPS.find(([k]) => k === state.group)[1], (g) => g.key],
        ['Requests', (g) => fmt.int(g.requests)],
        ['Errors', (g) => fmt.int(g.errors)],
        ['p50', (g) => fmt.ms(g.p50_latency_ms)],
        ['p99', (g) => fmt.ms(g.p99_latency_ms)],
        ['Tokens', (g) => fmt.int(g.tokens)],
        ['Cost', (g) => fmt.usd(g.cost)],
      ], ts.groups, {empty: 'No requests in this range.'}));
  }

  rangeSel.addEventListener('change', () => {
    state.range = rangeSel.value;
    sessionStorage.setItem('dash-range', state.range);
    load();
  });
  groupSel.addEventListener('change', () => {
    state.group = groupSel.value;
    sessionStorage.setItem('dash-group', state.group);
    load();
  });
  await load();
  timer = setInterval(load, 5000);
  return () => clearInterval(timer);
}
