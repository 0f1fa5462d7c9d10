<%inherit file="base.mako"/>
<h1>${t("ops.title")}</h1>
<p id="ops-status" class="status" role="status" aria-live="polite"></p>

<section class="card" aria-labelledby="conn-title">
  <h2 id="conn-title">${t("ops.connectors")}</h2>
  <%include file="connectors_table.mako"/>
</section>

<section class="card" aria-labelledby="dead-title">
  <h2 id="dead-title">${t("ops.dead")}</h2>
  % if dead:
  <div class="table-wrap"><table id="dead-table">
    <thead><tr><th scope="col">${t("ops.event")}</th><th scope="col">${t("conn.name")}</th><th scope="col" class="num">${t("ops.attempts")}</th><th scope="col">${t("ops.error")}</th><th scope="col">${t("conn.status")}</th><th scope="col"><span class="visually-hidden">${t("ops.retry")}</span></th></tr></thead>
    <tbody>
    % for d in dead:
      <tr data-delivery="${d.id}">
        <td>${d.event_type}<br><small>${when(d.created_at)}</small></td>
        <td>${names.get(d.connector_id, str(d.connector_id)[:8])}</td>
        <td class="num">${d.attempts}</td>
        <td>${d.last_status_code or ""} ${d.last_error or ""}</td>
        <td><span class="badge ${d.status}" data-role="state">${d.status}</span></td>
        <td><button type="button" class="retry" data-delivery="${d.id}"
                    aria-label="${t('ops.retry')}: ${d.event_type} → ${names.get(d.connector_id, '')}">${t("ops.retry")}</button></td>
      </tr>
    % endfor
    </tbody>
  </table></div>
  % else:
  <p class="ok">${t("ops.no_dead")}</p>
  % endif
</section>

<section class="card" aria-labelledby="import-title">
  <h2 id="import-title">${t("ops.import")}</h2>
  <form id="import-form" enctype="multipart/form-data">
    <input type="hidden" name="csrf_token" value="${csrf}">
    <div class="filters">
      <div>
        <label for="import-program">${t("ops.import_program")}</label>
        <select id="import-program" name="program_id" required>
          % for p in programs:
          <option value="${p.id}">${p.name}</option>
          % endfor
        </select>
      </div>
      <div>
        <label for="import-file">${t("ops.import_file")}</label>
        <input id="import-file" name="file" type="file" accept=".csv,text/csv" required>
      </div>
      <div><button type="submit" class="primary">${t("ops.import_start")}</button></div>
    </div>
  </form>
  <div id="import-progress" hidden>
    <label for="import-bar">${t("ops.import_progress")}</label>
    <progress id="import-bar" max="1" value="0"></progress>
    <p id="import-text" role="status" aria-live="polite"></p>
    <ul id="import-rejections"></ul>
  </div>
</section>
