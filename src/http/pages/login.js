// This page is also the answer to a refused sign-in (POST /agent/login or /review/login): say so.
if (/^\/(agent|review)\/login$/.test(window.location.pathname)) {
  document.getElementById('error').hidden = false;
}
