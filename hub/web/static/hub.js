// Shared by the pages: the page's config (CSRF token, messages) and calls to the hub's own JSON API.
"use strict";
window.hub = (() => {
  const config = JSON.parse(document.getElementById("hub-config").textContent);
  const t = (key, values) => {
    let text = config.messages[key] || key;
    for (const [name, value] of Object.entries(values || {})) text = text.replace(`{${name}}`, value);
    return text;
  };
  async function api(method, path, body) {
    const headers = { Accept: "application/json", "X-CSRF-Token": config.csrf };
    const init = { method, headers, credentials: "same-origin" };
    if (body instanceof FormData) init.body = body;
    else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (_) {
      return { ok: false, status: 0, error: { code: "network", message: t("err.network"), details: {} } };
    }
    const data = await response.json().catch(() => ({}));
    if (response.ok) return { ok: true, status: response.status, data };
    return { ok: false, status: response.status, error: data.error || { code: "other", message: "", details: {} } };
  }
  // what to tell a person about an API error: our own words for the codes we know, else the hub's message
  const explain = (error) => config.messages[`err.${error.code}`] || error.message || t("err.other");
  const show = (el, visible) => { el.hidden = !visible; };
  return { config, t, api, explain, show };
})();
