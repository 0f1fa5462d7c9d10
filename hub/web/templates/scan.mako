<%inherit file="base.mako"/>
<h1 class="visually-hidden">${t("scan.title")}</h1>
<form id="scan-form" class="scan" autocomplete="off">
  <label for="code">${t("scan.code")}</label>
  <div class="row">
    <input id="code" name="code" class="big-input" autofocus required maxlength="512"
           aria-describedby="code-hint" spellcheck="false" autocapitalize="off">
    <button type="submit" class="primary">${t("scan.go")}</button>
  </div>
  <p id="code-hint" class="hint">${t("scan.code_hint")}</p>
  <button type="button" id="camera" class="secondary" hidden>${t("scan.camera")}</button>
  <video id="video" playsinline muted hidden></video>
</form>

<p id="status" class="status" role="status" aria-live="polite"></p>
<p id="error" class="alert" role="alert" hidden></p>

<section id="guest" class="card" hidden aria-labelledby="guest-title">
  <h2 id="guest-title" class="visually-hidden">${t("scan.guest")}</h2>
  <dl class="facts">
    <div><dt>${t("scan.program")}</dt><dd id="g-program"></dd></div>
    <div><dt>${t("scan.tier")}</dt><dd id="g-tier"></dd></div>
    <div><dt>${t("scan.guest")}</dt><dd id="g-name"></dd></div>
    <div id="g-phone-row"><dt>${t("scan.phone")}</dt><dd id="g-phone"></dd></div>
  </dl>
</section>

<section id="pin" class="card" hidden>
  <form id="pin-form" autocomplete="off">
    <label for="pin-input">${t("scan.pin")}</label>
    <input id="pin-input" class="big-input pin-input" inputmode="numeric" autocomplete="one-time-code"
           pattern="[0-9]*" maxlength="10" aria-describedby="attempts">
    <div class="keypad">
      % for digit in "123456789":
      <button type="button" class="key" data-digit="${digit}">${digit}</button>
      % endfor
      <button type="button" class="key key-clear" id="pin-clear">${t("scan.pin_clear")}</button>
      <button type="button" class="key" data-digit="0">0</button>
      <button type="submit" class="key key-ok primary">${t("scan.pin_submit")}</button>
    </div>
    <p id="attempts" class="hint"></p>
  </form>
  <button type="button" id="resend" class="secondary wide" disabled>${t("scan.resend")}</button>
</section>

<section id="discount" class="card result" hidden aria-labelledby="d-title">
  <h2 id="d-title">${t("scan.discount")}</h2>
  <p class="huge" id="d-percent"></p>
  <p id="d-max"></p>
  <p id="d-excluded"></p>
  <p id="d-perks"></p>
</section>

<section id="loyalty" class="card result" hidden aria-labelledby="l-title">
  <h2 id="l-title">${t("scan.own_card")}</h2>
  <p class="huge" id="l-percent"></p>
  <dl class="facts">
    <div><dt>${t("scan.balance")}</dt><dd id="l-balance"></dd></div>
    <div><dt>${t("scan.payable")}</dt><dd id="l-payable"></dd></div>
  </dl>
  <p id="l-note" class="hint"></p>
</section>

<button type="button" id="next" class="primary wide" hidden>${t("scan.next")}</button>
