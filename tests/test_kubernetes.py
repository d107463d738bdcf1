"""deploy/kubernetes/, rendered with ``kubectl kustomize`` and checked offline: every object
against Kubernetes' schemas (kubernetes-validate) or KEDA's vendored CRDs, and every
variable, command, probe and reference against Parseq itself."""

from __future__ import annotations

import json
import subprocess

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.deploy_helpers import ROOT, check_command, unread_variables
from tests.services import need

KEDA = ROOT / "tests" / "data" / "keda"
# The oldest Kubernetes the manifests are meant for, and the newest schemas at hand.
KUBERNETES_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
KEDA_KINDS = {
    "ScaledObject": "keda.sh_scaledobjects.yaml",
    "TriggerAuthentication": "keda.sh_triggerauthentications.yaml",
}
POOLS = {"parseq-worker": "default", "parseq-worker-heavy": "heavy"}


@pytest.fixture(scope="module")
def objects() -> list[dict]:
    kubectl = need("kubectl", "renders deploy/kubernetes with kubectl kustomize")
    rendered = subprocess.run(
        [kubectl, "kustomize", str(ROOT / "deploy" / "kubernetes")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    return [doc for doc in yaml.safe_load_all(rendered) if doc]


def named(objects, kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def workloads(objects) -> dict[str, dict]:
    """Deployments and Jobs by name: everything that runs a Parseq container."""
    return {**named(objects, "Deployment"), **named(objects, "Job")}


def containers(objects):
    for name, workload in workloads(objects).items():
        for container in workload["spec"]["template"]["spec"]["containers"]:
            yield name, workload["spec"]["template"]["spec"], container


def config(objects) -> dict[str, str]:
    return named(objects, "ConfigMap")["parseq-config"]["data"]


def strict(schema):
    """A CRD schema that rejects unknown fields, as ``kubectl apply --validate=strict``
    does (the API server prunes them silently otherwise)."""
    if isinstance(schema, dict):
        schema = {key: strict(value) for key, value in schema.items()}
        if (
            schema.get("type") == "object"
            and "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    return schema


def crd_schema(kind: str) -> dict:
    crd = yaml.safe_load((KEDA / KEDA_KINDS[kind]).read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
    return strict(version["schema"]["openAPIV3Schema"])


def test_it_renders_the_whole_recipe(objects):
    kinds = {(o["kind"], o["metadata"]["name"]) for o in objects}
    assert kinds >= {
        ("Namespace", "parseq"),
        ("ConfigMap", "parseq-config"),
        ("Secret", "parseq-secrets"),
        ("Deployment", "parseq-web"),
        ("Service", "parseq-web"),
        ("Ingress", "parseq"),
        ("Deployment", "parseq-worker"),
        ("Deployment", "parseq-worker-heavy"),
        ("Deployment", "parseq-scheduler"),
        ("Job", "parseq-migrate"),
        ("ScaledObject", "parseq-worker"),
        ("ScaledObject", "parseq-worker-heavy"),
        ("TriggerAuthentication", "parseq-rabbitmq"),
    }
    assert {o["metadata"].get("namespace") for o in objects if o["kind"] != "Namespace"} == {
        "parseq"
    }


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_kubernetes_object_is_valid_against_the_api_schemas(objects, version):
    builtin = [o for o in objects if o["kind"] not in KEDA_KINDS]
    assert len(builtin) >= 12
    for obj in builtin:
        kubernetes_validate.validate(obj, version, strict=True)  # raises on any error


def test_keda_objects_are_valid_against_kedas_own_crds(objects):
    keda = [o for o in objects if o["kind"] in KEDA_KINDS]
    assert len(keda) == 3
    for obj in keda:
        assert obj["apiVersion"] == "keda.sh/v1alpha1"
        jsonschema.validate(obj, crd_schema(obj["kind"]))


def test_the_strict_crd_check_catches_a_misspelt_field(objects):
    scaled = json.loads(json.dumps(named(objects, "ScaledObject")["parseq-worker"]))
    scaled["spec"]["minReplicas"] = scaled["spec"].pop("minReplicaCount")
    with pytest.raises(jsonschema.ValidationError, match="minReplicas"):
        jsonschema.validate(scaled, crd_schema("ScaledObject"))


def test_each_pool_scales_on_the_length_of_the_queue_it_consumes(objects):
    known = json.loads((KEDA / "rabbitmq_trigger_parameters.json").read_text())
    auths = named(objects, "TriggerAuthentication")
    deployments = named(objects, "Deployment")
    scaled = named(objects, "ScaledObject")
    assert {s["spec"]["scaleTargetRef"]["name"] for s in scaled.values()} == set(POOLS)
    for so in scaled.values():
        target = so["spec"]["scaleTargetRef"]["name"]
        assert "replicas" not in deployments[target]["spec"]  # the HPA owns the count
        (trigger,) = so["spec"]["triggers"]
        assert trigger["type"] == "rabbitmq"
        metadata = trigger["metadata"]
        for key, value in metadata.items():
            assert "triggerMetadata" in known["parameters"].get(key, []), key
            assert value in known["values"].get(key, [value]), (key, value)
        # http: the management API counts unacknowledged messages (runs in progress) too.
        assert (metadata["protocol"], metadata["mode"]) == ("http", "QueueLength")
        assert metadata["queueName"] == POOLS[target]
        assert int(metadata["value"]) >= 1
        assert trigger["authenticationRef"]["name"] in auths


def test_the_pools_consume_their_queues(objects):
    deployments = named(objects, "Deployment")
    default = deployments["parseq-worker"]["spec"]["template"]["spec"]["containers"][0]
    assert "--queues" not in default["command"]
    assert config(objects)["PARSEQ_QUEUES"] == "default"
    heavy = deployments["parseq-worker-heavy"]["spec"]["template"]["spec"]["containers"][0]
    assert heavy["command"][heavy["command"].index("--queues") + 1 :] == ["heavy"]


def test_keda_reads_the_broker_through_a_secret_that_exists(objects):
    secrets = named(objects, "Secret")
    for auth in named(objects, "TriggerAuthentication").values():
        known = json.loads((KEDA / "rabbitmq_trigger_parameters.json").read_text())
        for ref in auth["spec"]["secretTargetRef"]:
            assert "authParams" in known["parameters"][ref["parameter"]]
            assert ref["key"] in secrets[ref["name"]]["stringData"]
            assert secrets[ref["name"]]["stringData"][ref["key"]].startswith(("http", "amqp"))


def test_every_variable_it_gives_parseq_is_one_the_settings_read(objects):
    secrets = named(objects, "Secret")
    maps = named(objects, "ConfigMap")
    for name, _pod, container in containers(objects):
        given = {env["name"] for env in container.get("env", [])}
        for source in container["envFrom"]:
            if "configMapRef" in source:
                given |= set(maps[source["configMapRef"]["name"]]["data"])
            else:
                given |= set(secrets[source["secretRef"]["name"]]["stringData"])
        assert not unread_variables(given), f"{name}: {unread_variables(given)}"
        assert {"SECRET_KEY", "DATABASE_URL", "PARSEQ_BROKER_URL"} <= given, name


def test_every_command_and_exec_probe_exists_and_takes_those_arguments(objects):
    for _name, _pod, container in containers(objects):
        check_command(container["command"])
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            if "exec" in container.get(probe, {}):
                check_command(container[probe]["exec"]["command"])


def test_workers_and_schedulers_are_probed_by_the_healthcheck_of_their_process(objects):
    expected = {
        "parseq-worker": "--worker",
        "parseq-worker-heavy": "--worker",
        "parseq-scheduler": "--scheduler",
    }
    deployments = named(objects, "Deployment")
    for name, flag in expected.items():
        container = deployments[name]["spec"]["template"]["spec"]["containers"][0]
        for probe in ("startupProbe", "livenessProbe"):
            command = container[probe]["exec"]["command"]
            assert command == ["python", "manage.py", "healthcheck", flag], (name, probe)


def test_the_web_is_probed_on_healthz_and_readyz_which_answer_any_host(objects, client):
    web = named(objects, "Deployment")["parseq-web"]["spec"]["template"]["spec"]
    container = web["containers"][0]
    ports = {port["name"] for port in container["ports"]}
    paths = {}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        paths[probe] = container[probe]["httpGet"]["path"]
        assert container[probe]["httpGet"]["port"] in ports
    assert paths == {
        "startupProbe": "/healthz",
        "livenessProbe": "/healthz",
        "readinessProbe": "/readyz",
    }
    # kubelet sends the pod IP as Host, which ALLOWED_HOSTS does not list.
    assert client.get("/healthz", HTTP_HOST="10.1.2.3:8000").status_code == 200


def test_the_ingress_reaches_the_web_pods_on_an_allowed_host(objects):
    service = named(objects, "Service")["parseq-web"]
    web = named(objects, "Deployment")["parseq-web"]
    labels = web["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    port_names = {p["name"] for p in web["spec"]["template"]["spec"]["containers"][0]["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= port_names
    (rule,) = named(objects, "Ingress")["parseq"]["spec"]["rules"]
    backend = rule["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == "parseq-web"
    settings = config(objects)
    assert rule["host"] in settings["ALLOWED_HOSTS"].split(",")
    assert f"https://{rule['host']}" in settings["CSRF_TRUSTED_ORIGINS"].split(",")


def test_two_schedulers_and_a_migrate_job(objects):
    assert named(objects, "Deployment")["parseq-scheduler"]["spec"]["replicas"] == 2
    job = named(objects, "Job")["parseq-migrate"]["spec"]["template"]["spec"]
    assert job["containers"][0]["command"] == ["python", "manage.py", "migrate", "--no-input"]
    assert job["restartPolicy"] in ("OnFailure", "Never")


def test_a_stopping_worker_gets_longer_than_its_runs_shutdown_grace(objects):
    settings = config(objects)
    grace = int(settings["PARSEQ_SHUTDOWN_GRACE"]) + int(settings["PARSEQ_KILL_GRACE"])
    for name in POOLS:
        pod = named(objects, "Deployment")[name]["spec"]["template"]["spec"]
        assert pod["terminationGracePeriodSeconds"] > grace, name


def test_every_container_is_non_root_locked_down_and_sized(objects):
    images = set()
    for name, pod, container in containers(objects):
        images.add(container["image"])
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] != 0, name
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False, name
        assert context["readOnlyRootFilesystem"] is True, name
        assert context["capabilities"]["drop"] == ["ALL"], name
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert {"/var/lib/parseq", "/tmp"} <= mounts, name  # the only writable places
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][kind]), (name, kind)
    assert images == {"registry.example.com/parseq:1.0.0"}  # one image, from kustomization
