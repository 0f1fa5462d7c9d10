<%inherit file="base.mako"/>
<h1>${t("con.title")}</h1>
% if view.program is None:
<p class="alert" role="alert">${t("con.no_program")}</p>
% else:
<%
    program = view.program
    member = view.member
    booked = next((r for r in view.referrals if r.id == ask.booked), None)
%>
% if booked is not None:
<p id="con-status" class="status ok" role="status">${t("con.booked_at", venue=booked.venue.name, at=local_time(booked.expected_at, booked.venue_id))}</p>
% endif
% if error:
<p id="con-error" class="alert" role="alert">${error}</p>
% endif

% if len(view.programs) > 1:
<form method="get" action="/app/concierge" class="filters">
  <div>
    <label for="program_id">${t("con.program_pick")}</label>
    <select id="program_id" name="program_id">
      % for p in view.programs:
      <option value="${p.id}" ${'selected' if p.id == program.id else '' | n}>${p.name}</option>
      % endfor
    </select>
  </div>
  <div><button type="submit">${t("con.show")}</button></div>
</form>
% endif

<div class="grid-2">
<section class="card" aria-labelledby="find-title">
  <h2 id="find-title">${t("con.find")}</h2>
  <form method="get" action="/app/concierge" role="search">
    <input type="hidden" name="program_id" value="${program.id}">
    <label for="find">${t("con.find_by")}</label>
    <div class="row">
      <input id="find" name="find" value="${ask.find}" required maxlength="64" autocomplete="off"
             spellcheck="false" aria-describedby="find-hint" ${'' if member else 'autofocus' | n}>
      <button type="submit" class="primary">${t("con.search")}</button>
    </div>
    <p id="find-hint" class="hint">${t("con.find_hint")}</p>
  </form>
  % if view.notice:
  <p id="con-notice" class="alert" role="alert">${view.notice}</p>
  % endif
  % if len(view.found) > 1:
  <h3>${t("con.found")}</h3>
  <ul class="plain" id="found">
    % for m in view.found:
    <li><a href="/app/concierge?${query(member_id=str(m.id)) | n}">${m.name or m.card_number}</a> · ${m.card_number} · ${m.phone_masked}</li>
    % endfor
  </ul>
  % endif
  % if member is not None:
  <dl class="facts" id="guest">
    <div><dt>${t("con.guest")}</dt><dd id="guest-name">${member.name or "—"}</dd></div>
    <div><dt>${t("con.card")}</dt><dd id="guest-card">${member.card_number}</dd></div>
    <div><dt>${t("con.phone")}</dt><dd>${member.phone_masked}</dd></div>
    <div><dt>${t("con.tier")}</dt><dd>${member.tier_name or member.tier_code or "—"}</dd></div>
  </dl>
  % endif
</section>

% if member is not None:
<section class="card" aria-labelledby="book-title">
  <h2 id="book-title">${t("con.book")}</h2>
  % if not view.venues:
  <p class="alert" role="alert">${t("con.no_venues")}</p>
  % else:
  <form method="post" action="/app/concierge" id="book-form">
    <input type="hidden" name="csrf_token" value="${csrf}">
    <input type="hidden" name="program_id" value="${program.id}">
    <input type="hidden" name="member_id" value="${member.id}">
    <input type="hidden" name="status" value="${ask.status or ''}">
    <label for="venue_id">${t("con.venue")}</label>
    <select id="venue_id" name="venue_id" required>
      % for v in view.venues:
      <option value="${v.id}" ${'selected' if str(v.id) == form.get("venue_id") else '' | n}>${v.name} · ${v.district}</option>
      % endfor
    </select>
    <div class="row split">
      <div>
        <label for="expected_at">${t("con.when")}</label>
        <input id="expected_at" name="expected_at" type="datetime-local" required
               value="${form.get('expected_at', '')}" aria-describedby="when-hint">
        <p id="when-hint" class="hint">${t("con.when_hint")}</p>
      </div>
      <div class="narrow-field">
        <label for="party_size">${t("con.party")}</label>
        <input id="party_size" name="party_size" type="number" min="1" max="500" inputmode="numeric"
               value="${form.get('party_size', '')}" aria-describedby="party-hint">
        <p id="party-hint" class="hint">${t("con.party_hint")}</p>
      </div>
    </div>
    <label for="note">${t("con.note")}</label>
    <textarea id="note" name="note" rows="2" maxlength="2000">${form.get("note", "")}</textarea>
    <button type="submit" class="primary wide">${t("con.book")}</button>
  </form>
  % endif
