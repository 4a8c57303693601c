// commandpost pages: a little progressive enhancement. Every form works without this file
// (POST → redirect → GET); with it, forms post in the background, the incident timeline
// follows the `after` cursor every 1.5 s, "time since" stays current, and Copy buttons
// (hidden without this file: app.css shows them under html.js) copy their data-copy text; keyboard
// shortcuts ("?" lists them).
"use strict";

(function () {
  const POLL_MS = 1500;
  document.documentElement.classList.add("js");

  function flash(message, bad) {
    const box = document.getElementById("flash");
    if (!box) return;
    box.textContent = message;
    box.className = "flash" + (bad ? " bad" : "");
    box.hidden = false;
    clearTimeout(box._timer);
    box._timer = setTimeout(() => { box.hidden = true; }, bad ? 9000 : 3500);
  }

  function span(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    const d = Math.floor(seconds / 86400), h = Math.floor((seconds % 86400) / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    if (d) return h ? `${d}d ${h}h` : `${d}d`;
    if (h) return m ? `${h}h ${m}m` : `${h}h`;
    if (m) return `${m}m`;
    return `${seconds}s`;
  }

  function refreshTimes() {
    const now = Date.now();
    document.querySelectorAll("time[data-since]").forEach((el) => {
      const at = Date.parse(el.getAttribute("datetime"));
      if (!isNaN(at)) el.textContent = span((now - at) / 1000);
    });
    document.querySelectorAll("time[data-until]").forEach((el) => {
      const at = Date.parse(el.getAttribute("datetime"));
      if (!isNaN(at)) el.textContent = at > now ? span((at - now) / 1000) : span((now - at) / 1000) + " overdue";
    });
  }

  async function post(form) {
    const body = new URLSearchParams(new FormData(form));
    const response = await fetch(form.action, {
      method: "POST",
      body,
      credentials: "same-origin",
      headers: { "X-CommandPost-Fetch": "1", "Content-Type": "application/x-www-form-urlencoded" },
    });
    let data = {};
    try { data = await response.json(); } catch (_) { /* not JSON */ }
    if (response.status === 401) { window.location.href = "/login?next=" + encodeURIComponent(location.pathname); return; }
    if (!response.ok) throw new Error((data.error && data.error.message) || `refused (${response.status})`);
    return data;
  }

  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-enhance")) return;
    event.preventDefault();
    const buttons = form.querySelectorAll("button");
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const data = await post(form);
      if (data) flash(data.message || "done");
      if (form.hasAttribute("data-reset")) form.querySelectorAll("input[name=text], textarea[name=body]").forEach((i) => { i.value = ""; });
      // a live panel is not replaced while focus is inside it: let the one this form sits in refresh
      if (form.contains(document.activeElement)) document.activeElement.blur();
      const asked = form.closest("details.confirm");
      if (asked) asked.open = false;
      if (form.hasAttribute("data-reload")) { window.location.reload(); return; }
      if (live) live.poll();
    } catch (error) {
      flash(error.message, true);
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  });

  document.addEventListener("change", (event) => {
    const select = event.target;
    if (!(select instanceof HTMLSelectElement) || !select.hasAttribute("data-template-select")) return;
    const form = select.form;
    const tpl = form.querySelector(`template[data-template="${select.value}"]`);
    const area = form.querySelector("textarea[name=body]");
    if (tpl && area) area.value = tpl.content.textContent;
  });

  function Live(root) {
    this.root = root;
    this.url = root.getAttribute("data-live-url");
    this.cursor = parseInt(root.getAttribute("data-cursor") || "0", 10);
    this.busy = false;
  }

  Live.prototype.poll = async function () {
    if (this.busy || document.hidden) return;
    this.busy = true;
    try {
      const response = await fetch(`${this.url}?after=${this.cursor}`, {
        credentials: "same-origin", headers: { "X-CommandPost-Fetch": "1" }, cache: "no-store",
      });
      if (response.status === 401) { window.location.reload(); return; }
      if (!response.ok) return;
      const data = await response.json();
      if (!data.count) return;
      this.cursor = data.cursor;
      this.root.setAttribute("data-cursor", String(data.cursor));
      const list = document.getElementById("timeline");
      const holder = document.createElement("ol");
      holder.innerHTML = data.html;
      const fresh = Array.from(holder.children);
      fresh.reverse().forEach((li) => {
        li.classList.add("fresh");
        list.insertBefore(li, list.firstChild);
      });
      const count = document.getElementById("entry-count");
      if (count) count.textContent = String(parseInt(count.textContent, 10) + data.count);
      Object.entries(data.panels || {}).forEach(([name, html]) => {
        const old = document.querySelector(`[data-live="${name}"]`);
        if (!old || old.contains(document.activeElement)) return;
        const box = document.createElement("div");
        box.innerHTML = html;
        if (box.firstElementChild) old.replaceWith(box.firstElementChild);
      });
      refreshTimes();
      if (data.more) setTimeout(() => this.poll(), 0);
    } catch (_) {
      /* the next tick tries again */
    } finally {
      this.busy = false;
    }
  };

  let live = null;
  const root = document.getElementById("command-post");
  if (root && root.getAttribute("data-live-url") && !location.search.includes("before=")) {
    live = new Live(root);
    setInterval(() => live.poll(), POLL_MS);
  }

  document.addEventListener("click", async (event) => {
    const link = event.target.closest ? event.target.closest("#load-earlier") : null;
    if (!link || !root) return;
    event.preventDefault();
    const response = await fetch(`${root.getAttribute("data-live-url")}?before=${link.getAttribute("data-before")}`, {
      credentials: "same-origin", headers: { "X-CommandPost-Fetch": "1" },
    });
    if (!response.ok) { flash("could not load earlier entries", true); return; }
    const data = await response.json();
    document.getElementById("timeline").insertAdjacentHTML("beforeend", data.html);
    if (data.earlier) link.setAttribute("data-before", String(data.earlier)); else link.remove();
  });

  // Copy: the Clipboard API where the page is a secure context (https, localhost); elsewhere (a
  // phone on http://10.0.0.5) the older execCommand("copy") on a selected, off-screen textarea.
  async function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return;
    }
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "offscreen";
    document.body.appendChild(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    if (!ok) throw new Error("the browser refused to copy; select the text and copy it by hand");
  }

  document.addEventListener("click", async (event) => {
    const button = event.target.closest ? event.target.closest("button[data-copy]") : null;
    if (!button) return;
    event.preventDefault();
    try {
      await copyText(button.getAttribute("data-copy"));
      button.textContent = "Copied";
      button.classList.add("copied");
      flash("copied: " + button.getAttribute("data-copy"));
      setTimeout(() => { button.textContent = "Copy"; button.classList.remove("copied"); }, 2000);
    } catch (error) {
      flash(error.message || "could not copy", true);
    }
  });

  // A box that scrolls sideways (a wide table on a phone, a long diff) takes keyboard focus where it
  // overflows, so the arrow keys can scroll it; where it fits it is no Tab stop.
  function focusableScrollers() {
    document.querySelectorAll(".scroll-x, pre").forEach((box) => {
      const wide = box.scrollWidth > box.clientWidth;
      if (wide && !box.hasAttribute("tabindex")) {
        box.setAttribute("tabindex", "0");
        box.setAttribute("data-scroll-focus", "");
      } else if (!wide && box.hasAttribute("data-scroll-focus")) {
        box.removeAttribute("tabindex");
        box.removeAttribute("data-scroll-focus");
      }
    });
  }
  focusableScrollers();
  window.addEventListener("resize", () => requestAnimationFrame(focusableScrollers));
  // a live region replaced (live.js) brings new boxes that may scroll
  document.addEventListener("commandpost:live", () => requestAnimationFrame(focusableScrollers));

  // Keyboard shortcuts, listed in the dialog "?" opens (base.html; pages for people logged in): never
  // while typing in a field, nor with Ctrl, Alt or Meta (the browser's own). "g" then a letter goes to a page.
  const GO = { i: "/incidents", d: "/declare", o: "/oncall", r: "/runbooks", p: "/postmortems", m: "/insights", s: "/status" };
  const help = document.getElementById("shortcuts");
  let gAt = 0;
  const typing = (el) => el instanceof HTMLElement && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  document.addEventListener("keydown", (event) => {
    if (!help || help.open || event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    const key = event.key, afterG = Date.now() - gAt < 1500;
    gAt = 0;
    if (afterG && GO[key]) {
      event.preventDefault();
      window.location.href = GO[key];
    } else if (key === "g") {
      gAt = Date.now();
    } else if (key === "?") {
      event.preventDefault();
      help.showModal();
    } else if (key === "a") {
      const ack = document.querySelector("form.ack-form");
      if (ack) { event.preventDefault(); ack.requestSubmit(); }
    } else if (key === "n") {
      const box = document.querySelector(".entry-form input[name=text]");
      if (box) { event.preventDefault(); box.focus(); }
    }
  });
  document.addEventListener("click", (event) => {
    if (help && event.target.closest && event.target.closest(".shortcuts-open")) help.showModal();
  });

  refreshTimes();
  setInterval(refreshTimes, 15000);
})();
