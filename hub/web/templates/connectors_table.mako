% if connectors:
<div class="table-wrap"><table id="connectors-table">
  <thead><tr>
    <th scope="col">${t("conn.name")}</th><th scope="col">${t("conn.status")}</th>
    <th scope="col">${t("conn.last_ok")}</th><th scope="col">${t("conn.last_fail")}</th>
    <th scope="col" class="num">${t("conn.queue")}</th><th scope="col" class="num">${t("conn.dead")}</th>
    <th scope="col" class="num">${t("conn.latency")}</th><th scope="col" class="num">${t("conn.errors")}</th>
    <th scope="col">${t("conn.token")}</th><th scope="col"><span class="visually-hidden">${t("conn.replay")}</span></th>
  </tr></thead>
  <tbody>
  % for c in connectors:
    <% h = c.health %>
    <tr data-connector="${c.id}">
      <th scope="row">${c.name}<br><small>${c.kind}</small></th>
      <td><span class="badge ${c.status}">${c.status}</span>
        % if c.status_reason:
        <br><small>${c.status_reason}</small>
        % endif
        % if c.paused_until:
        <br><small>→ ${when(c.paused_until)}</small>
        % endif
      </td>
      <td>${when(h.last_success_at) if h else "—"}</td>
      <td>${when(h.last_failure_at) if h and h.last_failure_at else "—"}</td>
      <td class="num">${(h.pending + h.retrying) if h else "—"}</td>
      <td class="num">${h.dead if h else "—"}</td>
      <td class="num">${f"{h.latency_p50_ms} / {h.latency_p99_ms} ms" if h and h.latency_p50_ms is not None else "—"}</td>
      <td class="num">${percent(h.error_rate) if h else "—"}</td>
      <td>${when(h.token_expires_at) if h and h.token_expires_at else "—"}</td>
      <td>
        % if h and h.dead:
        <button type="button" class="replay" data-connector="${c.id}" data-from="${replay_from}"
                aria-label="${t('conn.replay')}: ${c.name}">${t("conn.replay")}</button>
        % endif
      </td>
    </tr>
  % endfor
  </tbody>
</table></div>
% else:
<p>${t("venue.no_connectors")}</p>
% endif