</section>
% endif
</div>

<section class="card" id="referrals" aria-labelledby="ref-title">
  <h2 id="ref-title">${t("con.referrals")}</h2>
  <form method="get" action="/app/concierge#referrals" class="filters">
    <input type="hidden" name="program_id" value="${program.id}">
    % if member is not None:
    <input type="hidden" name="member_id" value="${member.id}">
    % endif
    <div>
      <label for="status">${t("con.status")}</label>
      <select id="status" name="status">
        <option value="">${t("con.all")}</option>
        % for s in statuses:
        <option value="${s}" ${'selected' if s == ask.status else '' | n}>${t("con.s." + s)}</option>
        % endfor
      </select>
    </div>
    <div><button type="submit">${t("con.show")}</button></div>
  </form>
  <% export = f"program_id={program.id}&limit=500" + (f"&status={ask.status}" if ask.status else "") %>
  <p class="actions">
    <a class="button" href="/v1/referrals?format=csv&${export | n}" download>${t("con.download")} CSV</a>
    <a class="button" href="/v1/referrals?format=xlsx&${export | n}" download>${t("con.download")} XLSX</a>
  </p>
  % if view.referrals:
  <div class="table-wrap"><table id="referrals-table">
    <thead><tr>
      <th scope="col">${t("con.when")}</th><th scope="col">${t("con.status")}</th>
      <th scope="col" class="num">${t("con.check_sum")}</th><th scope="col">${t("con.venue")}</th>
      <th scope="col">${t("con.card")}</th><th scope="col" class="num">${t("con.party")}</th>
    </tr></thead>
    <tbody>
    % for r in view.referrals:
      <tr data-referral="${r.id}" ${'class="fresh"' if r.id == ask.booked else '' | n}>
        <th scope="row">${local_time(r.expected_at, r.venue_id)}</th>
        <td><span class="badge ${r.status}" data-role="status">${t("con.s." + r.status)}</span></td>
        <td class="num" data-role="check">${money(r.check_sum_minor, r.currency) if r.check_sum_minor is not None else "—"}</td>
        <td>${r.venue.name}<br><small>${r.venue.district}</small></td>
        <td><a href="/app/concierge?${query(member_id=str(r.member_id)) | n}">${r.card_number}</a></td>
        <td class="num">${r.party_size or "—"}</td>
      </tr>
    % endfor
    </tbody>
  </table></div>
  % else:
  <p>${t("con.none")}</p>
  % endif
  % if view.next_cursor or ask.cursor:
  <p class="actions">
    % if ask.cursor:
    <a class="button" href="/app/concierge?${query() | n}#referrals">${t("con.first")}</a>
    % endif
    % if view.next_cursor:
    <a class="button" href="/app/concierge?${query(cursor=view.next_cursor) | n}#referrals">${t("con.more")}</a>
    % endif
  </p>
  % endif
</section>

