<%inherit file="base.mako"/>
<section class="card narrow">
  <h1>${title}</h1>
  <p class="alert" role="alert">${message}</p>
  <p><a class="button" href="${home}">${t("role.other")}</a></p>
</section>
