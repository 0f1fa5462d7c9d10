// The waiter's scan page: code (scanner, keyboard or camera) → PIN pad → discount, or the venue's own card.
"use strict";
(() => {
  const { api, t, explain, show, config } = window.hub;
  const $ = (id) => document.getElementById(id);
  const skew = Date.parse(config.server_now) - Date.now(); // the hub's clock, not the tablet's
  const now = () => Date.now() + skew;
  let scan = null;
  let timer = null;
  let busy = false;

  const status = (text) => { $("status").textContent = text || ""; };
  const fail = (text) => { $("error").textContent = text; show($("error"), Boolean(text)); };
  const money = (minor) => (minor / 100).toLocaleString(config.lang, { minimumFractionDigits: 2 }) + " " + (config.currency_sign || "");

  function reset() {
    scan = null;
    clearInterval(timer);
    for (const id of ["guest", "pin", "discount", "loyalty", "next", "error"]) show($(id), false);
    $("pin-input").value = "";
    $("attempts").textContent = "";
    status("");
    $("code").value = "";
    $("code").focus();
  }

  function countdown(resendAt) {
    clearInterval(timer);
    const button = $("resend");
    const tick = () => {
      const left = resendAt ? Math.ceil((Date.parse(resendAt) - now()) / 1000) : 0;
      button.disabled = left > 0;
      button.textContent = left > 0 ? t("scan.resend_in", { s: left }) : t("scan.resend");
      if (left <= 0) clearInterval(timer);
    };
    tick();
    timer = setInterval(tick, 1000);
  }

  function showGuest(answer) {
    $("g-program").textContent = answer.program.name;
    $("g-tier").textContent = (answer.member && answer.member.tier_code) || (answer.loyalty && answer.loyalty.tier_name) || "—";
    $("g-name").textContent = (answer.member && answer.member.name_masked) || "—";
    $("g-phone").textContent = answer.pin ? answer.pin.destination_masked : "";
    show($("g-phone-row"), Boolean(answer.pin));
    show($("guest"), true);
  }

  // the scan answer names nobody before the PIN; the PIN's answer carries the guest
  function showMember(member) {
    if (!member) return;
    $("g-tier").textContent = member.tier_code || "—";
    $("g-name").textContent = member.name_masked || "—";
  }

  function showLoyalty(loyalty) {
    $("l-percent").textContent = `${loyalty.discount_percent}%`;
    $("l-balance").textContent = money(loyalty.bonus_balance_minor);
    $("l-payable").textContent = t("scan.payable_pct", { p: loyalty.max_bonus_payment_percent });
    $("l-note").textContent = loyalty.note || "";
    show($("loyalty"), true);
    show($("next"), true);
  }

  function showDiscount(discount) {
    $("d-percent").textContent = `${discount.percent}%`;
    $("d-max").textContent = discount.max_discount_minor ? t("scan.max", { amount: money(discount.max_discount_minor) }) : "";
    $("d-excluded").textContent = discount.excluded_categories.length ? `${t("scan.excluded")}: ${discount.excluded_categories.join(", ")}` : "";
    $("d-perks").textContent = discount.perks.length ? `${t("scan.perks")}: ${discount.perks.join(", ")}` : "";
    show($("pin"), false);
    show($("discount"), true);
    show($("next"), true);
    status(t("scan.verified"));
    $("discount").scrollIntoView({ block: "start" });
    $("next").focus({ preventScroll: true });
  }

  async function submitCode(code) {
    code = code.trim();
    if (!code || busy) return;
    busy = true;
    reset();
    status(t("scan.working"));
    const result = await api("POST", "/v1/scans", { code });
    busy = false;
    status("");
    if (!result.ok) { fail(explain(result.error)); $("code").focus(); return; }
    scan = result.data;
    showGuest(scan);
    if (scan.status === "venue_loyalty") { showLoyalty(scan.loyalty); return; }
    show($("pin"), true);
    countdown(scan.pin.resend_available_at);
    $("pin-input").focus();
  }

  async function submitPin() {
    const pin = $("pin-input").value.trim();
    if (!scan || !pin || busy) return;
    busy = true;
    status(t("scan.working"));
    const result = await api("POST", `/v1/scans/${scan.scan_id}/pin`, { pin });
    busy = false;
    status("");
    if (result.ok) { fail(""); showMember(result.data.member); showDiscount(result.data.discount); return; }
    const error = result.error;
    fail(explain(error));
    $("pin-input").value = "";
    if (error.code === "pin_invalid" && error.details.attempts_left !== undefined) {
      $("attempts").textContent = t("scan.attempts", { n: error.details.attempts_left });
    }
    if (error.code === "pin_expired") { $("resend").disabled = false; $("resend").focus(); return; }
    if (["pin_locked", "pin_already_used"].includes(error.code)) { show($("pin"), false); show($("next"), true); return; }
    $("pin-input").focus();
  }

  async function resend() {
    if (!scan) return;
    const result = await api("POST", `/v1/scans/${scan.scan_id}/pin/resend`);
    if (!result.ok) {
      fail(explain(result.error));
      const retry = result.error.details && result.error.details.retry_after;
      if (retry) countdown(new Date(now() + retry * 1000).toISOString());
      return;
    }
    fail("");
    $("attempts").textContent = "";
    countdown(result.data.resend_available_at);
    $("pin-input").focus();
  }

  async function camera() {
    const button = $("camera");
    const video = $("video");
    if (video.srcObject) {
      video.srcObject.getTracks().forEach((track) => track.stop());
      video.srcObject = null;
      show(video, false);
      button.textContent = t("scan.camera");
      return;
    }
    try {
      const detector = new window.BarcodeDetector();
      video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
      show(video, true);
      await video.play();
      button.textContent = t("scan.camera_stop");
      const look = async () => {
        if (!video.srcObject) return;
        const codes = await detector.detect(video).catch(() => []);
        if (codes.length) {
          const found = codes[0];
          await camera();
          $("code").value = found.rawValue;
          submitCode(found.rawValue);
          return;
        }
        requestAnimationFrame(look);
      };
      look();
    } catch (_) {
      fail(t("err.other"));
    }
  }

  $("scan-form").addEventListener("submit", (event) => { event.preventDefault(); submitCode($("code").value); });
  $("pin-form").addEventListener("submit", (event) => { event.preventDefault(); submitPin(); });
  $("pin-clear").addEventListener("click", () => { $("pin-input").value = ""; $("pin-input").focus(); });
  for (const key of document.querySelectorAll("[data-digit]")) {
    key.addEventListener("click", () => { $("pin-input").value += key.dataset.digit; });
  }
  $("resend").addEventListener("click", resend);
  $("next").addEventListener("click", reset);
  if ("BarcodeDetector" in window && navigator.mediaDevices) {
    show($("camera"), true);
    $("camera").addEventListener("click", camera);
  }
  $("code").focus();
})();