% if member is not None:
<section class="card" aria-labelledby="history-title" id="history">
  <h2 id="history-title">${t("con.history")}: ${member.name or member.card_number}</h2>
  <dl class="figures">
    <div class="figure"><dt>${t("con.visits")}</dt><dd id="h-visits">${member.totals.visits}</dd></div>
    <div class="figure"><dt>${t("con.total")}</dt><dd id="h-sum">${money(member.totals.check_sum_minor, member.totals.currency)}</dd></div>
    <div class="figure"><dt>${t("con.last_visit")}</dt><dd>${local_time(member.totals.last_visit_at, view.visits[0].venue.id if view.visits else None)}</dd></div>
  </dl>
  % if member.favourite_venues:
  <h3>${t("con.favourites")}</h3>
  <div class="table-wrap"><table id="favourites">
    <thead><tr><th scope="col">${t("con.venue")}</th><th scope="col">${t("con.district")}</th><th scope="col" class="num">${t("con.visits")}</th><th scope="col">${t("con.last_visit")}</th></tr></thead>
    <tbody>
    % for f in member.favourite_venues:
      <tr><th scope="row">${f.name}</th><td>${f.district}</td><td class="num">${f.visits}</td><td>${local_time(f.last_visit_at, f.id)}</td></tr>
    % endfor
    </tbody>
  </table></div>
  % endif
  <h3>${t("con.visits")}</h3>
  % if view.visits:
  <div class="table-wrap"><table id="guest-visits">
    <thead><tr><th scope="col">${t("con.date")}</th><th scope="col">${t("con.venue")}</th><th scope="col">${t("con.tier")}</th><th scope="col" class="num">${t("con.check_sum")}</th></tr></thead>
    <tbody>
    % for v in view.visits:
      <tr><th scope="row">${local_time(v.verified_at, v.venue.id)}</th><td>${v.venue.name}</td><td>${v.tier_code or "—"}</td><td class="num">${money(v.check_sum_minor, v.currency) if v.check_sum_minor is not None else "—"}</td></tr>
    % endfor
    </tbody>
  </table></div>
  <p class="actions">
    <a class="button" href="/v1/members/${member.id}/visits?format=csv&limit=500" download>${t("con.download")} CSV</a>
  </p>
  % else:
  <p>${t("con.no_visits")}</p>
  % endif
</section>
% endif

% if view.stats is not None:
<% stats = view.stats %>
<p class="hint chart-lead">${t("con.period", **{"from": stats.date_from, "to": stats.date_to})} ·
  <span id="conversion">${t("con.conversion", visited=stats.referrals.visited, booked=stats.referrals.booked, pct=round(stats.referrals.conversion * 100))}</span></p>
<div class="grid-2">
<section class="card" aria-labelledby="top-title">
  <h2 id="top-title">${t("con.top_venues")}</h2>
  % if stats.top_venues:
  <div class="chart" id="chart-venues">${charts["venues"] | n}</div>
  <div class="table-wrap"><table id="top-venues">
    <thead><tr><th scope="col">${t("con.venue")}</th><th scope="col" class="num">${t("con.visits")}</th><th scope="col" class="num">${t("con.guests")}</th><th scope="col" class="num">${t("con.check_sum")}</th></tr></thead>
    <tbody>
    % for v in stats.top_venues:
      <tr><th scope="row">${v.venue_name}</th><td class="num">${v.visits}</td><td class="num">${v.unique_guests}</td><td class="num">${money(v.check_sum_minor, stats.currency)}</td></tr>
    % endfor
    </tbody>
  </table></div>
  % else:
  <p>${t("con.no_ranking")}</p>
  % endif
</section>
<section class="card" aria-labelledby="district-title">
  <h2 id="district-title">${t("con.districts")}</h2>
  % if stats.by_district:
  <div class="chart" id="chart-districts">${charts["districts"] | n}</div>
  <div class="table-wrap"><table id="districts">
    <thead><tr><th scope="col">${t("con.district")}</th><th scope="col" class="num">${t("con.visits")}</th><th scope="col" class="num">${t("con.guests")}</th><th scope="col" class="num">${t("con.check_sum")}</th></tr></thead>
    <tbody>
    % for d in stats.by_district:
      <tr><th scope="row">${d.district}${f" · {d.city}" if d.city else ""}</th><td class="num">${d.visits}</td><td class="num">${d.unique_guests}</td><td class="num">${money(d.check_sum_minor, stats.currency)}</td></tr>
    % endfor
    </tbody>
  </table></div>
  % else:
  <p>${t("con.no_ranking")}</p>
  % endif
</section>
</div>
<p class="hint">${t("con.k_hint", k=stats.k_anonymity)}</p>
% endif
% endif
