// MCP: the servers the gateway is connected to, their state and tools (which ones models are
// offered, which ones the gateway runs itself), a reconnect, and the latest tool calls.

import {h, fill, table, fmt, pill} from '../lib/dom.js';
import {api} from '../lib/api.js';

function statePill(s) {
  return pill(s, s === 'connected' ? 'ok' : s === 'connecting' ? 'warn' : 'bad');
}

export async function render(root, ctx) {
  const clients = h('div', {});
  const calls = h('div', {});
  fill(root, h('div', {class: 'page-head'}, h('h1', {id: 'page-title'}, 'MCP servers and tools')), clients,
    h('h2', {}, 'Latest tool calls'), calls);

  async function reconnect(name) {
    try {
      await api(`/api/mcp/client/${encodeURIComponent(name)}/reconnect`, {method: 'POST', body: {}});
      ctx.notify(`MCP client ${name} is reconnecting.`);
      setTimeout(reload, 500);
    } catch (e) {
      ctx.notify(`Reconnecting ${name} failed: ${e.message}`, 'error');
    }
  }

  async function reload() {
    try {
      const [cs, logs] = await Promise.all([api('/api/mcp/clients'), api('/api/mcp/logs?limit=50')]);
      fill(clients, cs.clients.length === 0
        ? h('p', {class: 'panel muted'}, 'No MCP servers configured (the `mcp.client_configs` section, or POST /api/mcp/client).')
        : cs.clients.map((c) => h('article', {class: 'panel', 'aria-labelledby': `mcp-${c.name}`, 'data-client': c.name},
          h('header', {class: 'panel-head'}, h('h2', {id: `mcp-${c.name}`}, c.name),
            h('span', {class: 'muted'}, c.connection_type || (c.config && c.config.connection_type) || ''),
            statePill(c.state),
            c.server_name ? h('span', {class: 'muted small'}, `${c.server_name} ${c.server_version || ''}`) : null,
            h('button', {type: 'button', class: 'push', onclick: () => reconnect(c.name)}, 'Reconnect')),
          c.error ? h('p', {class: 'form-error'}, c.error) : null,
          h('p', {class: 'muted small'}, `${c.reconnects || 0} reconnects`, c.connected_at_ms ? ` · connected since ${fmt.time(c.connected_at_ms)}` : ''),
          table([
            ['Tool', (t) => h('span', {class: 'mono'}, t.name)],
            ['Description', (t) => t.description || ''],
            ['Offered to models', (t) => (t.executable ? pill('yes', 'ok') : pill('no', ''))],
            ['Run by the gateway', (t) => (t.auto_execute ? pill('auto', 'ok') : pill('client decides', ''))],
          ], c.tools || [], {empty: 'No tools (not connected, or the server lists none).'}))));
      fill(calls, table([
        ['Time', (r) => fmt.time(r.timestamp_ms)],
        ['Tool', (r) => h('span', {class: 'mono'}, `${r.client}-${r.tool}`)],
        ['Status', (r) => pill(r.status, r.status === 'ok' ? 'ok' : 'bad')],
        ['Source', (r) => r.source],
        ['Latency', (r) => fmt.ms(r.latency_ms)],
        ['Virtual key', (r) => r.virtual_key_id || '—'],
        ['Error', (r) => r.error || ''],
      ], logs.logs || [], {empty: 'No tool calls yet.'}));
    } catch (e) {
      if (e.status === 401) return;
      fill(clients, h('p', {class: 'panel error', role: 'alert'}, `MCP state could not load: ${e.message}`));
    }
  }
  await reload();
  const timer = setInterval(reload, 5000);
  return () => clearInterval(timer);
}
