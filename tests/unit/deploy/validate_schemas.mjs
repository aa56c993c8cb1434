// Validates rendered Kubernetes objects against the OpenAPI schemas of the
// npm packages kubernetes-models, @kubernetes-models/keda and
// @kubernetes-models/prometheus-operator (JSON Schema via ajv, as shipped in
// those packages).
//
//   node validate_schemas.mjs NODE_MODULES_DIR < objects.json
//
// Input: a JSON array of {"source": "...", "object": {...}}. Prints one line
// per invalid object ("source: Kind/name: reason") and exits 1 if any; an
// object of an API group none of the packages models is an error too.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const modules = process.argv[2];
const packageOf = (apiVersion) => {
  const group = apiVersion.includes("/") ? apiVersion.split("/")[0] : "";
  if (group === "keda.sh") return "@kubernetes-models/keda";
  if (group === "monitoring.coreos.com") {
    return "@kubernetes-models/prometheus-operator";
  }
  return "kubernetes-models";
};

const items = JSON.parse(readFileSync(0, "utf8"));
let failures = 0;
for (const { source, object } of items) {
  const where = `${source}: ${object.kind}/${object.metadata?.name}`;
  const pkg = packageOf(object.apiVersion);
  // Some packages ship ES modules as .mjs beside CommonJS .js.
  const base = path.join(modules, pkg, object.apiVersion, object.kind);
  let Model;
  try {
    const file = existsSync(`${base}.mjs`) ? `${base}.mjs` : `${base}.js`;
    Model = (await import(pathToFileURL(file).href))[object.kind];
    if (typeof Model !== "function") throw new Error("no model class");
  } catch (e) {
    console.log(`${where}: no schema for ${object.apiVersion} ${object.kind} ` +
                `in ${pkg}`);
    failures++;
    continue;
  }
  try {
    new Model(object).validate();
  } catch (e) {
    console.log(`${where}: ${String(e.message ?? e).replace(/\n/g, " ")}`);
    failures++;
  }
}
process.exit(failures ? 1 : 0);
