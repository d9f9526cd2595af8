// The chat as a bubble on another site: <script src="https://SERVER/widget.js" async></script>.
// The chat itself runs in a frame of SERVER's own page (/?widget=1), so the host page never sees
// the conversation and the chat keeps its own storage, CSP and origin. Only pages of the origins
// the operator lists in http.widget_origins get the bubble (and only they may frame the page).
(function () {
  'use strict';
  var CONFIG = /*CONFIG*/null;
  if (!CONFIG || window.__personabotWidget) return;
  var script = document.currentScript;
  var base;
  try { base = new URL(script.src).origin; } catch (e) { return; }

  function matches(pattern, origin) {
    pattern = String(pattern).toLowerCase();
    if (pattern === origin) return true;
    var p = /^(https?):\/\/\*\.([^/]+)$/.exec(pattern);
    var o = /^(https?):\/\/([^/]+)$/.exec(origin);
    if (!p || !o || p[1] !== o[1]) return false;
    var suffix = '.' + p[2];
    return o[2].length > suffix.length && o[2].slice(-suffix.length) === suffix;
  }
  var here = String(window.location.origin).toLowerCase();
  if (!CONFIG.origins.some(function (o) { return matches(o, here); })) {
    if (window.console) {
      console.warn('The ' + CONFIG.name + ' support widget is not enabled for ' + here +
        ': add it to http.widget_origins on ' + base + '.');
    }
    return;
  }
  window.__personabotWidget = true;

  var SVG = 'http://www.w3.org/2000/svg';
  function icon(paths) {
    var svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('width', '26');
    svg.setAttribute('height', '26');
    svg.setAttribute('fill', 'none');
    svg.setAttribute('stroke', 'currentColor');
    svg.setAttribute('stroke-width', '2');
    svg.setAttribute('stroke-linecap', 'round');
    svg.setAttribute('stroke-linejoin', 'round');
    svg.setAttribute('aria-hidden', 'true');
    paths.forEach(function (d) {
      var path = document.createElementNS(SVG, 'path');
      path.setAttribute('d', d);
      svg.appendChild(path);
    });
    return svg;
  }
  var CHAT = ['M21 12a8 8 0 0 1-11.6 7.1L4 20l1-4.6A8 8 0 1 1 21 12z'];
  var CLOSE = ['M6 6l12 12', 'M18 6 6 18'];

  var accent = CONFIG.accent || '#b7410e';
  var ink = CONFIG.ink || '#ffffff';
  var button = document.createElement('button');
  button.type = 'button';
  button.id = 'personabot-widget-button';
  button.setAttribute('aria-label', 'Chat with ' + CONFIG.name + ' support');
  button.setAttribute('aria-expanded', 'false');
  button.setAttribute('aria-controls', 'personabot-widget-panel');
  Object.assign(button.style, {
    position: 'fixed', right: '20px', bottom: '20px', zIndex: '2147483646',
    width: '58px', height: '58px', borderRadius: '50%', border: '0', padding: '0',
    display: 'grid', placeItems: 'center', cursor: 'pointer',
    background: accent, color: ink,
    boxShadow: '0 6px 20px rgba(0,0,0,.25)'
  });
  button.appendChild(icon(CHAT));

  var panel = document.createElement('div');
  panel.id = 'personabot-widget-panel';
  panel.setAttribute('role', 'dialog');
  panel.setAttribute('aria-label', CONFIG.name + ' support');
  panel.hidden = true;
  Object.assign(panel.style, {
    position: 'fixed', right: '20px', bottom: '92px', zIndex: '2147483647',
    width: 'min(390px, calc(100vw - 40px))', height: 'min(620px, calc(100vh - 120px))',
    borderRadius: '16px', overflow: 'hidden', background: '#ffffff',
    boxShadow: '0 12px 40px rgba(0,0,0,.28)', border: '1px solid rgba(0,0,0,.08)'
  });
  var frame = null;

  function open(on) {
    if (on && !frame) {
      frame = document.createElement('iframe');
      frame.id = 'personabot-widget-frame';
      frame.src = base + '/?widget=1';
      frame.title = CONFIG.name + ' support chat';
      Object.assign(frame.style, { width: '100%', height: '100%', border: '0', display: 'block' });
      panel.appendChild(frame);
    }
    panel.hidden = !on;
    panel.style.display = on ? 'block' : 'none';
    button.setAttribute('aria-expanded', on ? 'true' : 'false');
    button.setAttribute('aria-label', (on ? 'Close the chat with ' : 'Chat with ') + CONFIG.name + ' support');
    button.textContent = '';
    button.appendChild(icon(on ? CLOSE : CHAT));
    if (on && frame) frame.focus();
  }
  button.addEventListener('click', function () { open(panel.hidden); });
  document.addEventListener('keydown', function (e) {
    if (e.key === 'Escape' && !panel.hidden) { open(false); button.focus(); }
  });
  panel.style.display = 'none';

  function mount() {
    document.body.appendChild(panel);
    document.body.appendChild(button);
  }
  if (document.body) mount();
  else document.addEventListener('DOMContentLoaded', mount);
})();
