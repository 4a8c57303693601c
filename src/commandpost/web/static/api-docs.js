// Starts Swagger UI on /docs or ReDoc on /redoc (web/api_docs.py): a file, since the pages'
// Content-Security-Policy allows no inline script.
"use strict";
(function () {
  const swagger = document.getElementById("swagger-ui");
  if (swagger && window.SwaggerUIBundle) {
    window.SwaggerUIBundle({
      url: swagger.dataset.openapiUrl,
      dom_id: "#swagger-ui",
      layout: "BaseLayout",
      deepLinking: true,
      showExtensions: true,
      presets: [window.SwaggerUIBundle.presets.apis],
    });
  }
  const redoc = document.getElementById("redoc");
  if (redoc && window.Redoc) {
    window.Redoc.init(redoc.dataset.openapiUrl, {}, redoc);
  }
})();
