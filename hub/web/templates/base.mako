<%!
    import msgspec
    def json_script(value):
        return msgspec.json.encode(value).decode().replace("</", "<\\/")
%>\
<!doctype html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · ${t("app.title")}</title>
<link rel="stylesheet" href="/app/static/app.css">
<script type="application/json" id="hub-config">${json_script({"csrf": csrf, "lang": lang, "messages": messages, **page_config}) | n}</script>
% for script in scripts:
<script src="/app/static/${script}" defer></script>
% endfor
</head>
<body>
<header class="top">
  <a class="brand" href="/app">${t("app.title")}</a>
  % if nav:
  <nav aria-label="${t('nav.main')}">
    % for href, key in nav:
    <a href="${href}" ${'aria-current="page"' if path == href else '' | n}>${t(key)}</a>
    % endfor
  </nav>
  % endif
  <div class="tools">
    <a href="/app/lang/${other_lang}?next=${here | u}" lang="${other_lang}">${t("nav.lang")}</a>
    % if user is not None:
    <form method="post" action="/app/logout" class="inline">
      <input type="hidden" name="csrf_token" value="${csrf}">
      <button type="submit" class="link">${t("nav.logout")}</button>
    </form>
    % endif
  </div>
</header>
<main id="main">
${next.body()}
</main>
</body>
</html>
