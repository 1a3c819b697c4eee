"""The Kubernetes manifests, validated offline against the API schemas of one Kubernetes version.

Every YAML document under storage/kubernetes and dashboards/kubernetes is validated strictly
(an unknown or misspelt field is an error, as `kubectl apply --validate=strict` makes it) with
the JSON schemas that kubernetes-validate ships. Then what no schema sees: the containers run the
same `study` entry points as the SLURM scripts, with arguments the real `study` parser accepts;
the storage URL comes from a Secret, never from a command line; the dashboard listens on
loopback only; every reference (Secret key, ConfigMap, volume, $(VAR)) resolves; every container
has resource requests and limits, and each worker pod one GPU.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shlex
from functools import cache
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from study.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
MANIFEST_DIRS = [ROOT / "storage" / "kubernetes", ROOT / "dashboards" / "kubernetes"]
DOCKERFILE = ROOT / "storage" / "kubernetes" / "Dockerfile"
SLURM = ROOT / "storage" / "slurm"
READMES = [ROOT / "storage" / "README.md", ROOT / "dashboards" / "README.md"]

# The Kubernetes version whose API schemas the manifests must satisfy.
KUBERNETES_VERSION = "1.33"
NAMESPACE = "study"
GPU = "nvidia.com/gpu"


def manifest_files() -> list[Path]:
    return sorted(p for d in MANIFEST_DIRS for p in d.rglob("*") if p.suffix in (".yaml", ".yml"))


def load(text: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(text) if doc is not None]


DOCUMENTS = [
    (path, i, doc) for path in manifest_files() for i, doc in enumerate(load(path.read_text()))
]


def _doc_id(path: Path, i: int, doc: dict) -> str:
    return f"{path.relative_to(ROOT)}#{i}:{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


def docs_of(kind: str) -> list[dict]:
    return [doc for _, _, doc in DOCUMENTS if doc["kind"] == kind]


def pod_spec(doc: dict) -> dict | None:
    """The pod template's spec of a workload (None for other kinds)."""
    if doc["kind"] == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    if doc["kind"] in ("Job", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"):
        return doc["spec"]["template"]["spec"]
    if doc["kind"] == "Pod":
        return doc["spec"]
    return None


def containers(doc: dict) -> list[dict]:
    spec = pod_spec(doc) or {}
    return [*spec.get("initContainers", []), *spec.get("containers", [])]


WORKLOADS = [(path, i, doc) for path, i, doc in DOCUMENTS if pod_spec(doc) is not None]
CONTAINERS = [(doc, c) for _, _, doc in WORKLOADS for c in containers(doc)]


def _container_id(item) -> str:
    doc, container = item
    return f"{doc['kind']}/{doc['metadata']['name']}/{container['name']}"


def entrypoint() -> list[str]:
    """The study image's ENTRYPOINT (exec form), from its Dockerfile."""
    lines = [ln for ln in DOCKERFILE.read_text().splitlines() if ln.startswith("ENTRYPOINT")]
    assert len(lines) == 1, "the Dockerfile needs one ENTRYPOINT"
    return json.loads(lines[0].removeprefix("ENTRYPOINT"))


def is_study_image(container: dict) -> bool:
    return container["image"].rsplit("/", 1)[-1].split(":")[0] == "study"


def argv(container: dict) -> list[str]:
    """What the container executes: `command` replaces the image's ENTRYPOINT, `args` its CMD
    (the study image has none)."""
    command = container.get("command") or (entrypoint() if is_study_image(container) else [])
    return [*command, *container.get("args", [])]


SHELL_STOP = re.compile(r"^[<>|&;]|[;&|]$|^\d?>")


def study_invocations(container: dict) -> list[list[str]]:
    """The `study ...` command lines a container runs: its argv, or those in its `sh -c` script
    (each up to the first shell operator or redirection)."""
    line = argv(container)
    if line[:1] == ["study"]:
        return [line]
    if line[:2] in (["sh", "-c"], ["bash", "-c"]):
        tokens = shlex.split(line[2])
        found = []
        for start in (i for i, t in enumerate(tokens) if t == "study"):
            end = next((j for j in range(start + 1, len(tokens)) if SHELL_STOP.search(tokens[j])),
                       len(tokens))
            found.append(tokens[start:end])
        return found
    return []


STUDY_CONTAINERS = [(doc, c) for doc, c in CONTAINERS if study_invocations(c)]


@cache
def parser():
    return build_parser()


def parse(invocation: list[str]):
    """``study`` argv through the real parser (argparse exits on a mistake)."""
    try:
        return parser().parse_args(invocation[1:])
    except SystemExit as exc:
        pytest.fail(f"`{shlex.join(invocation)}` is not a valid study command (exit {exc.code})")


def runs(doc: dict, subcommand: str) -> list[list[str]]:
    """The `study SUBCOMMAND ...` invocations of a workload's main (not init) containers."""
    spec = pod_spec(doc) or {}
    return [inv for c in spec.get("containers", []) for inv in study_invocations(c)
            if inv[1:2] == [subcommand]]


def the_workload(kind: str, subcommand: str) -> tuple[dict, list[str]]:
    found = [(doc, inv) for doc in docs_of(kind) for inv in runs(doc, subcommand)]
    assert len(found) == 1, f"expected one {kind} running `study {subcommand}`, found {found}"
    return found[0]


def slurm_command(script: str, subcommand: str) -> list[str]:
    """The `"$STUDY" SUBCOMMAND ...` line of a SLURM script, as argv (`exec` dropped)."""
    for line in (SLURM / script).read_text().splitlines():
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError:  # a line that is not a whole command (a continuation, a heredoc)
            continue
        if tokens[:1] == ["exec"]:
            tokens = tokens[1:]
        if tokens[:2] == ["$STUDY", subcommand]:
            # "$@": the worker options given to submit.sh, none by default.
            return ["study", *(t for t in tokens[1:] if t != "$@")]
    raise AssertionError(f"no `$STUDY {subcommand}` line in storage/slurm/{script}")


def without_values(invocation: list[str], *flags: str) -> list[str]:
    """``invocation`` with the values of ``flags`` blanked (names differ between launchers)."""
    out = list(invocation)
    for i, token in enumerate(out[:-1]):
        if token in flags:
            out[i + 1] = "NAME"
    return out


# --- the API schemas -------------------------------------------------------------------------


def test_every_manifest_is_found_and_has_documents():
    names = {p.relative_to(ROOT).as_posix() for p in manifest_files()}
    assert {
        "storage/kubernetes/namespace.yaml",
        "storage/kubernetes/postgres.yaml",
        "storage/kubernetes/create-job.yaml",
        "storage/kubernetes/workers-job.yaml",
        "storage/kubernetes/dashboard.yaml",
        "dashboards/kubernetes/refresh-comparison.yaml",
    } <= names
    assert {p for p, _, _ in DOCUMENTS} == set(manifest_files()), "a manifest without documents"
    for path, i, doc in DOCUMENTS:
        assert isinstance(doc, dict) and {"apiVersion", "kind", "metadata"} <= doc.keys(), (
            _doc_id(path, i, doc)
        )


@pytest.mark.parametrize(
    "doc", [doc for _, _, doc in DOCUMENTS], ids=[_doc_id(*d) for d in DOCUMENTS]
)
def test_each_document_validates_strictly_against_the_kubernetes_api(doc):
    # Raises ValidationError (unknown field, wrong type, missing required field) or
    # SchemaNotFoundError (a kind/apiVersion this Kubernetes version does not serve).
    checked = kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    # The package falls back to an older schema set for a version it does not ship.
    assert checked == KUBERNETES_VERSION


# A typo in a real manifest: the non-strict schema lets an unknown field through (so would a
# lenient `kubectl apply`, dropping it), the strict one names it.
MISSPELT = [
    ("storage/kubernetes/workers-job.yaml", "  parallelism:", "  paralellism:"),
    ("storage/kubernetes/workers-job.yaml", "restartPolicy:", "restartPolicey:"),
    ("storage/kubernetes/workers-job.yaml", "volumeMounts:", "volumeMount:"),
    ("storage/kubernetes/create-job.yaml", "secretKeyRef:", "secretKeyref:"),
    ("storage/kubernetes/postgres.yaml", "readinessProbe:", "readynessProbe:"),
    ("dashboards/kubernetes/refresh-comparison.yaml", "concurrencyPolicy:", "concurencyPolicy:"),
]


@pytest.mark.parametrize(("path", "field", "typo"), MISSPELT, ids=[m[2] for m in MISSPELT])
def test_a_misspelt_field_is_rejected(path, field, typo):
    text = (ROOT / path).read_text()
    assert field in text
    broken = load(text.replace(field, typo, 1))
    bad = [doc for doc in broken if typo.strip(" :") in json.dumps(doc)]
    assert len(bad) == 1
    kubernetes_validate.validate(bad[0], KUBERNETES_VERSION, strict=False)
    with pytest.raises(kubernetes_validate.ValidationError) as caught:
        kubernetes_validate.validate(bad[0], KUBERNETES_VERSION, strict=True)
    assert f"'{typo.strip(' :')}' was unexpected" in caught.value.message


def test_a_wrong_type_and_an_unknown_kind_are_rejected():
    job = load((ROOT / "storage/kubernetes/workers-job.yaml").read_text())[0]
    job["spec"]["parallelism"] = "eight"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, KUBERNETES_VERSION, strict=True)
    job = load((ROOT / "storage/kubernetes/workers-job.yaml").read_text())[0]
    job["apiVersion"] = "batch/v1beta1"  # Job was never served there
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        kubernetes_validate.validate(job, KUBERNETES_VERSION, strict=True)


