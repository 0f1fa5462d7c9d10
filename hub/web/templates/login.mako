<%inherit file="base.mako"/>
<section class="card narrow">
  <h1>${t("login.title")}</h1>
  % if error:
  <p class="alert" role="alert">${error}</p>
  % endif
  <form method="post" action="/app/login">
    <input type="hidden" name="csrf_token" value="${login_csrf}">
    <input type="hidden" name="next" value="${next}">
    <label for="api_key">${t("login.key")}</label>
    <input id="api_key" name="api_key" type="password" autocomplete="current-password" required autofocus
           aria-describedby="key-hint" spellcheck="false">
    <p id="key-hint" class="hint">${t("login.hint")}</p>
    <button type="submit" class="primary">${t("login.submit")}</button>
  </form>
</section>
