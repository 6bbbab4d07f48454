// Building the page from data without ever parsing data as HTML: every text a server or a
// user supplies reaches the DOM as a text node or an attribute value, so a model name or a
// log line cannot inject markup (the page's CSP forbids inline scripts as a second line).

/** Create an element: h('button', {class: 'x', onclick: fn}, 'text', child). */
export function h(tag, attrs, ...children) {
  const svg = tag.startsWith('svg:');
  const el = svg
    ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4))
    : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else if (k === 'style' && typeof v === 'object') {
      for (const [p, pv] of Object.entries(v)) el.style.setProperty(p, pv);
    } else if (k === 'value' && 'value' in el && !svg) {
      el.value = v;
    } else if (k === 'checked' && !svg) {
      el.checked = Boolean(v);
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replace an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A labelled form field: the label is bound to the control for screen readers and clicks. */
let nextId = 0;
export function field(label, control, hint) {
  const id = control.id || `f${++nextId}`;
  control.id = id;
  const hintEl = hint ? h('small', {class: 'hint', id: `${id}-hint`}, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', {class: 'field'}, h('label', {for: id}, label), control, hintEl);
}

/** A table from rows: columns are [header, cell(row)] pairs. */
export function table(columns, rows, opts = {}) {
  const head = h('tr', {}, columns.map(([name]) => h('th', {scope: 'col'}, name)));
  const body = rows.map((r) =>
    h('tr', opts.rowAttrs ? opts.rowAttrs(r) : {}, columns.map(([, cell]) => h('td', {}, cell(r)))),
  );
  const empty = rows.length === 0
    ? h('tr', {}, h('td', {colspan: columns.length, class: 'muted'}, opts.empty || 'Nothing yet.'))
    : null;
  return h('div', {class: 'table-wrap'},
    h('table', {class: opts.class || ''}, opts.caption ? h('caption', {}, opts.caption) : null,
      h('thead', {}, head), h('tbody', {}, body, empty)));
}

/** A usage bar (role=meter): used of limit, warning past 80%, full past 100%. */
export function meter(label, used, limit, format = (x) => x) {
  const ratio = limit > 0 ? used / limit : 0;
  const pct = Math.min(100, Math.max(0, ratio * 100));
  const level = ratio >= 1 ? 'full' : ratio >= 0.8 ? 'warn' : 'ok';
  return h('div', {class: 'meter-wrap'},
    h('div', {class: 'meter-label'}, h('span', {}, label),
      h('span', {class: 'meter-figure'}, `${format(used)} of ${format(limit)} (${pct.toFixed(1)}%)`)),
    h('div', {
      class: `meter ${level}`, role: 'meter', 'aria-label': label,
      'aria-valuemin': 0, 'aria-valuemax': limit, 'aria-valuenow': used,
      'data-ratio': ratio.toFixed(6),
    }, h('div', {class: 'meter-fill', style: {width: `${pct}%`}})));
}

/** Formatting helpers. */
export const fmt = {
  usd(x) {
    if (x === null || x === undefined) return '—';
    const n = Number(x);
    if (n === 0) return '$0';
    return n < 0.01 ? `$${n.toFixed(6)}` : `$${n.toFixed(4)}`;
  },
  ms(x) {
    if (x === null || x === undefined) return '—';
    const n = Number(x);
    return n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${n.toFixed(n < 10 ? 2 : 0)} ms`;
  },
  int(x) {
    return x === null || x === undefined ? '—' : Number(x).toLocaleString('en-US');
  },
  pct(x) {
    return x === null || x === undefined ? '—' : `${(Number(x) * 100).toFixed(1)}%`;
  },
  time(ms) {
    if (!ms) return '—';
    const d = new Date(Number(ms));
    return d.toLocaleString('en-GB', {hour12: false});
  },
  clock(ms) {
    const d = new Date(Number(ms));
    return d.toLocaleTimeString('en-GB', {hour12: false});
  },
};

/** A status pill. */
export function pill(text, kind) {
  return h('span', {class: `pill ${kind || ''}`}, text);
}
