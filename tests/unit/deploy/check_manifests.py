#!/usr/bin/env python3
"""Static checks of deploy/: Kubernetes manifests, alerts and the dashboard.

Renders deploy/k8s/base, every deploy/k8s/overlays/* and deploy/monitoring
with `kubectl kustomize`, then checks what a broken deployment would get
wrong:

- probes: readiness on /readyz, liveness and startup on /healthz, all on the
  container port that personalizer.yaml's http_address listens on;
- the ConfigMap's personalizer.yaml and rules.yaml use only fields (and enum
  values) of tailor.v1.ServiceConfig and tailor.v1.RulesConfig, read from
  proto/tailor/v1/*.proto; state_dir is on a volumeClaimTemplate of the
  StatefulSet (kept across reschedules), rules_file and the --config file
  are mounted; group.instance.id is the stable pod name;
- resources: requests and limits set, and the memory limit covers the
  budget of personalizer.yaml (RocksDB block cache + memtables + profile
  cache + Kafka buffers and the process, as deploy/README.md explains);
- securityContext: non-root, read-only root filesystem, no privilege
  escalation, all capabilities dropped;
- scaling: HPA / KEDA target the StatefulSet, maxReplicas <= the documented
  input partition count (annotation tailor/input-partitions), and the lag
  metric selects the configured consumer group;
- secrets: kafka_property_files and audit_salt_file are keys of mounted
  Secret volumes, kafka_properties holds no password; against a TLS/SASL
  cluster the KEDA trigger has the same brokers, SASL mode and TLS and an
  authenticationRef to a TriggerAuthentication reading a Secret the
  personalizer mounts;
- alerts and dashboard: every metric is one services/personalizer/metrics.cc
  registers (or a documented external one), label values of `kind` and
  `action` are DecisionKind / DecisionAction names.

- schemas: every rendered object validates against the OpenAPI schemas of
  the npm packages kubernetes-models, @kubernetes-models/keda and
  @kubernetes-models/prometheus-operator (validate_schemas.mjs), when
  --node_modules holds them and node is installed; otherwise this part is
  skipped with a message.

Before that it runs each check on deliberately broken input, so that a check
which cannot fail fails the test.

Usage: check_manifests.py [--repo ROOT] [--kubectl PATH] [--node_modules DIR]
Exit status 0 when everything holds, 1 otherwise.
"""

import argparse
import copy
import json
import os
import re
import shutil
import subprocess
import sys

try:
    import yaml
except ImportError:  # pragma: no cover - reported as a failure
    print("FAIL: python3-yaml is missing (tools/setup.sh installs it)")
    sys.exit(1)

DEPLOYMENT = "tailor-personalizer"  # the StatefulSet's name
WORKLOAD = "StatefulSet"
SCHEMA_PACKAGES = ("kubernetes-models", "@kubernetes-models/keda",
                   "@kubernetes-models/prometheus-operator")
CONTAINER = "personalizer"
PARTITIONS_ANNOTATION = "tailor/input-partitions"
# Metrics the alerts and the dashboard may use that tailor does not export:
# consumer-group lag from kafka-exporter, and Prometheus' own scrape health.
EXTERNAL_METRICS = {"kafka_consumergroup_lag", "up"}
# Memory the container needs besides RocksDB and the profile cache: Kafka
# client buffers (consumer prefetch, restore reader, produce batch) and the
# process itself. See "Memory" in deploy/README.md.
PROFILE_KIB = 4
OVERHEAD_MIB = 250

PROMQL_KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
    "group_right", "bool", "offset", "inf", "nan", "atan2",
}


# --- protos ------------------------------------------------------------------


class Protos:
    """Messages ({name: {field: (repeated, type)}}) and enums ({name: {value:
    number}}) of proto/tailor/v1, parsed from the .proto text."""

    def __init__(self, proto_dir):
        self.messages = {}
        self.enums = {}
        for name in sorted(os.listdir(proto_dir)):
            if name.endswith(".proto"):
                with open(os.path.join(proto_dir, name)) as f:
                    self._parse(f.read())

    @staticmethod
    def _blocks(text, keyword):
        for m in re.finditer(r"\b%s\s+(\w+)\s*\{" % keyword, text):
            depth, i = 1, m.end()
            while depth and i < len(text):
                depth += {"{": 1, "}": -1}.get(text[i], 0)
                i += 1
            yield m.group(1), text[m.end():i - 1]

    def _parse(self, text):
        text = re.sub(r"//[^\n]*", "", text)
        for name, body in self._blocks(text, "enum"):
            self.enums[name] = {
                v: int(n) for v, n in re.findall(r"(\w+)\s*=\s*(-?\d+)", body)
            }
        for name, body in self._blocks(text, "message"):
            # Fields at the top level of the body (oneof bodies included).
            flat = re.sub(r"\b(message|enum)\s+\w+\s*\{[^{}]*\}", "", body)
            flat = re.sub(r"\boneof\s+\w+\s*\{([^{}]*)\}", r"\1", flat)
            fields = {}
            for vtype, fname in re.findall(
                    r"map\s*<\s*\w+\s*,\s*([\w.]+)\s*>\s+(\w+)\s*=\s*\d+", flat):
                fields[fname] = (False, "map:" + vtype.split(".")[-1])
            for rep, ftype, fname in re.findall(
                    r"(repeated\s+)?([\w.]+)\s+(\w+)\s*=\s*\d+", flat):
                fields[fname] = (bool(rep), ftype.split(".")[-1])
            self.messages[name] = fields

    @staticmethod
    def enum_prefix(enum_name):
        # "DecisionKind" -> "DECISION_KIND_", as the config loader does.
        return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_",
                      enum_name).upper() + "_"

    def enum_accepts(self, enum_name, value):
        values = self.enums[enum_name]
        if isinstance(value, bool):
            return False
        if isinstance(value, int):
            return value in values.values()
        if not isinstance(value, str):
            return False
        upper = value.upper().replace("-", "_")
        return (value in values or upper in values or
                self.enum_prefix(enum_name) + upper in values)


