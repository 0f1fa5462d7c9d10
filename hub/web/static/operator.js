// The operator board: retry one dead delivery, replay a connector's dead ones, import members with progress.
"use strict";
(() => {
  const { api, t, explain, show } = window.hub;
  const $ = (id) => document.getElementById(id);
  const say = (text) => { $("ops-status").textContent = text; };

  for (const button of document.querySelectorAll("button.retry")) {
    button.addEventListener("click", async () => {
      button.disabled = true;
      const result = await api("POST", `/v1/deliveries/${button.dataset.delivery}/retry`);
      if (!result.ok) { button.disabled = false; say(explain(result.error)); return; }
      const state = button.closest("tr").querySelector("[data-role=state]");
      state.textContent = result.data.status;
      state.className = `badge ${result.data.status}`;
      button.textContent = t("ops.retried");
      say(t("ops.retried"));
    });
  }

  for (const button of document.querySelectorAll("button.replay")) {
    button.addEventListener("click", async () => {
      button.disabled = true;
      const body = { from: button.dataset.from, status: "dead" };
      const result = await api("POST", `/v1/connectors/${button.dataset.connector}/replay`, body);
      if (!result.ok) { button.disabled = false; say(explain(result.error)); return; }
      say(t("ops.replayed", { n: result.data.count }));
    });
  }

  const form = $("import-form");
  if (form) form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const result = await api("POST", "/app/operator/import", new FormData(form));
    if (!result.ok) { say(explain(result.error)); return; }
    show($("import-progress"), true);
    follow(result.data.id);
  });

  async function follow(jobId) {
    const result = await api("GET", `/app/operator/import/${jobId}`);
    if (!result.ok) { say(explain(result.error)); return; }
    const job = result.data;
    const bar = $("import-bar");
    bar.max = Math.max(job.total, 1);
    bar.value = job.done;
    if (!job.finished) {
      $("import-text").textContent = t("ops.import_running", { done: job.done, total: job.total });
      setTimeout(() => follow(jobId), 500);
      return;
    }
    bar.value = bar.max;
    $("import-text").textContent = job.error || t("ops.import_done", job);
    const list = $("import-rejections");
    list.replaceChildren(...job.rejections.map((r) => {
      const item = document.createElement("li");
      item.textContent = `${r.line}: ${r.message}`;
      return item;
    }));
  }
})();
