"""The chart rendered by Helm's own engine (helm-python-sdk: Helm v4 in a C library, offline,
`lookup` returning nothing as in `helm template`), then every manifest checked with
kubernetes-validate against Kubernetes' OpenAPI schemas, strictly (unknown fields fail).

The chart holds no plain-YAML manifest: every file under templates/ is a Go template, so what
is validated is its output for each values case in chart_cases.GOOD. Not exercised: an API
server's admission (defaulting, quota, PSA), a scheduler placing the pods, a running image.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.deploy.chart_cases import BAD, GOOD
from tests.deploy.support import (
    CHART,
    ROLES,
    SECRET_VARS,
    daemon_envvars,
    helm,
    kubernetes_validate,
)

# The oldest Kubernetes the chart claims (ReadWriteOncePod is GA there) and the newest
# schemas kubernetes-validate ships.
KUBE_VERSIONS = ("1.29.0", "latest")


def render(values: dict[str, Any]) -> list[dict[str, Any]]:
    h = helm()
    with h.Chart.load(str(CHART)) as chart:
        files = chart.render(values, name="plen", namespace="storage", is_install=True)
    docs = []
    for path, text in sorted(files.items()):
        if path.endswith(".txt"):
            continue  # NOTES.txt is shown to the user, not applied
        docs.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return docs


@pytest.fixture(scope="module", params=list(GOOD))
def case(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    return request.param, render(GOOD[request.param])


def pod_templates(docs: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict]]:
    for doc in docs:
        if doc["kind"] in ("Deployment", "StatefulSet"):
            yield doc, doc["spec"]["template"]


def component(doc: dict[str, Any]) -> str:
    return doc["metadata"]["labels"]["app.kubernetes.io/component"]


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    """{component: manifest}; components must be unique per kind except StatefulSets."""
    return {component(d): d for d in docs if d["kind"] == kind}


@pytest.mark.parametrize("version", KUBE_VERSIONS)
def test_every_rendered_manifest_is_valid_kubernetes(case, version: str) -> None:
    kv = kubernetes_validate()
    wanted = kv.utils.latest_version() if version == "latest" else version
    name, docs = case
    assert docs, name
    for doc in docs:
        kv.validate(doc, wanted, strict=True)  # raises ValidationError naming the field


def test_helm_lint_strict_passes() -> None:
    report = helm().lint(str(CHART), strict=True)
    problems = [m for m in report["messages"] if m["severity"] >= 2] + report["errors"]
    assert problems == [], problems


@pytest.mark.parametrize("name", BAD)
def test_helm_refuses_bad_values_at_install(name: str) -> None:
    # Helm applies values.schema.json itself before rendering: the install would fail.
    h = helm()
    overlay, path = BAD[name]
    with pytest.raises(h.HelmValuesError) as refused:
        render(overlay)
    where = f"'/{path}'" if path else "''"  # Helm names the root ''
    assert f"at {where}" in str(refused.value)


def test_each_role_runs_from_the_one_image_by_its_command(case) -> None:
    _, docs = case
    images, roles = set(), set()
    for doc, template in pod_templates(docs):
        if component(doc) == "redis":
            continue
        (container,) = template["spec"]["containers"]
        images.add(container["image"])
        assert container["args"] == [component(doc)]
        roles.add(component(doc))
    assert len(images) == 1
    assert roles >= {"nameserver", "blockstore"}


def test_daemons_get_only_variables_they_read_and_secrets_from_secrets(case) -> None:
    _, docs = case
    for doc, template in pod_templates(docs):
        role = component(doc)
        if role not in ROLES:
            continue
        known = daemon_envvars(role)
        for var in template["spec"]["containers"][0]["env"]:
            if var["name"].startswith("PLEN_"):
                assert var["name"] in known, f"{role} does not read {var['name']}"
            if var["name"] in SECRET_VARS:
                assert "value" not in var and "secretKeyRef" in var["valueFrom"], var


def _env(deployment: dict[str, Any]) -> dict[str, Any]:
    return {v["name"]: v for v in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}


def test_gateway_and_nameserver_get_the_same_root_credentials(case) -> None:
    name, docs = case
    deployments = by_kind(docs, "Deployment")
    # The nameserver checks every signed request: it needs the root user, gateway or not.
    nameserver = _env(deployments["nameserver"])
    refs = {k: nameserver[k]["valueFrom"]["secretKeyRef"]
            for k in ("PLEN_ROOT_USER", "PLEN_ROOT_PASSWORD")}
    secret = refs["PLEN_ROOT_USER"]["name"]
    assert refs["PLEN_ROOT_PASSWORD"]["name"] == secret
    overlay = GOOD[name].get("gateway", {}).get("rootCredentials", {})
    if not overlay.get("existingSecret"):  # the chart makes it, with or without a gateway
        made = {d["metadata"]["name"]: d for d in docs if d and d.get("kind") == "Secret"}
        assert set(made[secret]["data"]) == {refs["PLEN_ROOT_USER"]["key"],
                                             refs["PLEN_ROOT_PASSWORD"]["key"]}
    gateway = deployments.get("gateway")
    if GOOD[name].get("gateway", {}).get("enabled") is False:
        assert gateway is None
        return
    env = _env(gateway)
    assert "PLEN_NAMESERVER" in env
    for key, ref in refs.items():
        assert env[key]["valueFrom"]["secretKeyRef"] == ref, key


def test_probes_hit_healthz_on_a_declared_port(case) -> None:
    _, docs = case
    for doc, template in pod_templates(docs):
        container = template["spec"]["containers"][0]
        if component(doc) == "redis":
            continue
        ports = {p["name"] for p in container["ports"]}
        for probe in ("readinessProbe", "livenessProbe"):
            get = container[probe]["httpGet"]
            assert get["path"] == "/healthz" and get["port"] in ports, (doc["kind"], probe)


def test_blockstores_are_statefulsets_with_claims_spread_over_zones(case) -> None:
    name, docs = case
    sets = [d for d in docs if d["kind"] == "StatefulSet" and component(d) == "blockstore"]
    zones = GOOD[name].get("blockstore", {}).get("zones", [])
    assert len(sets) == max(1, len(zones))
    for sts in sets:
        assert [c["metadata"]["name"] for c in sts["spec"]["volumeClaimTemplates"]] == ["data"]
        spec = sts["spec"]["template"]["spec"]
        keys = {c["topologyKey"] for c in spec["topologySpreadConstraints"]}
        assert "topology.kubernetes.io/zone" in keys
        env = {v["name"]: v.get("value") for v in spec["containers"][0]["env"]}
        if zones:
            zone = spec["nodeSelector"]["topology.kubernetes.io/zone"]
            assert env["PLEN_BLOCKSTORE_ZONE"] == zone and zone in zones
    if zones:
        assert len({s["metadata"]["name"] for s in sets}) == len(zones)


def test_gateway_and_nameserver_are_deployments_with_services(case) -> None:
    name, docs = case
    deployments, services = by_kind(docs, "Deployment"), by_kind(docs, "Service")
    wanted = {"nameserver"} | ({"gateway"} if "gateway" in deployments else set())
    assert wanted <= set(deployments) and wanted <= set(services)
    replicas = GOOD[name].get("nameserver", {}).get("replicas", 1)
    assert deployments["nameserver"]["spec"]["replicas"] == replicas


def test_every_service_selects_pods_and_a_named_port(case) -> None:
    _, docs = case
    pods = [t for _, t in pod_templates(docs)]
    for service in (d for d in docs if d["kind"] == "Service"):
        selector = service["spec"]["selector"].items()
        matching = [t for t in pods if selector <= t["metadata"]["labels"].items()]
        assert matching, service["metadata"]["name"]
        names = {p["name"] for t in matching for p in t["spec"]["containers"][0]["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in names


def test_disruption_budgets_cover_blockstores_and_replicated_stateless_roles(case) -> None:
    name, docs = case
    budgets = [d for d in docs if d["kind"] == "PodDisruptionBudget"]
    covered = set()
    for budget in budgets:
        selector = budget["spec"]["selector"]["matchLabels"].items()
        pods = [t for _, t in pod_templates(docs) if selector <= t["metadata"]["labels"].items()]
        assert pods, budget["metadata"]["name"]
        covered |= {t["metadata"]["labels"]["app.kubernetes.io/component"] for t in pods}
    overlay = GOOD[name]
    if overlay.get("blockstore", {}).get("pdb", {}).get("enabled", True):
        assert "blockstore" in covered
    for role, default in (("gateway", 2), ("nameserver", 1)):
        replicas = overlay.get(role, {}).get("replicas", default)
        enabled = overlay.get(role, {}).get("enabled", True)
        assert (role in covered) == (enabled and replicas > 1), role


def test_pods_run_as_non_root(case) -> None:
    _, docs = case
    for doc, template in pod_templates(docs):
        assert template["spec"]["securityContext"]["runAsNonRoot"] is True, doc["kind"]
