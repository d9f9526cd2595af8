// The agent desk, part 4 of 4: live updates over GET /v1/events (Server-Sent Events, with the
// page's own sign-in cookie), browser notifications of new tickets ("Notify me", asked on a
// click, never on load), the unseen count in the title; then it starts the desk.
(function () {
  'use strict';

  var Desk = window.Desk;
  var el = Desk.el, text = Desk.text;
  var KINDS = ['opened', 'message', 'claimed', 'assigned', 'note', 'resolved', 'relabelled', 'updated', 'rated'];

  // ---- notifications ----
  var notify = el('notify');
  var supported = typeof window.Notification === 'function';
  function wanted() { return supported && Desk.local('hearth.agent.notify', '') === 'on' && Notification.permission === 'granted'; }
  function showNotify() {
    var on = wanted();
    notify.setAttribute('aria-pressed', String(on));
    text(notify, on ? 'Notifications on' : 'Notify me');
    notify.title = !supported ? 'This browser cannot show notifications'
      : Notification.permission === 'denied' ? 'Notifications are blocked for this site in the browser settings'
        : on ? 'Click to stop notifications of new tickets' : 'Get a browser notification for each new ticket';
  }
  notify.addEventListener('click', function () {
    if (!supported) { Desk.toast('This browser cannot show notifications.', 'error'); return; }
    if (wanted()) { Desk.setLocal('hearth.agent.notify', 'off'); showNotify(); return; }
    Desk.setLocal('hearth.agent.notify', 'on');
    var asked = Notification.permission === 'granted' ? Promise.resolve('granted') : Notification.requestPermission();
    Promise.resolve(asked).then(function (p) {
      showNotify();
      Desk.toast(p === 'granted' ? 'You will be notified of new tickets.' : 'Notifications are blocked in this browser.', p === 'granted' ? 'ok' : 'error');
    });
  });

  function mine(t) {
    var you = (Desk.catalog && Desk.catalog.you) || {};
    return !you.teams || !you.teams.length || you.role === 'admin' || you.teams.indexOf(t.team) >= 0;
  }
  function opened(t) {
    if (!t || !mine(t)) return;
    var about = [t.intent ? t.intent.id : 'no intent', t.persona ? t.persona.id : 'no persona'].join(' · ');
    Desk.toast('New ticket #' + t.id + ': ' + about, 'info');
    if (String(t.id) !== String(Desk.selected)) Desk.markUnseen(t.id);
    if (wanted()) {
      try {
        var n = new Notification('New ticket #' + t.id, { body: about, tag: 'ticket-' + t.id });
        n.onclick = function () { window.focus(); Desk.select(t.id); n.close(); };
      } catch (e) { /* some browsers only notify from a service worker */ }
    }
  }

  // ---- the stream ----
  var listTimer = null;
  function refreshList() {
    clearTimeout(listTimer);
    listTimer = setTimeout(function () { Desk.loadList().catch(function () { /* next event retries */ }); }, 150);
  }
  function onEvent(kind, raw) {
    var data = null;
    try { data = JSON.parse(raw); } catch (e) { return; }
    var t = data && data.ticket;
    if (!t) return;
    if (kind === 'opened') opened(t);
    refreshList();
    if (String(t.id) === String(Desk.selected)) Desk.loadTicket(false);
  }

  var live = el('live');
  // The queue is first loaded before the stream opens; a ticket opened in between has no event
  // on the new stream, so the first open, like every reconnect, reloads the list once.
  var lost = true;
  function connect() {
    if (typeof window.EventSource !== 'function') {
      text(live, 'no live updates');
      return;
    }
    var source = new EventSource('/v1/events', { withCredentials: true });
    source.addEventListener('open', function () {
      text(live, '● live');
      live.className = 'on';
      live.title = 'Updates arrive as they happen';
      // Opened, or back after a lost stream: what happened meanwhile, once.
      if (lost) {
        lost = false;
        Desk.loadList().catch(function () { /* shown on the next action */ });
        Desk.loadTicket(false);
      }
    });
    source.addEventListener('error', function () {
      lost = true;
      text(live, '○ reconnecting');
      live.className = '';
      live.title = 'The live stream was lost; the browser reconnects by itself';
    });
    KINDS.forEach(function (kind) {
      source.addEventListener(kind, function (e) { onEvent(kind, e.data); });
    });
    Desk.source = source;
  }

  showNotify();
  Desk.badge();
  // "due in 12 min" moves on with the clock: redrawn from what the page holds, no request.
  setInterval(Desk.renderList, 60000);
  Desk.start().then(connect);
})();