# --- the same entry points as the SLURM scripts ----------------------------------------------


def test_the_creation_job_runs_study_create_as_the_slurm_submit_script():
    job, invocation = the_workload("Job", "create")
    args = parse(invocation)
    assert invocation[:3] == ["study", "create", "--name"]
    assert args.experiment or args.config
    # SLURM has the same one creation step before its array (storage/slurm/submit.sh says so).
    assert "study create --name" in (SLURM / "submit.sh").read_text()
    assert pod_spec(job)["restartPolicy"] in ("OnFailure", "Never")


def test_the_workers_job_runs_study_worker_as_the_slurm_array():
    job, invocation = the_workload("Job", "worker")
    parse(invocation)
    assert invocation[:3] == ["study", "worker", "--name"]
    # The same flags as one SLURM array task; only the name's spelling differs.
    sbatch = slurm_command("study-workers.sbatch", "worker")
    assert without_values(invocation, "--name") == without_values(sbatch, "--name")
    # The workers start after the creation step: their init container waits for it.
    waits = [inv for c in pod_spec(job).get("initContainers", []) for inv in study_invocations(c)]
    assert [inv[:3] for inv in waits] == [["study", "status", "--name"]]
    # N worker pods (the array's size), at most `parallelism` at a time, one GPU each.
    spec = job["spec"]
    assert isinstance(spec["completions"], int) and isinstance(spec["parallelism"], int)
    assert 1 <= spec["parallelism"] <= spec["completions"]
    assert pod_spec(job)["restartPolicy"] in ("OnFailure", "Never")
    (worker,) = pod_spec(job)["containers"]
    assert str(worker["resources"]["limits"][GPU]) == "1"
    assert str(worker["resources"].get("requests", {}).get(GPU, 1)) == "1"


