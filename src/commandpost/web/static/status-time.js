// The public status page is in the org's timezone and says which (status.html, .status-zone). A
// reader whose browser is elsewhere also sees each time in their own, in brackets:
// "2026-06-24 14:00 JST [2026-06-24 07:00 your time]". Without JavaScript, the org's alone.
(() => {
  "use strict";
  const own = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const format = new Intl.DateTimeFormat("sv-SE", {
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  });

  function mark(root) {
    const note = root.querySelector(".status-zone");
    if (!own || !note || note.dataset.zone === own || note.querySelector(".yours")) return;
    const said = document.createElement("span");
    said.className = "yours";
    said.textContent = ` Your own (${own}) in brackets.`;
    note.append(said);
    for (const time of root.querySelectorAll("time[datetime]")) {
      const at = new Date(time.getAttribute("datetime"));
      if (Number.isNaN(at.getTime())) continue;
      const yours = document.createElement("span");
      yours.className = "yours";
      yours.textContent = ` [${format.format(at)} your time]`;
      time.after(yours);
    }
  }

  mark(document);
  // live.js replaces the region every few seconds with the server's copy, which has no brackets
  document.addEventListener("commandpost:live", (event) => mark(event.detail));
})();