INT_TYPES = {"int32", "int64", "uint32", "uint64", "sint32", "sint64",
             "fixed32", "fixed64", "sfixed32", "sfixed64"}


def check_message(protos, msg, value, path, errors):
    """Checks a YAML value against tailor.v1.<msg>: known fields only, and
    values of the field's kind."""
    if value is None:
        return
    if not isinstance(value, dict):
        errors.append(f"{path or msg}: expected a mapping for tailor.v1.{msg}")
        return
    fields = protos.messages[msg]
    for key, item in value.items():
        where = f"{path}.{key}" if path else str(key)
        if key not in fields:
            errors.append(f"{where}: no field \"{key}\" in tailor.v1.{msg}")
            continue
        repeated, ftype = fields[key]
        items = item if repeated and isinstance(item, list) else [item]
        if repeated and item is not None and not isinstance(item, list):
            errors.append(f"{where}: repeated field, expected a list")
            continue
        for i, one in enumerate(items):
            at = f"{where}[{i}]" if repeated else where
            check_value(protos, ftype, one, at, errors)


def check_value(protos, ftype, value, path, errors):
    if value is None:
        return
    if ftype.startswith("map:"):
        if not isinstance(value, dict):
            errors.append(f"{path}: expected a mapping")
            return
        for key, item in value.items():
            check_value(protos, ftype[4:], item, f"{path}[{key!r}]", errors)
    elif ftype in protos.messages:
        check_message(protos, ftype, value, path, errors)
    elif ftype in protos.enums:
        if not protos.enum_accepts(ftype, value):
            errors.append(f"{path}: {value!r} is not a {ftype} value")
    elif ftype in INT_TYPES:
        ok = (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, str) and re.fullmatch(r"-?\d+", value))
        if not ok:
            errors.append(f"{path}: expected an integer, got {value!r}")
    elif ftype in ("double", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            errors.append(f"{path}: expected a number, got {value!r}")
    elif ftype == "bool":
        if not isinstance(value, bool):
            errors.append(f"{path}: expected true or false, got {value!r}")
    elif ftype in ("string", "bytes"):
        if isinstance(value, (dict, list)):
            errors.append(f"{path}: expected a string")
    else:
        errors.append(f"{path}: unknown type {ftype}")


# --- metrics -------------------------------------------------------------------


def exported_metrics(metrics_cc):
    with open(metrics_cc) as f:
        text = f.read()
    names = set(re.findall(r'"(tailor_[a-z0-9_]+)"', text))
    # A histogram is exported as its _bucket, _sum and _count series.
    for h in re.findall(r'MakeHistogram\(\s*\w+,\s*"(tailor_[a-z0-9_]+)"', text):
        names |= {f"{h}_bucket", f"{h}_sum", f"{h}_count"}
    if not names:
        raise SystemExit(f"FAIL: no tailor_* metric names found in {metrics_cc}")
    return names


def promql_selectors(expr):
    """(metric names, [(label, op, value)]) used by a PromQL expression."""
    matchers = []
    for block in re.findall(r"\{([^{}]*)\}", expr):
        matchers += re.findall(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"', block)
    rest = re.sub(r"\{[^{}]*\}", " ", expr)
    rest = re.sub(r'"[^"]*"', " ", rest)
    rest = re.sub(r"\[[^\]]*\]", " ", rest)
    rest = re.sub(r"\$\{[^}]*\}|\$\w+", " ", rest)
    rest = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)",
                  " ", rest)
    rest = re.sub(r"\boffset\s+\S+", " ", rest)
    rest = re.sub(r"(?<![\w.])\d+(\.\d+)?([eE][+-]?\d+)?", " ", rest)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", rest):
        after = rest[m.end():].lstrip()
        if after.startswith("("):
            continue  # a function or aggregation
        if m.group(0) in PROMQL_KEYWORDS:
            continue
        names.add(m.group(0))
    return names, matchers


def check_promql(where, expr, ctx, errors):
    names, matchers = promql_selectors(expr)
    if not names:
        errors.append(f"{where}: no metric in expression {expr!r}")
    for name in sorted(names):
        if name not in ctx["metrics"] and name not in EXTERNAL_METRICS:
            errors.append(f"{where}: metric {name} is not exported by "
                          f"services/personalizer/metrics.cc")
    enum_of = {"kind": "DecisionKind", "action": "DecisionAction"}
    for label, op, value in matchers:
        if "$" in value:
            continue  # a dashboard variable
        if label in enum_of and op == "=":
            if value not in ctx["protos"].enums[enum_of[label]]:
                errors.append(f"{where}: {label}=\"{value}\" is not a "
                              f"{enum_of[label]} name")
        if label == "consumergroup" and op == "=" and value != ctx["group_id"]:
            errors.append(f"{where}: consumergroup=\"{value}\" but group_id is "
                          f"\"{ctx['group_id']}\"")
        if label == "job" and op == "=" and value != DEPLOYMENT:
            errors.append(f"{where}: job=\"{value}\" but the Service (the "
                          f"ServiceMonitor's job) is {DEPLOYMENT}")