def test_only_the_workers_take_gpus():
    job, _ = the_workload("Job", "worker")
    for doc, container in CONTAINERS:
        if doc is job and container in pod_spec(job)["containers"]:
            continue
        resources = container.get("resources", {})
        assert GPU not in {**resources.get("requests", {}), **resources.get("limits", {})}, (
            _container_id((doc, container))
        )


def test_jobs_restart_on_failure_or_never():
    for doc in docs_of("Job") + docs_of("CronJob"):
        # The API's default, Always, is invalid in a Job; the schema does not know that.
        assert pod_spec(doc).get("restartPolicy") in ("OnFailure", "Never"), doc["metadata"]


# --- the dashboard: `study dashboard`, on loopback, reached by port-forward ------------------


PORT_FORWARD = re.compile(
    r"kubectl -n (?P<ns>\S+) port-forward (?P<kind>[\w.]+)/(?P<name>\S+) "
    r"(?P<local>\d+):(?P<remote>\d+)"
)


def test_the_dashboard_runs_study_dashboard_on_loopback_only():
    deployment, invocation = the_workload("Deployment", "dashboard")
    args = parse(invocation)
    assert ipaddress.ip_address(args.host).is_loopback, "the dashboard has no login"
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    for service in docs_of("Service"):
        selector = service["spec"].get("selector", {})
        assert not (selector and selector.items() <= labels.items()), (
            f"Service {service['metadata']['name']} cannot reach a dashboard on loopback"
        )
    assert not docs_of("Ingress")
    # The documented way in reaches this Deployment's port.
    documented = [
        m
        for path in [*READMES, ROOT / "storage/kubernetes/dashboard.yaml"]
        for m in PORT_FORWARD.finditer(path.read_text())
    ]
    assert documented
    for m in documented:
        assert m["kind"] in ("deploy", "deployment"), f"{m[0]}: no Service reaches loopback"
        assert (m["ns"], m["name"]) == (
            deployment["metadata"]["namespace"], deployment["metadata"]["name"]
        ), m[0]
        assert int(m["remote"]) == args.port, m[0]


