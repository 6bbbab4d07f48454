// The configuration: the document in effect (secrets redacted), every version with who made
// it, from where and its diff, and rolling back — a preview of what the rollback would change
// (the API's dry run) before it is applied as a new version.

import {h, fill, fmt, pill} from '../lib/dom.js';
import {api} from '../lib/api.js';

function show(v) {
  return v === undefined ? '' : JSON.stringify(v, null, 2);
}

/** A diff entry: path, operation, before → after. */
function diffView(diff) {
  if (!diff || diff.length === 0) return h('p', {class: 'muted'}, 'No changes.');
  return h('ul', {class: 'diff'}, diff.map((d) => h('li', {},
    h('div', {}, pill(d.op, d.op === 'removed' ? 'bad' : d.op === 'added' ? 'ok' : 'warn'), ' ', h('code', {}, d.path)),
    d.before !== undefined ? h('pre', {class: 'before', 'aria-label': `before: ${d.path}`}, show(d.before)) : null,
    d.after !== undefined ? h('pre', {class: 'after', 'aria-label': `after: ${d.path}`}, show(d.after)) : null)));
}

export async function render(root, ctx) {
  const current = h('div', {});
  const versions = h('div', {});
  const detail = h('dialog', {class: 'detail', 'aria-labelledby': 'version-title'});
  fill(root, h('div', {class: 'page-head'}, h('h1', {id: 'page-title'}, 'Configuration')), current,
    h('h2', {}, 'Versions'), versions, detail);

  function closeButton() {
    return h('button', {type: 'button', class: 'icon-button', 'aria-label': 'Close', onclick: () => detail.close()}, '×');
  }

  async function rollback(v, mode) {
    fill(detail, h('div', {class: 'dialog-head'}, h('h2', {id: 'version-title'}, `Roll back to version ${v.version}`), closeButton()),
      h('p', {class: 'muted'}, 'Working out what would change…'));
    if (!detail.open) detail.showModal();
    try {
      const preview = await api(`/api/config/rollback/${v.version}?dry_run=true`, {method: 'POST', body: {}});
      const apply = h('button', {type: 'button', class: 'primary'}, `Roll back to version ${v.version}`);
      const error = h('p', {class: 'form-error', role: 'alert'});
      fill(detail, h('div', {class: 'dialog-head'}, h('h2', {id: 'version-title'}, `Roll back to version ${v.version}`), closeButton()),
        mode === 'file' ? h('p', {class: 'form-error'}, 'The gateway runs from its file: edit the file instead (the API refuses the rollback).') : null,
        h('p', {}, 'Applying makes version ', v.version, "'s document the next version. This would change:"),
        diffView(preview.diff), error, h('div', {class: 'form-actions'}, apply,
          h('button', {type: 'button', onclick: () => detail.close()}, 'Cancel')));
      apply.addEventListener('click', async () => {
        apply.disabled = true;
        try {
          const r = await api(`/api/config/rollback/${v.version}`, {method: 'POST', body: {}});
          detail.close();
          ctx.notify(`Rolled back: version ${r.version} has version ${v.version}'s document.`);
          await reload();
        } catch (e) {
          error.textContent = `Not rolled back: ${e.message}`;
          apply.disabled = false;
        }
      });
      apply.focus();
    } catch (e) {
      fill(detail, h('div', {class: 'dialog-head'}, h('h2', {id: 'version-title'}, `Roll back to version ${v.version}`), closeButton()),
        h('p', {class: 'form-error', role: 'alert'}, `The rollback cannot be previewed: ${e.message}`));
    }
  }

  async function openVersion(v) {
    fill(detail, h('div', {class: 'dialog-head'}, h('h2', {id: 'version-title'}, `Version ${v.version}`), closeButton()),
      h('p', {class: 'muted'}, 'Loading…'));
    if (!detail.open) detail.showModal();
    try {
      const full = await api(`/api/config/versions/${v.version}`);
      fill(detail, h('div', {class: 'dialog-head'}, h('h2', {id: 'version-title'}, `Version ${v.version}`), closeButton()),
        h('p', {class: 'muted'}, `${fmt.time(full.created_at_ms)} · ${full.actor} · ${full.source}`),
        h('h3', {}, 'Changes from the version before'), diffView(full.diff),
        h('h3', {}, 'Document'), h('pre', {class: 'payload', tabindex: 0}, show(full.config)));
    } catch (e) {
      fill(detail, h('p', {class: 'form-error', role: 'alert'}, `Version ${v.version} could not load: ${e.message}`));
    }
  }

  async function reload() {
    try {
      const [cfg, vs] = await Promise.all([api('/api/config'), api('/api/config/versions?limit=100')]);
      fill(current, h('section', {class: 'panel', 'aria-labelledby': 'cfg-current'},
        h('h2', {id: 'cfg-current'}, `In effect: version ${vs.current ?? cfg.version ?? '—'}`),
        h('p', {class: 'muted'}, vs.mode === 'file' ? 'File mode: the file is the truth; it is reloaded when it changes.'
          : 'Store mode: the configuration store is the truth; changes made here and through the API are versioned.'),
        h('details', {}, h('summary', {}, 'Show the document (secrets redacted)'),
          h('pre', {class: 'payload', tabindex: 0}, show(cfg.config)))));
      fill(versions, h('div', {class: 'table-wrap'}, h('table', {class: 'versions'},
        h('thead', {}, h('tr', {}, ['Version', 'When', 'Who', 'Source', 'What changed', ''].map((c) => h('th', {scope: 'col'}, c)))),
        h('tbody', {}, vs.versions.map((v) => h('tr', {'data-version': v.version},
          h('td', {}, v.version, v.version === vs.current ? [' ', pill('current', 'ok')] : null),
          h('td', {}, fmt.time(v.created_at_ms)),
          h('td', {}, v.actor),
          h('td', {}, v.source),
          h('td', {}, v.summary),
          h('td', {class: 'actions'},
            h('button', {type: 'button', onclick: () => openVersion(v)}, 'Diff'),
            v.version === vs.current ? null
              : h('button', {type: 'button', onclick: () => rollback(v, vs.mode)}, 'Roll back'))))))));
    } catch (e) {
      if (e.status === 401) return;
      fill(current, h('p', {class: 'panel error', role: 'alert'}, `The configuration could not load: ${e.message}`));
    }
  }
  await reload();
}