def check_monitoring(docs, ctx, errors):
    rules = [d for d in docs if d.get("kind") == "PrometheusRule"]
    monitors = [d for d in docs if d.get("kind") == "ServiceMonitor"]
    if not rules:
        errors.append("monitoring: no PrometheusRule")
    if not monitors:
        errors.append("monitoring: no ServiceMonitor")
    for sm in monitors:
        ports = [e.get("port") for e in sm["spec"].get("endpoints", [])]
        if ctx["service_port"] not in ports:
            errors.append(f"ServiceMonitor: scrapes ports {ports}, the Service's "
                          f"port is {ctx['service_port']!r}")
        if any(e.get("path", "/metrics") != "/metrics"
               for e in sm["spec"].get("endpoints", [])):
            errors.append("ServiceMonitor: path must be /metrics")
        selector = sm["spec"].get("selector", {}).get("matchLabels", {})
        if not selector or any(ctx["service_labels"].get(k) != v
                               for k, v in selector.items()):
            errors.append(f"ServiceMonitor: selector {selector} does not match "
                          f"the Service labels {ctx['service_labels']}")
    alerts = 0
    for rule_doc in rules:
        for group in rule_doc["spec"].get("groups", []):
            for rule in group.get("rules", []):
                name = rule.get("alert") or rule.get("record")
                where = f"PrometheusRule {name}"
                if "expr" not in rule:
                    errors.append(f"{where}: no expr")
                    continue
                check_promql(where, str(rule["expr"]), ctx, errors)
                if rule.get("alert"):
                    alerts += 1
                    if "severity" not in rule.get("labels", {}):
                        errors.append(f"{where}: no severity label")
                    if "summary" not in rule.get("annotations", {}):
                        errors.append(f"{where}: no summary annotation")
    if rules and not alerts:
        errors.append("PrometheusRule: no alert")
    dashboards = 0
    for d in docs:
        if d.get("kind") != "ConfigMap":
            continue
        for key, text in (d.get("data") or {}).items():
            if not key.endswith(".json"):
                continue
            dashboards += 1
            targets = 0
            for panel in json.loads(text).get("panels", []):
                for t in panel.get("targets", []):
                    targets += 1
                    check_promql(f"dashboard panel {panel.get('title')!r}",
                                 t["expr"], ctx, errors)
            if not targets:
                errors.append(f"dashboard {key}: no queries")
    if not dashboards:
        errors.append("monitoring: no Grafana dashboard ConfigMap")


# --- Kubernetes ------------------------------------------------------------------


def quantity(q):
    """Kubernetes quantity to a float (bytes for memory, cores for cpu)."""
    q = str(q)
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
             "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "m": 1e-3}
    m = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", q)
    if not m or (m.group(2) and m.group(2) not in units):
        raise ValueError(f"bad quantity {q!r}")
    return float(m.group(1)) * units.get(m.group(2), 1)


def one(docs, kind, name=None):
    found = [d for d in docs if d.get("kind") == kind and
             (name is None or d["metadata"]["name"] == name)]
    return found[0] if len(found) == 1 else None


def http_port_of(address):
    if address in (None, ""):
        return 8080  # the documented default, 0.0.0.0:8080
    if str(address).lower() == "off":
        return None
    return int(str(address).rsplit(":", 1)[1])


def mounted_file(pod, container, docs, path):
    """The text of `path` if a ConfigMap volume is mounted over its folder."""
    folder, key = os.path.split(path)
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        if mount["mountPath"].rstrip("/") != folder:
            continue
        volume = volumes.get(mount["name"], {})
        if "configMap" in volume:
            cm = one(docs, "ConfigMap", volume["configMap"]["name"])
            if cm is not None:
                return (cm.get("data") or {}).get(key)
    return None


