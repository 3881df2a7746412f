import { render } from "preact";
import { App } from "./app";
import { applyDocumentLanguage } from "./i18n";
import { loadAccount } from "./session";
import "./styles.css";

applyDocumentLanguage();
void loadAccount();
render(<App />, document.getElementById("app") as HTMLElement);

if ("serviceWorker" in navigator && import.meta.env.PROD) {
  window.addEventListener("load", () => {
    void navigator.serviceWorker.register("/sw.js").catch(() => undefined);
  });
}