def test_no_service_is_exposed_outside_the_cluster():
    for service in docs_of("Service"):
        assert service["spec"].get("type", "ClusterIP") == "ClusterIP", service["metadata"]


# --- the storage URL: from a Secret, never on a command line ---------------------------------


@pytest.mark.parametrize(("doc", "container"), STUDY_CONTAINERS,
                         ids=[_container_id(x) for x in STUDY_CONTAINERS])
def test_study_containers_get_the_storage_from_a_secret(doc, container):
    line = " ".join(argv(container))
    assert "--storage" not in line and "://" not in line and "postgres" not in line
    for invocation in study_invocations(container):
        assert parse(invocation).storage is None
    env = {e["name"]: e for e in container.get("env", [])}
    for name in ("STUDY_STORAGE", "PGPASSWORD"):
        source = env.get(name, {}).get("valueFrom", {})
        assert "secretKeyRef" in source, f"{name} is not set from a Secret (secretKeyRef)"


@pytest.mark.parametrize(("doc", "container"), CONTAINERS,
                         ids=[_container_id(x) for x in CONTAINERS])
def test_no_command_line_carries_the_storage_url(doc, container):
    # `ps` in the pod (and the pod's spec) would show it.
    line = " ".join(argv(container))
    assert "STUDY_STORAGE" not in line and "://" not in line


def test_configmaps_hold_no_storage_url_or_password():
    for config in docs_of("ConfigMap"):
        data = config.get("data", {})
        assert not {"STUDY_STORAGE", "PGPASSWORD"} & data.keys()
        assert not any("://" in str(v) for v in data.values())


def test_the_storage_url_in_the_secret_has_no_password():
    for secret in docs_of("Secret"):
        for key, value in secret.get("stringData", {}).items():
            if "://" in str(value):
                assert not re.search(r"://[^/@]*:[^/@]*@", value), f"password in URL {key}"


