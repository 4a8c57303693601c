// Live regions (issue 18, item 8): an element with data-live-region is fetched again every
// data-live-every milliseconds (default 1500) from this page's own URL with X-CommandPost-Live: 1,
// which answers that region alone with an ETag; a 304 (unchanged) costs nothing more, a change
// replaces the region. Nothing is fetched while the tab is hidden (and it catches up when shown),
// nor replaced while focus is inside the region. Without JavaScript the page is as of its load.
"use strict";

(function () {
  function Region(el) {
    this.el = el;
    this.etag = null;
    this.busy = false;
    this.every = parseInt(el.getAttribute("data-live-every") || "1500", 10);
  }

  Region.prototype.poll = async function () {
    if (this.busy || document.hidden) return;
    this.busy = true;
    try {
      const headers = { "X-CommandPost-Live": "1", "X-CommandPost-Fetch": "1" };
      if (this.etag) headers["If-None-Match"] = this.etag;
      const response = await fetch(location.pathname + location.search, {
        credentials: "same-origin", headers, cache: "no-store",
      });
      // logged out meanwhile (redirected to /login, or 401): the whole page says so
      if (response.status === 401 || response.redirected) { window.location.reload(); return; }
      if (response.status !== 200) return; // 304: unchanged; anything else: the next tick tries again
      const html = await response.text();
      if (this.el.contains(document.activeElement)) return; // not under the reader's hands
      const box = document.createElement("div");
      box.innerHTML = html;
      const fresh = box.querySelector("[data-live-region]");
      if (!fresh) return;
      this.etag = response.headers.get("ETag");
      if (fresh.isEqualNode(this.el)) return; // the first answer, as the page was loaded
      this.el.replaceWith(fresh);
      this.el = fresh;
      document.dispatchEvent(new CustomEvent("commandpost:live", { detail: fresh }));
    } catch (_) {
      /* offline for a moment: the next tick tries again */
    } finally {
      this.busy = false;
    }
  };

  const regions = Array.from(document.querySelectorAll("[data-live-region]")).map((el) => new Region(el));
  regions.forEach((region) => setInterval(() => region.poll(), region.every));
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) regions.forEach((region) => region.poll());
  });
})();
