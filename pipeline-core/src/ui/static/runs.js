// The runs table's behaviour, in plain JavaScript with no build step, served from the binary at
// /static/runs.js (the pages' policy allows scripts from the UI itself and nothing else).
// Pipeline runs expand to their stage runs, fetched on demand; columns are chosen by group and
// the choice is kept per experiment in localStorage; the selection is kept across pages there
// too, and the compare button opens the comparison of everything selected.
(function () {
  'use strict';

  const saved = {
    get(key, fallback) {
      try {
        const value = localStorage.getItem(key);
        return value === null ? fallback : JSON.parse(value);
      } catch (e) {
        return fallback;
      }
    },
    set(key, value) {
      try {
        localStorage.setItem(key, JSON.stringify(value));
      } catch (e) {
        // Storage may be off (private windows): the page still works, it just forgets.
      }
    },
  };

  const numeric = (text) => /^-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?( s)?$/i.test(text);

  function runsTable(table) {
    const experiment = table.dataset.experiment;
    const columnsKey = 'pipeline.ui.hidden-columns.' + experiment;
    const selectionKey = 'pipeline.ui.selected-runs.' + experiment;
    const headers = Array.from(table.querySelectorAll('thead tr:last-child th[data-col]'));
    const keys = headers.map((th) => th.dataset.col);
    const defaults = headers.filter((th) => th.dataset.hidden).map((th) => th.dataset.col);
    const hidden = new Set(saved.get(columnsKey, defaults));
    const boxes = Array.from(document.querySelectorAll('.chooser input[data-col]'));
    let selected = saved.get(selectionKey, []);
    const count = document.getElementById('selected-count');
    const note = document.getElementById('toolbar-note');

    function applyColumns() {
      table.querySelectorAll('[data-col]').forEach((cell) => {
        cell.hidden = hidden.has(cell.dataset.col);
      });
      boxes.forEach((box) => {
        box.checked = !hidden.has(box.dataset.col);
      });
    }

    function showSelection() {
      table.querySelectorAll('input.select').forEach((box) => {
        box.checked = selected.includes(box.value);
      });
      const n = selected.length;
      count.textContent = n === 1 ? '1 run selected' : n + ' runs selected';
    }

    boxes.forEach((box) => {
      box.addEventListener('change', () => {
        if (box.checked) hidden.delete(box.dataset.col);
        else hidden.add(box.dataset.col);
        saved.set(columnsKey, Array.from(hidden));
        applyColumns();
      });
    });

    table.addEventListener('change', (event) => {
      const box = event.target;
      if (!box.matches('input.select')) return;
      selected = selected.filter((id) => id !== box.value);
      if (box.checked) selected.push(box.value);
      saved.set(selectionKey, selected);
      showSelection();
    });

    document.getElementById('compare').addEventListener('click', () => {
      if (selected.length < 2) {
        note.textContent = 'Select two or more runs to compare.';
        return;
      }
      const query = selected.map((id) => 'runs=' + encodeURIComponent(id)).join('&');
      window.location.href = '/compare?' + query;
    });

    document.getElementById('clear-selection').addEventListener('click', () => {
      selected = [];
      saved.set(selectionKey, selected);
      showSelection();
    });

    function stageRow(parent, child) {
      const tr = document.createElement('tr');
      tr.className = 'stage';
      tr.dataset.parent = parent;
      tr.dataset.run = child.run_id;
      const pick = document.createElement('td');
      pick.className = 'pick';
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.className = 'select';
      box.value = child.run_id;
      box.setAttribute('aria-label', 'select');
      pick.appendChild(box);
      tr.appendChild(pick);
      keys.forEach((key) => {
        const td = document.createElement('td');
        const text = Object.prototype.hasOwnProperty.call(child.cells, key) ? child.cells[key] : '-';
        td.dataset.col = key;
        td.className = 'cut' + (numeric(text) ? ' num' : '');
        td.title = text;
        if (key === 'attributes.name') {
          const link = document.createElement('a');
          link.href = '/runs/' + encodeURIComponent(child.run_id);
          link.textContent = text;
          td.classList.add('nested');
          td.appendChild(link);
        } else {
          td.textContent = text;
        }
        tr.appendChild(td);
      });
      return tr;
    }

    table.addEventListener('click', async (event) => {
      const button = event.target.closest('button.expand');
      if (!button) return;
      const run = button.dataset.run;
      const row = button.closest('tr');
      if (button.getAttribute('aria-expanded') === 'true') {
        table.querySelectorAll('tr.stage').forEach((tr) => {
          if (tr.dataset.parent === run) tr.remove();
        });
        button.setAttribute('aria-expanded', 'false');
        button.textContent = '▸';
        return;
      }
      button.disabled = true;
      try {
        const response = await fetch('/runs/' + encodeURIComponent(run) + '/stages');
        if (!response.ok) throw new Error(response.status + ' ' + response.statusText);
        const children = await response.json();
        let after = row;
        children.forEach((child) => {
          const tr = stageRow(run, child);
          after.after(tr);
          after = tr;
        });
        if (children.length === 0) {
          const tr = document.createElement('tr');
          tr.className = 'stage';
          tr.dataset.parent = run;
          const td = document.createElement('td');
          td.colSpan = keys.length + 1;
          td.className = 'muted nested';
          td.textContent = 'No stage runs.';
          tr.appendChild(td);
          row.after(tr);
        }
        button.setAttribute('aria-expanded', 'true');
        button.textContent = '▾';
        applyColumns();
        showSelection();
      } catch (error) {
        note.textContent = 'Could not load the stage runs: ' + error.message;
      } finally {
        button.disabled = false;
      }
    });

    applyColumns();
    showSelection();
  }

  document.querySelectorAll('table#runs').forEach(runsTable);
})();