# --- references, namespaces, resources -------------------------------------------------------


def _keys(doc: dict) -> set[str]:
    return {*doc.get("data", {}), *doc.get("stringData", {})}


@pytest.mark.parametrize(("doc", "container"), CONTAINERS,
                         ids=[_container_id(x) for x in CONTAINERS])
def test_every_reference_resolves(doc, container):
    secrets = {s["metadata"]["name"]: _keys(s) for s in docs_of("Secret")}
    configs = {c["metadata"]["name"]: _keys(c) for c in docs_of("ConfigMap")}
    names = {e["name"] for e in container.get("env", [])}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            names |= configs[source["configMapRef"]["name"]]
        else:
            names |= secrets[source["secretRef"]["name"]]
    for var in container.get("env", []):
        ref = var.get("valueFrom", {})
        if "secretKeyRef" in ref:
            assert ref["secretKeyRef"]["key"] in secrets[ref["secretKeyRef"]["name"]]
        if "configMapKeyRef" in ref:
            assert ref["configMapKeyRef"]["key"] in configs[ref["configMapKeyRef"]["name"]]
    # Kubernetes leaves an unknown $(VAR) in command/args as it is.
    for var in re.findall(r"\$\((\w+)\)", " ".join(argv(container))):
        assert var in names, f"$({var}) is not in the container's environment"
    spec = pod_spec(doc)
    claims = {c["metadata"]["name"] for c in doc["spec"].get("volumeClaimTemplates", [])}
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    pvcs = {p["metadata"]["name"] for p in docs_of("PersistentVolumeClaim")}
    for mount in container.get("volumeMounts", []):
        assert mount["name"] in volumes or mount["name"] in claims, mount
        if mount["name"] in volumes and "persistentVolumeClaim" in volumes[mount["name"]]:
            assert volumes[mount["name"]]["persistentVolumeClaim"]["claimName"] in pvcs


def test_everything_lives_in_the_study_namespace():
    assert [n["metadata"]["name"] for n in docs_of("Namespace")] == [NAMESPACE]
    for path, i, doc in DOCUMENTS:
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == NAMESPACE, _doc_id(path, i, doc)


def test_selectors_match_their_pods():
    templates = [doc["spec"]["template"]["metadata"].get("labels", {})
                 for doc in docs_of("Deployment") + docs_of("StatefulSet")]
    for doc in docs_of("Deployment") + docs_of("StatefulSet"):
        selector = doc["spec"]["selector"]["matchLabels"].items()
        assert selector <= doc["spec"]["template"]["metadata"]["labels"].items()
    for service in docs_of("Service"):
        selector = service["spec"]["selector"].items()
        assert any(selector <= labels.items() for labels in templates), service["metadata"]


_UNITS = {"": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
          "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def quantity(value) -> float:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([A-Za-z]*)", str(value))
    assert m and m[2] in _UNITS, f"not a quantity: {value!r}"
    return float(m[1]) * _UNITS[m[2]]


@pytest.mark.parametrize(("doc", "container"), CONTAINERS,
                         ids=[_container_id(x) for x in CONTAINERS])
def test_every_container_has_requests_and_a_memory_limit(doc, container):
    resources = container.get("resources", {})
    requests, limits = resources.get("requests", {}), resources.get("limits", {})
    assert {"cpu", "memory"} <= requests.keys()
    assert "memory" in limits
    for name in requests.keys() & limits.keys():
        assert quantity(requests[name]) <= quantity(limits[name]), name


def test_one_study_image_as_built_and_documented():
    images = {c["image"] for _, c in CONTAINERS if is_study_image(c)}
    assert len(images) == 1, images
    (image,) = images
    assert entrypoint() == ["study"]
    assert f"-t {image} " in DOCKERFILE.read_text()
    assert f"-t {image} " in (ROOT / "storage" / "README.md").read_text()
