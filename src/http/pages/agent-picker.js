// The agent desk, part 3 of 4: saved replies. Typing `/` at the start of the reply box opens a
// list of the ticket's team's saved replies (GET /v1/replies?ticket=ID, which renders their
// placeholders for this ticket), filtered by what follows the `/`; arrow keys and Enter (or a
// click) put the rendered text in the box to edit before sending; Esc closes the list.
(function () {
  'use strict';

  var Desk = window.Desk;
  var el = Desk.el, make = Desk.make;
  var area = el('reply-text');
  var picker = el('picker');
  var cache = { ticket: null, replies: null, pending: null };
  var shown = [];
  var at = 0;

  function replies(id) {
    if (cache.ticket === id && cache.replies) return Promise.resolve(cache.replies);
    if (cache.ticket === id && cache.pending) return cache.pending;
    cache.ticket = id;
    cache.replies = null;
    cache.pending = Desk.api('GET', '/v1/replies?ticket=' + encodeURIComponent(id)).then(function (data) {
      if (cache.ticket === id) cache.replies = (data && data.replies) || [];
      return (data && data.replies) || [];
    }).catch(function (e) { cache.pending = null; throw e; });
    return cache.pending;
  }

  function close() {
    picker.hidden = true;
    picker.textContent = '';
    shown = [];
    area.setAttribute('aria-expanded', 'false');
    area.removeAttribute('aria-activedescendant');
  }
  Desk.closePicker = close;

  function mark() {
    [].forEach.call(picker.children, function (li, i) {
      li.setAttribute('aria-selected', String(i === at));
      if (i === at && li.scrollIntoView) li.scrollIntoView({ block: 'nearest' });
    });
    if (picker.children[at] && picker.children[at].id) area.setAttribute('aria-activedescendant', picker.children[at].id);
  }

  function choose(i) {
    var r = shown[i];
    if (!r) return;
    area.value = r.rendered || r.text;
    close();
    area.focus();
    area.setSelectionRange(area.value.length, area.value.length);
  }

  function render(all, filter) {
    var words = filter.toLowerCase();
    shown = all.filter(function (r) {
      return !words || (r.id + ' ' + r.title + ' ' + r.text).toLowerCase().indexOf(words) >= 0;
    });
    picker.textContent = '';
    if (!shown.length) {
      picker.appendChild(make('li', 'empty', all.length ? 'No saved reply matches “' + filter + '”.' : 'This team has no saved replies.'));
    }
    shown.forEach(function (r, i) {
      var li = make('li');
      li.id = 'saved-' + i;
      li.setAttribute('role', 'option');
      li.setAttribute('data-saved', r.id);
      li.appendChild(make('span', '', r.title || r.id));
      li.appendChild(make('small', '', r.rendered || r.text));
      li.addEventListener('mousedown', function (e) { e.preventDefault(); });
      li.addEventListener('click', function () { choose(i); });
      picker.appendChild(li);
    });
    at = Math.min(at, Math.max(0, shown.length - 1));
    picker.hidden = false;
    area.setAttribute('aria-expanded', 'true');
    mark();
  }

  area.addEventListener('input', function () {
    var value = area.value;
    if (Desk.mode() !== 'reply' || !Desk.current || value.charAt(0) !== '/' || /\n/.test(value)) { close(); return; }
    var id = Desk.current.id;
    var filter = value.slice(1).trim();
    if (picker.hidden) at = 0;
    replies(id).then(function (all) {
      if (area.value !== value || !Desk.current || Desk.current.id !== id) return;
      render(all, filter);
    }).catch(function (e) { Desk.toast('Could not load the saved replies: ' + e.message, 'error'); });
  });

  area.addEventListener('keydown', function (e) {
    if (picker.hidden) return;
    if (e.key === 'ArrowDown') { at = Math.min(shown.length - 1, at + 1); mark(); e.preventDefault(); }
    else if (e.key === 'ArrowUp') { at = Math.max(0, at - 1); mark(); e.preventDefault(); }
    else if (e.key === 'Enter' && !e.ctrlKey && !e.metaKey) { e.preventDefault(); choose(at); }
    else if (e.key === 'Escape') { e.preventDefault(); close(); }
  });
  area.addEventListener('blur', function () { setTimeout(function () { if (document.activeElement !== area) close(); }, 150); });
})();
