// The agent desk, part 1 of 4: helpers, the API, toasts, the queue (filters and search), the
// selection (phone: queue and ticket are two views) and the keyboard shortcuts. The ticket view
// is agent-ticket.js, the saved-reply picker agent-picker.js, live updates agent-live.js (which
// starts the desk). Everything from the server is shown with textContent, never as markup.
(function () {
  'use strict';

  var Desk = window.Desk = {};
  var el = Desk.el = function (id) { return document.getElementById(id); };
  var list = el('tickets');

  // ---- local settings ----
  Desk.local = function (key, fallback) {
    try { var v = window.localStorage.getItem(key); return v === null ? fallback : v; } catch (e) { return fallback; }
  };
  Desk.setLocal = function (key, value) {
    try { window.localStorage.setItem(key, value); } catch (e) { /* private mode */ }
  };

  // ---- helpers ----
  var text = Desk.text = function (node, value) { node.textContent = value == null ? '' : String(value); return node; };
  var make = Desk.make = function (tag, className, value) {
    var n = document.createElement(tag);
    if (className) n.className = className;
    if (value !== undefined) text(n, value);
    return n;
  };
  function ago(ms) {
    var s = Math.max(0, (Date.now() - ms) / 1000);
    if (s < 45) return 'just now';
    if (s < 3600) return Math.round(s / 60) + ' min ago';
    if (s < 86400) return Math.round(s / 3600) + ' h ago';
    return new Date(ms).toLocaleDateString();
  }
  Desk.timeNode = function (ms, relative) {
    var t = make('time');
    t.dateTime = new Date(ms).toISOString();
    t.title = new Date(ms).toLocaleString();
    text(t, relative ? ago(ms) : new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }));
    return t;
  };
  function span(ms) {
    var m = Math.max(1, Math.round(Math.abs(ms) / 60000));
    if (m < 90) return m + ' min';
    var h = Math.round(m / 60);
    if (h < 48) return h + ' h';
    return Math.round(h / 24) + ' d';
  }
  // "due in 12 min" / "overdue 5 min" from a ticket's targets; null without targets.
  Desk.dueText = function (t) {
    if (!t || t.status === 'resolved') return null;
    var dues = [t.first_response_due_ms, t.resolve_due_ms].filter(function (d) { return typeof d === 'number'; });
    if (!dues.length) return t.overdue ? { text: 'overdue', late: true } : null;
    var now = Date.now();
    var past = dues.filter(function (d) { return d <= now; });
    if (t.overdue || past.length) {
      var since = past.length ? Math.min.apply(null, past) : now;
      return { text: 'overdue ' + span(now - since), late: true };
    }
    return { text: 'due in ' + span(Math.min.apply(null, dues) - now), late: false };
  };

  // ---- toasts: one at a time, in the strip at the foot of the page ----
  var toastTimer = null;
  // `actions`: [[label, fn], ...] shown as buttons in the toast (a confirm, an undo).
  Desk.toast = function (message, kind, actions) {
    var box = el('toasts');
    box.textContent = '';
    var t = make('span', 'toast ' + (kind || 'ok'), message);
    t.title = message;
    box.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    box.appendChild(t);
    (actions || []).forEach(function (a, i) {
      var b = make('button', 'btn small', a[0]);
      b.type = 'button';
      b.id = 'toast-action-' + i;
      b.addEventListener('click', function () { box.textContent = ''; a[1](); });
      box.appendChild(b);
    });
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { box.textContent = ''; }, actions && actions.length ? 15000 : kind === 'error' ? 9000 : 5000);
    if (actions && actions.length) box.querySelector('button').focus();
  };

  Desk.api = function (method, url, body) {
    var init = { method: method, headers: { 'Accept': 'application/json' }, credentials: 'same-origin' };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (res) {
      if (res.status === 401) {
        window.location.assign('/agent');
        throw new Error('Your session has ended; please sign in again.');
      }
      return res.text().then(function (raw) {
        var data = null;
        try { data = raw ? JSON.parse(raw) : null; } catch (e) { data = null; }
        if (!res.ok) {
          var err = new Error((data && data.error) || ('The server answered ' + res.status + '.'));
          err.status = res.status;
          throw err;
        }
        return data;
      });
    });
  };

  // ---- the catalog: teams (with their agents), intents, personas, and who is signed in ----
  Desk.catalog = { teams: [], intents: [], personas: [], you: {} };
  Desk.teamName = function (id) {
    var t = Desk.catalog.teams.filter(function (x) { return x.id === id; })[0];
    return t ? t.name : id;
  };
  function fillSelect(node, items, keepFirst) {
    var current = node.value;
    while (node.options.length > keepFirst) node.remove(keepFirst);
    items.forEach(function (i) { var o = make('option', '', i.name || i.id); o.value = i.id; node.appendChild(o); });
    node.value = current;
    if (node.value !== current) node.value = '';
  }
  Desk.fillSelect = fillSelect;

  // ---- the queue ----
  var filters = {
    status: el('status-filter'), team: el('team-filter'), assigned: el('assigned-filter'),
    q: el('search'), persona: el('persona-filter'), intent: el('intent-filter'),
    agent: el('agent-filter'), since: el('since-filter'), until: el('until-filter')
  };
  filters.status.value = Desk.local('hearth.agent.status', 'active') || 'active';
  if (!filters.status.value) filters.status.value = 'active';
  filters.assigned.value = Desk.local('hearth.agent.assigned', 'all') || 'all';
  if (!filters.assigned.value) filters.assigned.value = 'all';

  Desk.tickets = [];
  Desk.selected = null;
  Desk.unseen = {};

  function query(status) {
    var parts = ['status=' + encodeURIComponent(status), 'assigned=' + encodeURIComponent(filters.assigned.value || 'all')];
    ['team', 'q', 'persona', 'intent', 'agent', 'since', 'until'].forEach(function (k) {
      var v = filters[k].value.trim();
      if (v) parts.push(k + '=' + encodeURIComponent(v));
    });
    return '/v1/tickets?' + parts.join('&');
  }

  var loading = 0;
  // "active" is open and claimed: two requests, merged (high priority first, then newest).
  Desk.loadList = function () {
    var statuses = filters.status.value === 'active' ? ['open', 'claimed'] : [filters.status.value];
    var mine = ++loading;
    return Promise.all(statuses.map(function (s) { return Desk.api('GET', query(s)); })).then(function (answers) {
      if (mine !== loading) return;
      var all = [];
      answers.forEach(function (data) { all = all.concat((data && data.tickets) || []); });
      all.sort(function (a, b) {
        var pa = a.priority === 'high' ? 1 : 0, pb = b.priority === 'high' ? 1 : 0;
        return pb - pa || b.id - a.id;
      });
      Desk.tickets = all;
      renderList();
    });
  };

  function renderList() {
    var focused = document.activeElement && document.activeElement.closest && document.activeElement.closest('#tickets li');
    var focusedId = focused ? focused.getAttribute('data-ticket-id') : null;
    list.textContent = '';
    var n = Desk.tickets.length;
    text(el('count'), n === 1 ? '1 ticket' : n + ' tickets');
    if (!n) {
      list.appendChild(make('li', 'empty', 'No tickets match these filters.'));
      return;
    }
    Desk.tickets.forEach(function (t) {
      var li = make('li');
      li.setAttribute('data-ticket-id', String(t.id));
      var due = Desk.dueText(t);
      var classes = [];
      if (String(t.id) === String(Desk.selected)) classes.push('selected');
      if (due && due.late) classes.push('overdue');
      if (Desk.unseen[t.id]) classes.push('unseen');
      li.className = classes.join(' ');
      var b = make('button');
      b.type = 'button';
      if (String(t.id) === String(Desk.selected)) b.setAttribute('aria-current', 'true');
      var top = make('span', 'row-top');
      top.appendChild(make('span', 'tid', '#' + t.id));
      top.appendChild(make('span', 'badge ' + t.status, t.status));
      if (t.priority === 'high') top.appendChild(make('span', 'badge high', 'high'));
      top.appendChild(make('span', 'team', t.team_name || t.team));
      if (due) top.appendChild(make('span', 'due' + (due.late ? ' late' : ''), due.text));
      top.appendChild(Desk.timeNode(t.updated_ms || t.created_ms, true));
      b.appendChild(top);
      b.appendChild(make('span', 'row-msg', t.first_message || '(no customer message)'));
      var tags = [t.persona ? t.persona.id : 'no persona', t.intent ? t.intent.id : 'no intent'];
      tags.push(t.assigned_to ? 'assigned to ' + t.assigned_to : 'unassigned');
      b.appendChild(make('span', 'row-tags', tags.join(' · ')));
      b.addEventListener('click', function () { Desk.select(t.id); });
      li.appendChild(b);
      list.appendChild(li);
      if (focusedId === String(t.id)) b.focus();
    });
  }
  Desk.renderList = renderList;

  var baseTitle = document.title;
  Desk.markUnseen = function (id) { Desk.unseen[id] = true; Desk.badge(); };
  Desk.badge = function () {
    var n = Object.keys(Desk.unseen).length;
    document.title = (n ? '(' + n + ') ' : '') + baseTitle;
  };

  // ---- the selection ----
  Desk.select = function (id) {
    Desk.selected = id;
    delete Desk.unseen[id];
    Desk.badge();
    try { history.replaceState(null, '', '#ticket-' + id); } catch (e) { /* ignore */ }
    document.body.classList.add('viewing');
    renderList();
    return Desk.loadTicket(true);
  };
  el('back').addEventListener('click', function () {
    document.body.classList.remove('viewing');
    try { history.replaceState(null, '', '#'); } catch (e) { /* ignore */ }
    var row = list.querySelector('li.selected button') || list.querySelector('li button');
    if (row) row.focus();
  });
  // j / k: the next or previous ticket of the queue.
  function step(by) {
    if (!Desk.tickets.length) return;
    var at = -1;
    Desk.tickets.forEach(function (t, i) { if (String(t.id) === String(Desk.selected)) at = i; });
    var next = at < 0 ? 0 : Math.min(Desk.tickets.length - 1, Math.max(0, at + by));
    Desk.select(Desk.tickets[next].id);
    var row = list.querySelector('li[data-ticket-id="' + Desk.tickets[next].id + '"]');
    if (row && row.scrollIntoView) row.scrollIntoView({ block: 'nearest' });
  }

  var searchTimer = null;
  function changed(key) {
    return function () {
      if (key) Desk.setLocal('hearth.agent.' + key, filters[key].value);
      Desk.loadList().catch(function (e) { Desk.toast(e.message, 'error'); });
    };
  }
  ['status', 'assigned'].forEach(function (k) { filters[k].addEventListener('change', changed(k)); });
  ['team', 'persona', 'intent', 'since', 'until'].forEach(function (k) { filters[k].addEventListener('change', changed()); });
  [filters.q, filters.agent].forEach(function (input) {
    input.addEventListener('input', function () {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(changed(), 250);
    });
  });
  filters.q.addEventListener('keydown', function (e) {
    if (e.key === 'Enter') { e.preventDefault(); clearTimeout(searchTimer); changed()(); }
  });

  // ---- keyboard shortcuts (not while typing in a field, except Esc) ----
  var help = el('help');
  function showHelp(open) {
    help.hidden = !open;
    if (open) el('help-close').focus();
  }
  el('help-open').addEventListener('click', function () { showHelp(true); });
  el('help-close').addEventListener('click', function () { showHelp(false); });
  help.addEventListener('click', function (e) { if (e.target === help) showHelp(false); });

  function typing(node) {
    if (!node || !node.tagName) return false;
    var tag = node.tagName.toLowerCase();
    return tag === 'input' || tag === 'textarea' || tag === 'select' || node.isContentEditable;
  }
  document.addEventListener('keydown', function (e) {
    if (e.key === 'Escape') {
      if (!help.hidden) { showHelp(false); e.preventDefault(); return; }
      if (typing(e.target) && !e.defaultPrevented) e.target.blur();
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target) || e.defaultPrevented) return;
    if (!help.hidden && e.key !== '?') return;
    var acts = Desk.actions || {};
    var handled = true;
    switch (e.key) {
      case 'j': step(1); break;
      case 'k': step(-1); break;
      case 'c': if (acts.claim) acts.claim(); break;
      case 'r': if (acts.compose) acts.compose('reply'); break;
      case 'n': if (acts.compose) acts.compose('note'); break;
      case 'e': if (acts.confirmResolve) acts.confirmResolve(); break;
      case '/': document.body.classList.remove('viewing'); filters.q.focus(); filters.q.select(); break;
      case '?': showHelp(help.hidden); break;
      default: handled = false;
    }
    if (handled) e.preventDefault();
  });

  // ---- start (called by agent-live.js once every part is loaded) ----
  Desk.start = function () {
    var m = /^#ticket-(\d+)$/.exec(window.location.hash);
    var first = Desk.api('GET', '/v1/catalog').then(function (c) {
      Desk.catalog = c || Desk.catalog;
      if (c.you && c.you.name) text(el('agent-who'), c.you.name);
      fillSelect(filters.team, c.teams || [], 1);
      fillSelect(filters.persona, c.personas || [], 1);
      fillSelect(filters.intent, c.intents || [], 1);
      if (Desk.fillLabels) Desk.fillLabels();
    }).catch(function (e) { Desk.toast('Could not load the catalog: ' + e.message, 'error'); });
    return first.then(function () {
      var loads = [Desk.loadList()];
      if (m) loads.push(Desk.select(Number(m[1])));
      return Promise.all(loads);
    }).catch(function (e) { Desk.toast('Could not load the queue: ' + e.message, 'error'); });
  };
})();
