// Starts Swagger UI on the API docs page (/api/docs). A file of its own, not an inline script,
// so the page's Content-Security-Policy can stay `script-src 'self'`.
window.addEventListener("load", () => {
  window.ui = window.SwaggerUIBundle({
    url: "/api/v1/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