def on_claim(spec, container, path):
    """True when `path` is on a volumeClaimTemplate of the StatefulSet (and
    not shadowed by a pod volume of the same name)."""
    claims = {t["metadata"]["name"] for t in spec.get("volumeClaimTemplates", [])}
    volumes = {v["name"] for v in spec["template"]["spec"].get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        root = mount["mountPath"].rstrip("/") + "/"
        if (path + "/").startswith(root) and mount["name"] in claims and \
                mount["name"] not in volumes:
            return True
    return False


# kafka_properties that hold a secret: they belong in kafka_property_files.
SECRET_PROPERTY = re.compile(r"password|secret|ssl\.key\.pem|sasl\.jaas", re.I)


def secret_file(pod, container, path):
    """The (Secret name, key) whose file `path` is, if a Secret volume is
    mounted over its folder (with `items`, only the keys listed)."""
    folder, key = os.path.split(path)
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        if mount["mountPath"].rstrip("/") != folder:
            continue
        secret = volumes.get(mount["name"], {}).get("secret")
        if secret is None:
            continue
        items = secret.get("items")
        if items is None:
            return secret["secretName"], key
        for item in items:
            if item["path"] == key:
                return secret["secretName"], item["key"]
    return None


def check_secrets(name, pod, container, cfg, errors):
    """Secrets come from mounted Secret files, never from the ConfigMap.
    Returns the Secret names the config's secret files use."""
    used = set()
    props = cfg.get("kafka_properties") or {}
    for key in props:
        if SECRET_PROPERTY.search(key):
            errors.append(f"{name}: kafka_properties[{key!r}] is a secret in "
                          f"a ConfigMap: use kafka_property_files")
    files = dict(cfg.get("kafka_property_files") or {})
    if cfg.get("audit_salt_file"):
        files["audit_salt_file"] = cfg["audit_salt_file"]
    for key, path in files.items():
        found = secret_file(pod, container, str(path))
        if found is None:
            errors.append(f"{name}: {key} file {path} is not a key of a "
                          f"mounted Secret")
        else:
            used.add(found[0])
    return used


def check_keda_auth(name, docs, cfg, secrets, errors):
    """A secured cluster needs the scaler's credentials too: every kafka
    trigger names a TriggerAuthentication of the render that takes them
    from a Secret the personalizer mounts, with the SASL mode and TLS of
    kafka_properties, against the same brokers."""
    err = lambda msg: errors.append(f"{name}: {msg}")
    props = cfg.get("kafka_properties") or {}
    protocol = str(props.get("security.protocol", "plaintext")).lower()
    sasl = protocol.startswith("sasl")
    tls = protocol in ("ssl", "sasl_ssl")
    for so in (d for d in docs if d.get("kind") == "ScaledObject"):
        for t in so["spec"].get("triggers", []):
            meta = t.get("metadata") or {}
            if meta.get("bootstrapServers") != cfg.get("bootstrap_servers"):
                err(f"KEDA trigger bootstrapServers "
                    f"{meta.get('bootstrapServers')!r}, bootstrap_servers is "
                    f"{cfg.get('bootstrap_servers')!r}")
            if not (sasl or tls):
                continue
            ref = (t.get("authenticationRef") or {}).get("name")
            auth = one(docs, "TriggerAuthentication", ref) if ref else None
            if auth is None:
                err(f"security.protocol {protocol}: the KEDA trigger needs an "
                    f"authenticationRef to a TriggerAuthentication")
                continue
            params = {r["parameter"]: r["name"]
                      for r in auth["spec"].get("secretTargetRef", [])}
            for r_name in params.values():
                if r_name not in secrets:
                    err(f"TriggerAuthentication {ref} reads Secret {r_name}, "
                        f"which the personalizer does not mount")
            if sasl and (str(meta.get("sasl", "none")).lower() == "none" or
                         "password" not in params):
                err(f"security.protocol {protocol}: the KEDA trigger needs "
                    f"sasl and a password from the TriggerAuthentication")
            if tls and str(meta.get("tls", "disable")).lower() != "enable":
                err(f"security.protocol {protocol}: the KEDA trigger needs "
                    f"tls: enable")


def instance_id_is_pod_name(container):
    """group.instance.id comes from metadata.name: TAILOR_GROUP_INSTANCE_ID,
    or --group_instance_id=$(VAR) with VAR from metadata.name."""
    from_name = {e["name"] for e in container.get("env", [])
                 if ((e.get("valueFrom") or {}).get("fieldRef") or {}).get(
                     "fieldPath") == "metadata.name"}
    if "TAILOR_GROUP_INSTANCE_ID" in from_name:
        return True
    return any(a == f"--group_instance_id=$({v})"
               for a in container.get("args", []) for v in from_name)


def check_workload(name, docs, ctx, errors):
    """Checks one rendered kustomization; returns the ServiceConfig it uses."""
    err = lambda msg: errors.append(f"{name}: {msg}")
    deployment = one(docs, WORKLOAD, DEPLOYMENT)
    if deployment is None:
        err(f"exactly one {WORKLOAD} {DEPLOYMENT} expected")
        return None
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    containers = [c for c in pod.get("containers", []) if c["name"] == CONTAINER]
    if len(containers) != 1:
        err(f"no container {CONTAINER!r}")
        return None
    c = containers[0]

    # The config file, as the process will read it.
    configs = [a.split("=", 1)[1] for a in c.get("args", [])
               if a.startswith("--config=")]
    if len(configs) != 1:
        err("the container needs exactly one --config=FILE argument")
        return None
    text = mounted_file(pod, c, docs, configs[0])
    if text is None:
        err(f"--config={configs[0]} is not a key of a mounted ConfigMap")
        return None
    service_config = yaml.safe_load(text) or {}
    check_message(ctx["protos"], "ServiceConfig", service_config,
                  f"{name}: personalizer.yaml", errors)
    rules_file = service_config.get("rules_file")
    if rules_file:
        rules_text = mounted_file(pod, c, docs, rules_file)
        if rules_text is None:
            err(f"rules_file {rules_file} is not a key of a mounted ConfigMap")
        else:
            check_message(ctx["protos"], "RulesConfig",
                          yaml.safe_load(rules_text) or {},
                          f"{name}: rules.yaml", errors)
    state_dir = service_config.get("state_dir", "")
    if not state_dir or not on_claim(spec, c, state_dir):
        err(f"state_dir {state_dir!r} must be on a volumeClaimTemplate")
    if not instance_id_is_pod_name(c):
        err("group.instance.id must be the pod name (TAILOR_GROUP_INSTANCE_ID "
            "from metadata.name)")

    # Probes on the port the process listens on.
    port = http_port_of(service_config.get("http_address"))
    ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
    if port is None or port not in ports.values():
        err(f"http_address port {port} is not a container port {ports}")
    for probe, path in (("readinessProbe", "/readyz"),
                        ("livenessProbe", "/healthz"),
                        ("startupProbe", "/healthz")):
        get = (c.get(probe) or {}).get("httpGet")
        if not get:
            err(f"{probe}: an httpGet probe is required")
            continue
        if get.get("path") != path:
            err(f"{probe}: path {get.get('path')!r}, expected {path}")
        target = get.get("port")
        if ports.get(target, target) != port:
            err(f"{probe}: port {target!r} is not the HTTP port {port}")

    # Resources, and memory enough for the configured caches.
    resources = c.get("resources") or {}
    for kind in ("requests", "limits"):
        for res in ("cpu", "memory"):
            if res not in (resources.get(kind) or {}):
                err(f"resources.{kind}.{res} must be set")
    limit = (resources.get("limits") or {}).get("memory")
    request = (resources.get("requests") or {}).get("memory")
    if limit and request and quantity(request) > quantity(limit):
        err("memory request above the limit")
    if limit:
        need = memory_budget_mib(service_config)
        if quantity(limit) < need * 2**20:
            err(f"memory limit {limit} below the budget of personalizer.yaml "
                f"({need:.0f} MiB: see deploy/README.md)")

    # Security.
    psc = pod.get("securityContext") or {}
    csc = c.get("securityContext") or {}
    if not (csc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True):
        err("securityContext.runAsNonRoot must be true")
    if csc.get("runAsUser", psc.get("runAsUser")) == 0:
        err("securityContext.runAsUser must not be 0")
    if csc.get("readOnlyRootFilesystem") is not True:
        err("securityContext.readOnlyRootFilesystem must be true")
    if csc.get("allowPrivilegeEscalation") is not False:
        err("securityContext.allowPrivilegeEscalation must be false")
    if "ALL" not in ((csc.get("capabilities") or {}).get("drop") or []):
        err("securityContext.capabilities.drop must hold ALL")

    # Shutdown and rollout.
    if pod.get("terminationGracePeriodSeconds", 30) < 60:
        err("terminationGracePeriodSeconds must be >= 60 (finish the batch, "
            "commit, leave the group)")
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate" or \
            (strategy.get("rollingUpdate") or {}).get("partition", 0) != 0 or \
            (strategy.get("rollingUpdate") or {}).get("maxUnavailable", 1) != 1:
        err("updateStrategy must be RollingUpdate, one pod at a time, no "
            "partition")

    # Service and disruption budget select the pods.
    pod_labels = spec["template"]["metadata"].get("labels", {})
    service = one(docs, "Service", DEPLOYMENT)
    if service is None:
        err(f"no Service {DEPLOYMENT}")
    else:
        sel = service["spec"].get("selector", {})
        if not sel or any(pod_labels.get(k) != v for k, v in sel.items()):
            err("Service selector does not match the pod labels")
        for p in service["spec"].get("ports", []):
            if ports.get(p.get("targetPort"), p.get("targetPort")) != port:
                err(f"Service port {p.get('name')} does not target {port}")
        ctx.setdefault("service_port",
                       service["spec"]["ports"][0].get("name"))
        ctx.setdefault("service_labels", service["metadata"].get("labels", {}))
    pdb = one(docs, "PodDisruptionBudget")
    if pdb is None or pdb["spec"].get("maxUnavailable") != 1:
        err("a PodDisruptionBudget with maxUnavailable 1 is required")
    elif any(pod_labels.get(k) != v for k, v in
             pdb["spec"]["selector"].get("matchLabels", {}).items()):
        err("PodDisruptionBudget selector does not match the pod labels")

    secrets = check_secrets(name, pod, c, service_config, errors)
    check_keda_auth(name, docs, service_config, secrets, errors)
    check_scaling(name, docs, spec, service_config, ctx, errors)
    return service_config


def memory_budget_mib(cfg):
    block = int(cfg.get("block_cache_mb") or 128)
    write = int(cfg.get("write_buffer_mb") or 64)
    entries = int(cfg.get("profile_cache_entries") or 200000)
    cache_mib = int(cfg.get("profile_cache_bytes") or 256 << 20) / (1 << 20)
    return (block + 2 * write + min(entries * PROFILE_KIB / 1024, cache_mib) +
            OVERHEAD_MIB)


def check_scaling(name, docs, spec, cfg, ctx, errors):
    err = lambda msg: errors.append(f"{name}: {msg}")
    group = cfg.get("group_id") or "tailor-personalizer"
    scalers = []
    for d in docs:
        if d.get("kind") in ("HorizontalPodAutoscaler", "ScaledObject"):
            target = d["spec"].get("scaleTargetRef") or {}
            if target.get("kind", "Deployment") != WORKLOAD or \
                    target.get("name") != DEPLOYMENT:
                err(f"{d['kind']} scaleTargetRef must be {WORKLOAD} "
                    f"{DEPLOYMENT}, not {target.get('kind', 'Deployment')} "
                    f"{target.get('name')}")
        if d.get("kind") == "HorizontalPodAutoscaler":
            s = d["spec"]
            scalers.append((d, s.get("minReplicas", 1), s.get("maxReplicas")))
            for m in s.get("metrics", []):
                if m.get("type") != "External":
                    err("the HPA must scale on an External lag metric")
                    continue
                sel = m["external"]["metric"].get("selector", {}).get(
                    "matchLabels", {})
                if sel.get("consumergroup") != group:
                    err(f"HPA lag metric selects consumergroup "
                        f"{sel.get('consumergroup')!r}, group_id is {group!r}")
        elif d.get("kind") == "ScaledObject":
            s = d["spec"]
            scalers.append((d, s.get("minReplicaCount", 0),
                            s.get("maxReplicaCount")))
            for t in s.get("triggers", []):
                if t.get("type") != "kafka":
                    err("the ScaledObject must use the kafka trigger")
                elif t["metadata"].get("consumerGroup") != group:
                    err(f"KEDA trigger consumerGroup "
                        f"{t['metadata'].get('consumerGroup')!r}, group_id is "
                        f"{group!r}")
                elif "lagThreshold" not in t["metadata"]:
                    err("KEDA trigger needs a lagThreshold")
    if len(scalers) > 1:
        err(f"more than one autoscaler targets the {WORKLOAD}")
    partitions = ctx["partitions"]
    replicas = spec.get("replicas", 1)
    if replicas > partitions:
        err(f"replicas {replicas} > {partitions} input partitions")
    for d, low, high in scalers:
        annotated = (d["metadata"].get("annotations") or {}).get(
            PARTITIONS_ANNOTATION)
        if annotated is None or not str(annotated).isdigit():
            err(f"{d['kind']}: annotation {PARTITIONS_ANNOTATION} missing")
            continue
        if int(annotated) != partitions:
            err(f"{d['kind']}: {PARTITIONS_ANNOTATION} {annotated}, the "
                f"documented count is {partitions}")
        # A StatefulSet never surges: at most max replicas consumers.
        if high is None or high > int(annotated):
            err(f"{d['kind']}: max replicas {high} > "
                f"{annotated} input partitions")
        if not 1 <= low <= (high or 0) or not low <= replicas <= (high or 0):
            err(f"{d['kind']}: replicas {replicas} outside [{low}, {high}]")


# --- self-test -------------------------------------------------------------------


def self_test_secrets(keda_docs, ctx):
    """Breaks the secured KEDA render on purpose; returns the breaks that
    went unnoticed."""
    def pod(docs):
        return one(docs, WORKLOAD, DEPLOYMENT)["spec"]["template"]["spec"]

    def edit_config(docs, fn):
        cm = one(docs, "ConfigMap")
        cfg = yaml.safe_load(cm["data"]["personalizer.yaml"])
        fn(cfg)
        cm["data"]["personalizer.yaml"] = yaml.safe_dump(cfg)

    def trigger(docs):
        return one(docs, "ScaledObject")["spec"]["triggers"][0]

    breaks = {
        "a secret file without its Secret volume":
            lambda d: pod(d).update(volumes=[
                v for v in pod(d)["volumes"] if "secret" not in v]),
        "a password in kafka_properties":
            lambda d: edit_config(d, lambda c: c["kafka_properties"].update(
                {"sasl.password": "hunter2"})),
        "a KEDA trigger without authenticationRef":
            lambda d: trigger(d).pop("authenticationRef"),
        "a KEDA trigger without TLS":
            lambda d: trigger(d)["metadata"].pop("tls"),
        "a TriggerAuthentication reading another Secret":
            lambda d: one(d, "TriggerAuthentication")["spec"][
                "secretTargetRef"][0].update(name="other"),
    }
    clean = []
    check_workload("self-test", keda_docs, dict(ctx), clean)
    missed = [] if not clean else ["(the unbroken render already fails)"]
    for what, breaker in breaks.items():
        docs = copy.deepcopy(keda_docs)
        breaker(docs)
        errors = []
        check_workload("self-test", docs, dict(ctx), errors)
        if not errors:
            missed.append(what)
    return missed


def self_test(base_docs, monitoring_docs, ctx):
    """Breaks the rendered base and monitoring on purpose; every break must be
    reported. Returns the list of breaks that went unnoticed."""

    def dep(docs):
        return one(docs, WORKLOAD, DEPLOYMENT)

    def cont(docs):
        return dep(docs)["spec"]["template"]["spec"]["containers"][0]

    def config_map(docs):
        return next(d for d in docs if d.get("kind") == "ConfigMap" and
                    "personalizer.yaml" in (d.get("data") or {}))

    def edit_config(docs, fn, key="personalizer.yaml"):
        cm = config_map(docs)
        data = yaml.safe_load(cm["data"][key])
        fn(data)
        cm["data"][key] = yaml.safe_dump(data)

    def set_rule(docs, fn):
        edit_config(docs, fn, "rules.yaml")

    # (break, what the report must say about it)
    breaks = [
        (lambda d: cont(d)["readinessProbe"]["httpGet"].update(path="/healthz"),
         "readinessProbe: path"),
        (lambda d: cont(d)["livenessProbe"]["httpGet"].update(port=9090),
         "livenessProbe: port"),
        (lambda d: cont(d).pop("startupProbe"), "startupProbe: an httpGet"),
        (lambda d: edit_config(d, lambda c: c.update(bootstrap_server="x")),
         'no field "bootstrap_server" in tailor.v1.ServiceConfig'),
        (lambda d: edit_config(d, lambda c: c.update(http_address="0.0.0.0:9")),
         "http_address port 9"),
        (lambda d: set_rule(d, lambda r: r["abandoned_cart"].update(
            frist_reminder_minutes=5)),
         'no field "frist_reminder_minutes" in tailor.v1.AbandonedCartRule'),
        (lambda d: set_rule(d, lambda r: r["frequency_caps"][0].update(
            channel="CHANNEL_PIGEON")), "is not a Channel value"),
        (lambda d: set_rule(d, lambda r: r["profile"].update(top_k="many")),
         "profile.top_k: expected an integer"),
        (lambda d: edit_config(d, lambda c: c.update(state_dir="/data")),
         "must be on a volumeClaimTemplate"),
        (lambda d: dep(d)["spec"].pop("volumeClaimTemplates"),
         "must be on a volumeClaimTemplate"),
        (lambda d: cont(d).pop("env"), "group.instance.id must be the pod name"),
        (lambda d: dep(d)["spec"].update(
            updateStrategy={"type": "OnDelete"}), "updateStrategy must be"),
        (lambda d: one(d, "HorizontalPodAutoscaler")["spec"][
            "scaleTargetRef"].update(kind="Deployment"),
         "scaleTargetRef must be StatefulSet"),
        (lambda d: cont(d)["resources"]["limits"].pop("memory"),
         "resources.limits.memory must be set"),
        (lambda d: cont(d)["resources"]["limits"].update(memory="1Gi"),
         "below the budget"),
        (lambda d: (cont(d)["securityContext"].pop("runAsNonRoot"),
                    dep(d)["spec"]["template"]["spec"].pop("securityContext")),
         "runAsNonRoot must be true"),
        (lambda d: cont(d)["securityContext"].update(readOnlyRootFilesystem=False),
         "readOnlyRootFilesystem must be true"),
        (lambda d: cont(d)["securityContext"]["capabilities"].update(drop=[]),
         "drop must hold ALL"),
        (lambda d: one(d, "HorizontalPodAutoscaler")["spec"].update(maxReplicas=13),
         "max replicas 13 > 12"),
        (lambda d: one(d, "HorizontalPodAutoscaler")["spec"]["metrics"][0][
            "external"]["metric"]["selector"]["matchLabels"].update(
                consumergroup="other"), "HPA lag metric selects"),
    ]
    missed = []
    for mutate, expected in breaks:
        docs = copy.deepcopy(base_docs)
        mutate(docs)
        errors = []
        check_workload("self-test", docs, dict(ctx), errors)
        if not any(expected in e for e in errors):
            missed.append(f"{expected!r} (reported: {errors})")

    def first_alert(docs):
        return one(docs, "PrometheusRule")["spec"]["groups"][0]["rules"][0]

    mon_breaks = [
        (lambda d: first_alert(d).update(expr="rate(tailor_no_such_total[5m]) > 0"),
         "metric tailor_no_such_total is not exported"),
        (lambda d: first_alert(d).update(
            expr='tailor_decision_actions_total{action="DECISION_ACTION_SENT"} > 0'),
         'action="DECISION_ACTION_SENT" is not a DecisionAction name'),
        (lambda d: first_alert(d).update(
            expr='kafka_consumergroup_lag{consumergroup="x"} > 0'),
         'consumergroup="x"'),
    ]
    for mutate, expected in mon_breaks:
        docs = copy.deepcopy(monitoring_docs)
        mutate(docs)
        errors = []
        check_monitoring(docs, ctx, errors)
        if not any(expected in e for e in errors):
            missed.append(f"{expected!r} (reported: {errors})")
    return missed


def check_runbooks(docs, readme_text, errors):
    """Every alert points at its runbook entry, a "### <alert>" heading of
    deploy/README.md."""
    rule = one(docs, "PrometheusRule")
    headings = set(re.findall(r"(?m)^### (\w+)\s*$", readme_text))
    for group in (rule or {}).get("spec", {}).get("groups", []):
        for r in group.get("rules", []):
            name = r.get("alert")
            if not name:
                continue
            want = f"deploy/README.md#{name.lower()}"
            if (r.get("annotations") or {}).get("runbook") != want:
                errors.append(f"alert {name}: annotation runbook must be {want}")
            if name not in headings:
                errors.append(f"alert {name}: no runbook entry "
                              f"\"### {name}\" in deploy/README.md")


# --- schemas ---------------------------------------------------------------------


def validate_schemas(node, node_modules, here, items):
    """Runs validate_schemas.mjs on [(source, object)]; returns its report
    lines (empty when every object is valid)."""
    out = subprocess.run(
        [node, os.path.join(here, "validate_schemas.mjs"), node_modules],
        input=json.dumps([{"source": s, "object": o} for s, o in items]),
        capture_output=True, text=True, timeout=300)
    if out.returncode not in (0, 1):
        return [f"validate_schemas.mjs failed: {out.stderr.strip()}"]
    lines = [l for l in out.stdout.splitlines() if l.strip()]
    if out.returncode == 1 and not lines:
        return ["validate_schemas.mjs reported a failure without a message"]
    return lines


def check_schemas(args, here, rendered, monitoring, errors):
    """Validates every rendered object against the Kubernetes, KEDA and
    Prometheus operator schemas, after checking that a broken object is
    reported; prints why when it cannot."""
    node = shutil.which(args.node)
    missing = [p for p in SCHEMA_PACKAGES if not args.node_modules or
               not os.path.isdir(os.path.join(args.node_modules, p))]
    if node is None or missing:
        print(f"SKIPPED schema validation: "
              f"{'node not found' if node is None else ''}"
              f"{'; ' if node is None and missing else ''}"
              f"{'npm packages missing in ' + str(args.node_modules) + ': ' + ', '.join(missing) if missing else ''}"
              f" (the deploy_schemas_setup test installs them with npm when "
              f"the registry is reachable)")
        return
    items = [(name, o) for name, docs in rendered.items() for o in docs]
    items += [("monitoring", o) for o in monitoring or []]
    broken = copy.deepcopy(one(rendered["base"], WORKLOAD, DEPLOYMENT))
    broken["spec"]["replicas"] = "three"
    if not validate_schemas(node, args.node_modules, here,
                            [("self-test", broken)]):
        errors.append("self-test: the schema check accepted replicas: three")
    report = validate_schemas(node, args.node_modules, here, items)
    errors.extend(f"schema: {line}" for line in report)
    print(f"validated {len(items)} objects against the Kubernetes, KEDA and "
          f"Prometheus operator schemas")


# --- main ------------------------------------------------------------------------


# Exit status ctest reports as a skipped test (SKIP_RETURN_CODE).
SKIP = 77


def render(kubectl, path):
    out = subprocess.run([kubectl, "kustomize", path], capture_output=True,
                         text=True)
    if out.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {path} failed:\n{out.stderr}")
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def kustomize_major(kubectl):
    try:
        out = subprocess.run([kubectl, "version", "--client"],
                             capture_output=True, text=True, timeout=60)
    except OSError:
        return None
    m = re.search(r"Kustomize Version: v(\d+)", out.stdout)
    return int(m.group(1)) if m else 0


def documented_partitions(readme):
    with open(readme) as f:
        m = re.search(r"input topics have (\d+) partitions", f.read())
    if not m:
        raise SystemExit(f"FAIL: {readme} does not state \"input topics have "
                         f"N partitions\"")
    return int(m.group(1))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repo", default=os.path.normpath(
        os.path.join(here, "..", "..", "..")))
    parser.add_argument("--kubectl", default=os.environ.get("KUBECTL", "kubectl"))
    parser.add_argument("--node", default="node")
    parser.add_argument("--node_modules",
                        help="node_modules holding " + ", ".join(SCHEMA_PACKAGES))
    args = parser.parse_args()
    repo = args.repo

    major = kustomize_major(args.kubectl)
    if not major or major < 4:
        found = ("not found" if major is None else
                 "kustomize v%d" % major if major else "no kustomize version")
        print(f"SKIPPED: kubectl with kustomize v4 or later is needed to "
              f"render deploy/k8s; {args.kubectl}: {found}. Install the "
              f"kubectl package (tools/setup.sh does where apt offers it).")
        return SKIP

    ctx = {
        "protos": Protos(os.path.join(repo, "proto", "tailor", "v1")),
        "metrics": exported_metrics(
            os.path.join(repo, "services", "personalizer", "metrics.cc")),
        "partitions": documented_partitions(
            os.path.join(repo, "deploy", "README.md")),
    }
    for needed in ("ServiceConfig", "RulesConfig"):
        if needed not in ctx["protos"].messages:
            print(f"FAIL: tailor.v1.{needed} not found in proto/tailor/v1")
            return 1

    targets = [("base", os.path.join(repo, "deploy", "k8s", "base"))]
    overlays = os.path.join(repo, "deploy", "k8s", "overlays")
    for name in sorted(os.listdir(overlays)):
        if os.path.exists(os.path.join(overlays, name, "kustomization.yaml")):
            targets.append((f"overlays/{name}", os.path.join(overlays, name)))

    errors = []
    rendered = {}
    for name, path in targets:
        try:
            rendered[name] = render(args.kubectl, path)
        except RuntimeError as e:
            errors.append(str(e))
            continue
        cfg = check_workload(name, rendered[name], ctx, errors)
        if name == "base" and cfg is not None:
            ctx["group_id"] = cfg.get("group_id") or "tailor-personalizer"
        print(f"checked {name}: {len(rendered[name])} objects")
    try:
        monitoring = render(args.kubectl,
                            os.path.join(repo, "deploy", "monitoring"))
    except RuntimeError as e:
        errors.append(str(e))
        monitoring = None
    if monitoring is not None and "group_id" in ctx and "service_port" in ctx:
        check_monitoring(monitoring, ctx, errors)
        print(f"checked monitoring: {len(monitoring)} objects")
        missed = self_test(rendered["base"], monitoring, ctx)
        for what in missed:
            errors.append(f"self-test: a deliberate break was not reported as {what}")
        print(f"self-test: {len(missed)} deliberate break(s) not reported")
    if monitoring is not None:
        with open(os.path.join(repo, "deploy", "README.md")) as f:
            readme_text = f.read()
        check_runbooks(monitoring, readme_text, errors)
        broken = copy.deepcopy(monitoring)
        one(broken, "PrometheusRule")["spec"]["groups"][0]["rules"][0][
            "alert"] = "TailorNoRunbook"
        broken_errors = []
        check_runbooks(broken, readme_text, broken_errors)
        if not any("TailorNoRunbook" in e for e in broken_errors):
            errors.append("self-test: an alert without a runbook entry was "
                          "not reported")
    if "overlays/keda" in rendered:
        missed = self_test_secrets(rendered["overlays/keda"], ctx)
        for what in missed:
            errors.append(f"self-test: a deliberate break was not reported as {what}")
    if "base" in rendered:
        check_schemas(args, here, rendered, monitoring, errors)

    for e in errors:
        print("FAIL:", e)
    print(f"{'FAILED' if errors else 'OK'}: {len(errors)} problem(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
