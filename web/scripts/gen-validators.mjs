// Compile the real-time JSON Schemas (written by `mitalk schemas`) into standalone Ajv
// validators at build time, so the page never runs `eval`/`new Function` (strict CSP).
// Output: generated/validators.js (ESM) + generated/validators.d.ts.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import Ajv from "ajv";
import standaloneCode from "ajv/dist/standalone/index.js";

const here = dirname(fileURLToPath(import.meta.url));
const generated = join(here, "..", "generated");
const doc = JSON.parse(readFileSync(join(generated, "realtime-schemas.json"), "utf8"));

// Every group of messages the server sends (room events, socket messages, account messages);
// what the client sends is not validated here.
const schemasByType = {};
for (const [group, schemas] of Object.entries(doc)) {
  if (group === "client_messages" || typeof schemas !== "object" || schemas === null) continue;
  for (const [key, schema] of Object.entries(schemas)) {
    const typeProp = schema?.properties?.type ?? {};
    const name = typeProp.const ?? (typeProp.enum?.length === 1 ? typeProp.enum[0] : key);
    schemasByType[name] = schema;
  }
}
const types = Object.keys(schemasByType).sort();

// Titles, descriptions and defaults do not take part in validation; leaving them out keeps
// the generated code (which embeds the schemas) small.
function stripDocs(node) {
  if (Array.isArray(node)) return node.map(stripDocs);
  if (node === null || typeof node !== "object") return node;
  const out = {};
  for (const [key, value] of Object.entries(node)) {
    if ((key === "title" || key === "description" || key === "default" || key === "examples")) continue;
    out[key] = key === "properties" || key === "$defs"
      ? Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, stripDocs(sub)]))
      : stripDocs(value);
  }
  return out;
}
if (types.length === 0) throw new Error("realtime-schemas.json holds no server message schemas");

// Formats (date-time) are not checked: the shapes are what the store relies on.
const ajv = new Ajv({ code: { source: true, esm: true }, strict: false, validateFormats: false, allErrors: false });
const exportsMap = {};
types.forEach((type, i) => {
  const id = `mitalk:${type}`;
  ajv.addSchema({ ...stripDocs(schemasByType[type]), $id: id }, id);
  exportsMap[`v${i}`] = id;
});
const code = standaloneCode(ajv, exportsMap);
const table = types.map((type, i) => `  ${JSON.stringify(type)}: v${i},`).join("\n");
writeFileSync(
  join(generated, "validators.js"),
  `${code}\nexport const validators = {\n${table}\n};\nexport const messageTypes = ${JSON.stringify(types)};\n`,
);
writeFileSync(
  join(generated, "validators.d.ts"),
  `export interface Validator { (data: unknown): boolean; errors?: unknown[] | null }\n` +
    `export declare const validators: Record<string, Validator>;\n` +
    `export declare const messageTypes: readonly string[];\n`,
);
console.log(`gen-validators: ${types.length} message schemas -> generated/validators.js`);
