"""docker-compose.yml: valid against the Compose Specification's schema, and the nginx
configuration it mounts (written by export()) passes `nginx -t`."""

from __future__ import annotations

import copy
import json
import stat
from pathlib import Path

import jsonschema
import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID
from tlsmatrix.lab.export import export, load_manifest
from tlsmatrix.lab.nginx import check_conf, nginx_binary
from tlsmatrix.lab.scenarios import CATALOGUE

from tests.conftest import needs

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "tests" / "data" / "compose-spec.json").read_text())
BASE_URL = "http://aia:8080/"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return export(tmp_path_factory.mktemp("export") / "lab", BASE_URL)


def _errors(document: dict) -> list[str]:
    validator = jsonschema.Draft201909Validator(SCHEMA)
    return [e.message for e in validator.iter_errors(document)]


def test_compose_file_is_valid(compose):
    assert _errors(compose) == []
    assert {"lab-export", "aia", "nginx", "tlsmatrix"} <= set(compose["services"])


def test_schema_rejects_a_broken_compose_file(compose):
    broken = copy.deepcopy(compose)
    broken["services"]["nginx"]["depends_on"]["lab-export"]["condition"] = "whenever"
    assert _errors(broken)
    broken = copy.deepcopy(compose)
    broken["services"]["aia"]["restart_policy_typo"] = "always"
    assert _errors(broken)


def test_compose_commands_match_the_export(compose, exported):
    services = compose["services"]
    assert services["lab-export"]["command"][-2:] == ["--base-url", BASE_URL]
    nginx = services["nginx"]["command"]
    conf_in_container = Path(nginx[nginx.index("-c") + 1])
    assert conf_in_container == Path("/lab") / exported.nginx_conf.name
    aia = services["aia"]["command"]
    assert Path(aia[aia.index("--dir") + 1]) == Path("/lab") / exported.aia_dir.name
    assert (exported.aia_dir / "intermediate.der").is_file()
    assert (exported.aia_dir / "intermediate.crl").is_file()
    # Every scenario port is published by the nginx service.
    (published,) = services["nginx"]["ports"]
    first, last = (int(p) for p in published.rsplit(":", 1)[1].split("-"))
    assert sorted(s.port for s in exported.scenarios) == list(range(first, last + 1))
    assert services["tlsmatrix"]["network_mode"] == "service:nginx"


def test_export_writes_everything(exported):
    assert [s.name for s in exported.scenarios] == CATALOGUE.names()
    assert load_manifest(exported.directory) == exported
    assert stat.S_IMODE(exported.directory.stat().st_mode) == 0o700
    for s in exported.scenarios:
        certs = x509.load_pem_x509_certificates(Path(s.chain_file).read_bytes())
        assert len(certs) == len(s.chain) and Path(s.key_file).is_file()
        assert stat.S_IMODE(Path(s.key_file).stat().st_mode) == 0o600
    for path in exported.trust_profiles.values():
        assert Path(path).is_file()
    leaf = x509.load_pem_x509_certificates(
        Path(exported.scenario("leaf_only").chain_file).read_bytes()
    )[0]
    aia = leaf.extensions.get_extension_for_oid(ExtensionOID.AUTHORITY_INFORMATION_ACCESS)
    urls = [
        d.access_location.value
        for d in aia.value
        if d.access_method == AuthorityInformationAccessOID.CA_ISSUERS
    ]
    assert urls == [BASE_URL + "intermediate.der"]
    conf = exported.nginx_conf.read_text()
    assert conf.count("listen 0.0.0.0:") == len(exported.scenarios)


@needs(nginx_binary() is not None, "nginx is not installed")
def test_exported_nginx_conf_passes_nginx_t(exported, tmp_path):
    ok, output = check_conf(exported.nginx_conf, tmp_path)
    assert ok, output
    # and the check can fail: a missing certificate is reported
    broken = exported.directory / "broken.conf"
    broken.write_text(exported.nginx_conf.read_text().replace("chains/", "no-such-dir/", 1))
    ok, output = check_conf(broken, tmp_path)
    assert not ok and "no-such-dir" in output
