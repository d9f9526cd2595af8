// The markdown subset of bot answers, for the chat and the agent desk: [text](url) links
// (http, https and mailto only), **bold** and "- " list items. Built from DOM nodes only:
// server text never goes through innerHTML.
(function () {
  'use strict';

  var LINK_SCHEMES = ['http:', 'https:', 'mailto:'];
  function safeUrl(url) {
    try {
      var u = new URL(url, window.location.href);
      if (LINK_SCHEMES.indexOf(u.protocol) < 0) return null;
      if (!/^(https?:|mailto:)/i.test(url)) return null; // no relative addresses either
      return u.href;
    } catch (e) { return null; }
  }
  var INLINE = /\*\*([^*\n]+?)\*\*|\[([^\]\n]+)\]\(([^()\s]+)\)/g;
  function inline(parent, text, bold) {
    var last = 0, m;
    INLINE.lastIndex = 0;
    var found = [];
    while ((m = INLINE.exec(text)) !== null) found.push({ m: m, index: m.index, end: INLINE.lastIndex });
    found.forEach(function (f) {
      var m = f.m;
      if (f.index > last) parent.appendChild(document.createTextNode(text.slice(last, f.index)));
      if (m[1] !== undefined && !bold) {
        var b = document.createElement('strong');
        inline(b, m[1], true);
        parent.appendChild(b);
      } else if (m[2] !== undefined && safeUrl(m[3])) {
        var a = document.createElement('a');
        a.href = safeUrl(m[3]);
        a.rel = 'noopener';
        a.target = '_blank';
        a.textContent = m[2];
        parent.appendChild(a);
      } else {
        parent.appendChild(document.createTextNode(m[0]));
      }
      last = f.end;
    });
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }
  function markdown(parent, text) {
    var lines = String(text).split('\n');
    var para = [], list = null;
    function flushPara() {
      if (!para.length) return;
      var p = document.createElement('p');
      inline(p, para.join('\n'));
      parent.appendChild(p);
      para = [];
    }
    lines.forEach(function (line) {
      var item = /^\s*[-*]\s+(.*)$/.exec(line);
      if (item) {
        flushPara();
        if (!list) { list = document.createElement('ul'); parent.appendChild(list); }
        var li = document.createElement('li');
        inline(li, item[1]);
        list.appendChild(li);
        return;
      }
      list = null;
      if (!line.trim()) { flushPara(); return; }
      para.push(line);
    });
    flushPara();
  }

  window.PersonabotMarkdown = { render: markdown };
})();
