"""The production shape: docker-compose.yml, the one Dockerfile and deploy/ (Kubernetes, NATS, PostgreSQL).

Docker and Kubernetes are not run here; these checks keep the files consistent with the code: every
service and its migration step is present, every environment variable names a real setting of
that service, the NATS configurations are valid and fsync before acking, and the images build from
the repository root.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from contractkit import REPO, SERVICES

from homecraft_shared.settings import ServiceSettings

COMPOSE_FILE = REPO / "docker-compose.yml"
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def load_all_yaml(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


COMPOSE = load_yaml(COMPOSE_FILE)


def prefix(service: str) -> str:
    return f"{service.upper()}_"


def service_dir(service: str) -> Path:
    return REPO / ("gateway" if service == "gateway" else f"services/{service}")


def settings_class(service: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"{service}.settings")
    classes = [obj for obj in vars(module).values()
               if isinstance(obj, type) and issubclass(obj, ServiceSettings) and obj.__module__ == module.__name__]
    assert len(classes) == 1, f"{service}.settings should define one ServiceSettings subclass, found {classes}"
    return classes[0]


def settings_fields(service: str) -> set[str]:
    return set(settings_class(service).model_fields)


def must_be_set(service: str) -> dict[str, str]:
    """Variables a deployment has to set, and why: the secrets required outside local mode, and
    every setting whose default points at this machine (127.0.0.1 is nobody else in a container)."""
    cls = settings_class(service)
    needed = {f"{prefix(service)}{name.upper()}": "a secret required in production" for name in cls.required_secrets}
    needed[f"{prefix(service)}DATABASE_URL"] = "the default is a local SQLite file"
    for name, field in cls.model_fields.items():
        if isinstance(field.default, str) and re.search(r"127\.0\.0\.1|localhost", field.default):
            needed[f"{prefix(service)}{name.upper()}"] = f"the default {field.default!r} is the container itself"
    return needed


def unknown_settings(service: str, names: list[str]) -> list[str]:
    """Variables that no setting of ``service`` reads (a typo, or a setting that was renamed)."""
    fields = settings_fields(service)
    return [name for name in names
            if not name.startswith(prefix(service)) or name.removeprefix(prefix(service)).lower() not in fields]


def identity_variable(service: str) -> str:
    return "GATEWAY_IDENTITY_PRIVATE_KEY" if service == "gateway" else f"{prefix(service)}IDENTITY_PUBLIC_KEY"


def nats_server() -> str | None:
    try:
        from homecraft_shared.testing.infra import nats_server_binary

        return nats_server_binary()
    except Exception:
        return shutil.which("nats-server")


def check_nats_config(text: str, tmp_path: Path, **env: str) -> None:
    assert re.search(r"jetstream\s*\{[^}]*sync_interval:\s*always", text), "JetStream must fsync before ack"
    assert re.search(r"jetstream\s*\{[^}]*store_dir:", text), "JetStream must store to disk"
    binary = nats_server()
    if binary is None:
        pytest.skip("nats-server not installed; cannot validate the configuration")
    config = tmp_path / "nats.conf"
    config.write_text(text.replace("/data/", f"{tmp_path}/data/").replace("/var/run/nats/", f"{tmp_path}/"))
    result = subprocess.run([binary, "-t", "-c", str(config)], capture_output=True, text=True, timeout=30,
                            env={"PATH": "/usr/bin:/bin", **env})
    assert result.returncode == 0, result.stdout + result.stderr


# -- docker-compose.yml -----------------------------------------------------------------------------


def test_compose_runs_postgres_15_and_nats_with_jetstream() -> None:
    services = COMPOSE["services"]
    assert services["postgres"]["image"].startswith("postgres:15")
    assert "./deploy/compose/postgres-init:/docker-entrypoint-initdb.d:ro" in services["postgres"]["volumes"]
    nats = services["nats"]
    major, minor = (int(part) for part in re.match(r"nats:(\d+)\.(\d+)", nats["image"]).groups())
    assert (major, minor) >= (2, 10)
    assert "./deploy/nats/nats-server.conf:/etc/nats/nats-server.conf:ro" in nats["volumes"]
    assert nats["command"] == ["--config", "/etc/nats/nats-server.conf"]
    assert any(volume.endswith(":/data") for volume in nats["volumes"]), "JetStream data needs a volume"


def test_compose_nats_config_is_valid_and_fsyncs(tmp_path: Path) -> None:
    check_nats_config((DEPLOY / "nats" / "nats-server.conf").read_text(), tmp_path)


@pytest.mark.parametrize("service", SERVICES)
def test_compose_migrates_then_runs_each_service(service: str) -> None:
    services = COMPOSE["services"]
    migrate, run = services[f"{service}-migrate"], services[service]
    assert migrate["command"] == ["python", "-m", service, "migrate"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert run["depends_on"][f"{service}-migrate"]["condition"] == "service_completed_successfully"
    assert run["depends_on"]["nats"]["condition"] == "service_healthy"
    assert "command" not in run, "the image's CMD serves"
    for container in (migrate, run):
        assert container["build"] == {"context": ".", "dockerfile": "deploy/docker/Dockerfile", "args": {"SERVICE": service}}
        assert container["image"] == migrate["image"]
    assert "/readyz" in " ".join(run["healthcheck"]["test"])


@pytest.mark.parametrize("service", SERVICES)
def test_compose_configures_each_service_through_its_settings(service: str) -> None:
    run = COMPOSE["services"][service]
    environment: dict[str, str] = run["environment"]
    targets = {entry["target"]: entry["source"] for entry in run["secrets"]}
    assert environment[f"{prefix(service)}ENVIRONMENT"] == "production"
    assert environment[f"{prefix(service)}NATS_URL"] == "nats://nats:4222"
    assert targets[f"{prefix(service)}DATABASE_URL"] == f"{service}_database_url"
    assert identity_variable(service) in targets
    assert COMPOSE["services"][f"{service}-migrate"]["environment"] == environment
    assert COMPOSE["services"][f"{service}-migrate"]["secrets"] == run["secrets"]
    unknown = unknown_settings(service, [*environment, *targets])
    assert not unknown, f"docker-compose.yml sets variables {service} does not read: {unknown}"


@pytest.mark.parametrize("service", SERVICES)
def test_compose_sets_what_production_needs(service: str) -> None:
    run = COMPOSE["services"][service]
    given = {*run["environment"], *(entry["target"] for entry in run["secrets"])}
    missing = {name: why for name, why in must_be_set(service).items() if name not in given}
    assert not missing, (
        f"docker-compose.yml does not set, for {service} and {service}-migrate: "
        + "; ".join(f"{name} ({why})" for name, why in missing.items())
        + ". Add it to `environment` (or, for a secret, a file under deploy/compose/secrets written by "
        "make_secrets.py, mounted with `secrets: [{source: ..., target: NAME}]`).")


def test_compose_gateway_reaches_every_service_and_is_published() -> None:
    gateway = COMPOSE["services"]["gateway"]
    assert "8000:8000" in gateway["ports"]
    for service in SERVICES:
        if service == "gateway":
            continue
        assert gateway["environment"][f"GATEWAY_{service.upper()}_URL"] == f"http://{service}:8000"
        assert gateway["depends_on"][service]["condition"] == "service_healthy"


def test_compose_secrets_are_all_generated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    declared = COMPOSE["secrets"]
    used = {entry if isinstance(entry, str) else entry["source"]
            for container in COMPOSE["services"].values() for entry in container.get("secrets", [])}
    assert used <= set(declared), f"undeclared secrets: {used - set(declared)}"
    spec = importlib.util.spec_from_file_location("make_secrets", DEPLOY / "compose" / "make_secrets.py")
    assert spec and spec.loader
    make_secrets = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_secrets)
    assert tuple(make_secrets.SERVICES) == SERVICES
    monkeypatch.setattr(make_secrets, "SECRETS", tmp_path / "secrets")
    monkeypatch.setattr(sys, "argv", ["make_secrets.py"])
    make_secrets.main()
    for name, secret in declared.items():
        path = Path(secret["file"])
        assert path.parent == Path("deploy/compose/secrets"), f"{name}: keep secrets in deploy/compose/secrets"
        assert (tmp_path / "secrets" / path.name).is_file(), f"make_secrets.py does not write {path.name}"
    url = (tmp_path / "secrets" / "catalog_database_url").read_text()
    password = (tmp_path / "secrets" / "catalog_db_password").read_text()
    assert url == f"postgresql+asyncpg://catalog:{password}@postgres:5432/catalog"
    assert (DEPLOY / "compose" / "secrets" / ".gitignore").read_text().splitlines()[1:] == ["*", "!.gitignore"]


def test_postgres_init_creates_one_database_per_service() -> None:
    script = (DEPLOY / "compose" / "postgres-init" / "10-service-databases.sh").read_text()
    listed = re.search(r"for service in ([a-z ]+); do", script)
    assert listed and tuple(listed.group(1).split()) == SERVICES
    assert 'CREATE DATABASE :"role" OWNER :"role"' in script
    assert 'REVOKE ALL ON DATABASE :"role" FROM PUBLIC' in script
    postgres_secrets = set(COMPOSE["services"]["postgres"]["secrets"])
    assert {f"{service}_db_password" for service in SERVICES} <= postgres_secrets


# -- images -----------------------------------------------------------------------------------------


def workspace_member_roots() -> set[str]:
    members = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["uv"]["workspace"]["members"]
    return {member.split("/")[0] for member in members}


DOCKERFILE = DEPLOY / "docker" / "Dockerfile"


def test_one_dockerfile_builds_any_service_from_the_repository_root() -> None:
    text = DOCKERFILE.read_text()
    copies = [line.split()[1:-1] for line in text.splitlines() if line.startswith("COPY ")]
    sources = [arg for args in copies if not any(a.startswith("--from") for a in args) for arg in args
               if not arg.startswith("--")]
    for source in sources:
        assert (REPO / source).exists(), f"COPY {source}: not in the repository root (the build context)"
    assert {"pyproject.toml", "uv.lock"} <= set(sources)
    assert workspace_member_roots() <= set(sources), "uv needs every workspace member to read the lock"
    assert text.count("ARG SERVICE") == 2, "both stages need the SERVICE build argument"
    assert 'uv sync --frozen --no-dev --no-editable --package "homecraft-${SERVICE}"' in text
    assert "HOMECRAFT_SERVICE=${SERVICE}" in text
    assert 'ENTRYPOINT ["homecraft-entrypoint"]' in text
    assert 'CMD ["sh", "-c", "exec python -m \\"$HOMECRAFT_SERVICE\\" serve --host 0.0.0.0 --port 8000"]' in text
    assert re.search(r"^USER \d+", text, re.MULTILINE), "run as an unprivileged user"
    assert not list(REPO.glob("services/*/Dockerfile")) and not (REPO / "gateway" / "Dockerfile").exists(), (
        "one Dockerfile for every service (deploy/docker/Dockerfile), no per-service copies")


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_is_a_package_the_dockerfile_can_install_and_run(service: str) -> None:
    project = tomllib.loads((service_dir(service) / "pyproject.toml").read_text())["project"]
    assert project["name"] == f"homecraft-{service}"
    assert importlib.util.find_spec(f"{service}.__main__") is not None, f"python -m {service} serve"


def test_the_shared_wheel_leaves_test_support_out() -> None:
    """homecraft_shared.testing (fixtures, harness, local nats-server/PostgreSQL) is never in an image."""
    wheel = tomllib.loads((REPO / "shared" / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert "src/homecraft_shared/testing" in wheel["exclude"]


def test_entrypoint_exports_mounted_secrets(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    (secrets / "kubernetes.io").mkdir(parents=True)
    pem = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----"
    (secrets / "CATALOG_IDENTITY_PUBLIC_KEY").write_text(pem + "\n")
    (secrets / "not-a-variable").write_text("x")
    script = (DEPLOY / "docker" / "entrypoint.sh").read_text().replace("/run/secrets", str(secrets))
    (tmp_path / "entrypoint.sh").write_text(script)
    probe = "import os; print(repr(os.environ.get('CATALOG_IDENTITY_PUBLIC_KEY'))); print('not-a-variable' in os.environ)"
    result = subprocess.run(["sh", str(tmp_path / "entrypoint.sh"), sys.executable, "-c", probe],
                            capture_output=True, text=True, check=True, timeout=30)
    assert result.stdout.splitlines() == [repr(pem), "False"]


def test_entrypoint_runs_the_images_service_in_production_without_start_up_migrations() -> None:
    probe = "import os; print(os.environ['ORDERS_ENVIRONMENT'], os.environ['ORDERS_RUN_MIGRATIONS_ON_START'])"
    entrypoint = str(DEPLOY / "docker" / "entrypoint.sh")

    def run(**env: str) -> str:
        result = subprocess.run(["sh", entrypoint, sys.executable, "-c", probe], capture_output=True, text=True,
                                check=True, timeout=30, env={"PATH": "/usr/bin:/bin", **env})
        return result.stdout.strip()

    assert run(HOMECRAFT_SERVICE="orders") == "production false"
    assert run(HOMECRAFT_SERVICE="orders", ORDERS_RUN_MIGRATIONS_ON_START="true") == "production true"
    refused = subprocess.run(["sh", entrypoint, "true"], capture_output=True, text=True, timeout=30,
                             env={"PATH": "/usr/bin:/bin", "HOMECRAFT_SERVICE": "orders;echo"})
    assert refused.returncode == 1 and "must be a service name" in refused.stderr


# -- Kubernetes -------------------------------------------------------------------------------------


def k8s_documents() -> dict[str, list[dict[str, Any]]]:
    kustomization = load_yaml(K8S / "kustomization.yaml")
    return {name: load_all_yaml(K8S / name) for name in kustomization["resources"]}


def by_kind(documents: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in documents if doc["kind"] == kind]


def env_names(container: dict[str, Any]) -> dict[str, Any]:
    return {entry["name"]: entry for entry in container["env"]}


def test_kustomization_covers_namespace_nats_and_every_service() -> None:
    kustomization = load_yaml(K8S / "kustomization.yaml")
    assert kustomization["namespace"] == "homecraft"
    assert set(kustomization["resources"]) == {"namespace.yaml", "nats.yaml", *(f"{s}.yaml" for s in SERVICES)}
    assert {image["name"] for image in kustomization["images"]} == {f"homecraft/{s}" for s in SERVICES}
    namespace = load_all_yaml(K8S / "namespace.yaml")
    assert [(d["kind"], d["metadata"]["name"]) for d in namespace] == [("Namespace", "homecraft")]


@pytest.mark.parametrize("service", SERVICES)
def test_k8s_service_has_a_migration_job_deployment_and_service(service: str) -> None:
    documents = k8s_documents()[f"{service}.yaml"]
    (job,) = by_kind(documents, "Job")
    (deployment,) = by_kind(documents, "Deployment")
    (svc,) = by_kind(documents, "Service")
    assert job["metadata"]["name"] == f"{service}-migrate"
    (migrate,) = job["spec"]["template"]["spec"]["containers"]
    assert migrate["args"] == ["python", "-m", service, "migrate"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"

    pod = deployment["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert container["image"] == migrate["image"] == f"homecraft/{service}:latest"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert {"name": "http", "containerPort": 8000} in container["ports"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert svc["metadata"]["name"] == service
    assert svc["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    assert not svc["spec"]["selector"].items() <= job["spec"]["template"]["metadata"]["labels"].items(), (
        "the Service must not route to the migration pod")
    assert svc["spec"]["ports"][0]["targetPort"] == "http"


@pytest.mark.parametrize("service", SERVICES)
def test_k8s_env_names_real_settings_and_secrets(service: str) -> None:
    documents = k8s_documents()[f"{service}.yaml"]
    (deployment,) = by_kind(documents, "Deployment")
    (job,) = by_kind(documents, "Job")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = env_names(container)
    assert env == env_names(job["spec"]["template"]["spec"]["containers"][0]), "the Job needs the same settings"
    assert env[f"{prefix(service)}ENVIRONMENT"]["value"] == "production"
    assert env[f"{prefix(service)}STREAM_REPLICAS"]["value"] == "3"
    assert env[f"{prefix(service)}NATS_URL"]["value"] == "nats://nats:4222"
    assert env[f"{prefix(service)}DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": f"{service}-database", "key": "url"}
    assert env[identity_variable(service)]["valueFrom"]["secretKeyRef"]["name"] == "homecraft-identity"
    unknown = unknown_settings(service, list(env))
    assert not unknown, f"deploy/k8s/{service}.yaml sets variables {service} does not read: {unknown}"


@pytest.mark.parametrize("service", SERVICES)
def test_k8s_sets_what_production_needs(service: str) -> None:
    (deployment,) = by_kind(k8s_documents()[f"{service}.yaml"], "Deployment")
    env = env_names(deployment["spec"]["template"]["spec"]["containers"][0])
    missing = {name: why for name, why in must_be_set(service).items() if name not in env}
    assert not missing, (
        f"deploy/k8s/{service}.yaml does not set: " + "; ".join(f"{name} ({why})" for name, why in missing.items())
        + ". Add it to the Deployment's and the Job's `env` (a secret through `secretKeyRef`).")


def test_k8s_nats_is_a_three_node_jetstream_cluster(tmp_path: Path) -> None:
    documents = k8s_documents()["nats.yaml"]
    (config,) = by_kind(documents, "ConfigMap")
    (statefulset,) = by_kind(documents, "StatefulSet")
    text = config["data"]["nats.conf"]
    assert statefulset["spec"]["replicas"] == 3
    assert statefulset["spec"]["podManagementPolicy"] == "Parallel"
    assert len(re.findall(r"nats://nats-\d\.nats-headless:6222", text)) == 3
    assert statefulset["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    headless = next(s for s in by_kind(documents, "Service") if s["metadata"]["name"] == "nats-headless")
    assert headless["spec"]["clusterIP"] == "None" and headless["spec"]["publishNotReadyAddresses"] is True
    assert any(s["metadata"]["name"] == "nats" for s in by_kind(documents, "Service"))
    check_nats_config(text, tmp_path, SERVER_NAME="nats-0")


def test_helm_values_alternative_fsyncs_on_three_nodes() -> None:
    values = load_yaml(DEPLOY / "nats" / "values.yaml")
    assert values["config"]["cluster"] == {"enabled": True, "replicas": 3}
    assert values["config"]["jetstream"]["merge"]["sync_interval"] == "always"
    assert values["config"]["jetstream"]["fileStore"]["enabled"] is True
    assert values["fullnameOverride"] == "nats"


def test_deploy_readme_documents_the_shape() -> None:
    readme = (DEPLOY / "README.md").read_text()
    for needle in ("docker-compose.yml", "make_secrets.py", "_STREAM_REPLICAS=3", "one database per service",
                   "values.yaml", "secrets.example.yaml"):
        assert needle in readme, f"deploy/README.md should mention {needle}"
