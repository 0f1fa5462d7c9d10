<%inherit file="base.mako"/>
<h1>${t("venue.title")}</h1>
% if not venues:
<p>${t("venue.none")}</p>
% else:
<form method="get" action="/app/venue" class="filters">
  <div>
    <label for="venue_id">${t("venue.pick")}</label>
    <select id="venue_id" name="venue_id">
      % for v in venues:
      <option value="${v.id}" ${'selected' if v.id == chosen else '' | n}>${v.name} · ${v.city}</option>
      % endfor
    </select>
  </div>
  <div><label for="from">${t("venue.from")}</label><input id="from" name="from" type="date" value="${stats.date_from if stats else ''}"></div>
  <div><label for="to">${t("venue.to")}</label><input id="to" name="to" type="date" value="${stats.date_to if stats else ''}"></div>
  <div><button type="submit">${t("venue.show")}</button></div>
</form>
% endif
% if stats is not None:
<% q = f"from={stats.date_from}&to={stats.date_to}" %>
<dl class="figures" id="figures">
  <div class="figure"><dt>${t("venue.visits")}</dt><dd id="f-visits">${stats.visits}</dd></div>
  <div class="figure"><dt>${t("venue.guests")}</dt><dd id="f-guests">${stats.unique_guests}</dd></div>
  <div class="figure"><dt>${t("venue.receipts")}</dt><dd id="f-receipts">${stats.receipts}</dd></div>
  <div class="figure"><dt>${t("venue.awaiting")}</dt><dd id="f-awaiting">${stats.visits_awaiting_check}</dd></div>
  <div class="figure"><dt>${t("venue.check_sum")}</dt><dd id="f-sum">${money(stats.check_sum_minor)}</dd></div>
  <div class="figure"><dt>${t("venue.average")}</dt><dd id="f-average">${money(stats.average_check_minor)}</dd></div>
  <div class="figure"><dt>${t("venue.discounts")}</dt><dd>${money(stats.discount_sum_minor)}</dd></div>
</dl>
<p class="actions">
  <a class="button" href="/v1/venues/${chosen}/stats?format=csv&${q | n}" download>${t("venue.download")} CSV</a>
  <a class="button" href="/v1/venues/${chosen}/stats?format=xlsx&${q | n}" download>${t("venue.download")} XLSX</a>
</p>
<section class="card" aria-labelledby="day-title">
  <h2 id="day-title">${t("venue.by_day")}</h2>
  % if stats.by_day:
  <div class="chart">${charts["by_day"] | n}</div>
  <div class="table-wrap"><table>
    <thead><tr><th scope="col">${t("venue.date")}</th><th scope="col" class="num">${t("venue.visits")}</th><th scope="col" class="num">${t("venue.guests")}</th><th scope="col" class="num">${t("venue.awaiting")}</th><th scope="col" class="num">${t("venue.check_sum")}</th><th scope="col" class="num">${t("venue.average")}</th></tr></thead>
    <tbody>
    % for d in stats.by_day:
      <tr><th scope="row">${d.date}</th><td class="num">${d.visits}</td><td class="num">${d.unique_guests}</td><td class="num">${d.visits_awaiting_check}</td><td class="num">${money(d.check_sum_minor)}</td><td class="num">${money(d.average_check_minor)}</td></tr>
    % endfor
    </tbody>
  </table></div>
  % else:
  <p>${t("venue.nothing")}</p>
  % endif
</section>
<div class="grid-2">
<section class="card" aria-labelledby="program-title">
  <h2 id="program-title">${t("venue.by_program")}</h2>
  % if stats.by_program:
  <div class="chart">${charts["by_program"] | n}</div>
  % endif
  <div class="table-wrap"><table id="by-program">
    <thead><tr><th scope="col">${t("venue.program")}</th><th scope="col" class="num">${t("venue.visits")}</th><th scope="col" class="num">${t("venue.guests")}</th><th scope="col" class="num">${t("venue.check_sum")}</th></tr></thead>
    <tbody>
    % for p in stats.by_program:
      <tr><th scope="row">${p.program_name}</th><td class="num">${p.visits}</td><td class="num">${p.unique_guests}</td><td class="num">${money(p.check_sum_minor)}</td></tr>
    % endfor
    </tbody>
  </table></div>
</section>
<section class="card" aria-labelledby="tier-title">
  <h2 id="tier-title">${t("venue.by_tier")}</h2>
  <div class="table-wrap"><table id="by-tier">
    <thead><tr><th scope="col">${t("venue.tier")}</th><th scope="col">${t("venue.program")}</th><th scope="col" class="num">${t("venue.visits")}</th><th scope="col" class="num">${t("venue.check_sum")}</th><th scope="col" class="num">${t("venue.average")}</th></tr></thead>
    <tbody>
    % for r in stats.by_tier:
      <tr><th scope="row">${r.tier_name or r.tier_code or "—"}</th><td>${r.program_name}</td><td class="num">${r.visits}</td><td class="num">${money(r.check_sum_minor)}</td><td class="num">${money(r.average_check_minor)}</td></tr>
    % endfor
    </tbody>
  </table></div>
</section>
</div>
<section class="card" aria-labelledby="conn-title">
  <h2 id="conn-title">${t("venue.connectors")}</h2>
  <p id="ops-status" class="status" role="status" aria-live="polite"></p>
  <%include file="connectors_table.mako"/>
</section>
% endif
