/*
 * Deep Linking 2.0 §4.5: the tool returns the LtiDeepLinkingResponse by an auto-submitted form POST of the
 * JWT to the platform's deep_link_return_url. Without JavaScript the page shows the submit button instead.
 * A static file rather than an inline script, so the tool's pages never need script-src 'unsafe-inline'.
 */
(function () {
  "use strict";
  var form = document.getElementById("deep-link-return");
  if (form) { form.submit(); }
}());
