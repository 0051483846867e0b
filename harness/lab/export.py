"""Write the lab to a directory for docker compose (or any other host).

:func:`export` generates the PKI with the given AIA base URL and writes, inside ``dir``::

    certs/NAME.pem  keys/NAME.key  chains/scenario-NAME.pem  crl/CA.crl
    trust/certifi-like.pem  trust/workstation.pem
    aia/            files the AIA server publishes (intermediate.der, .pem, .p7c,
                    root.der, intermediate.crl, root.crl, ...)
    nginx.conf      one server per scenario on 0.0.0.0:PORT; its paths are relative to
                    its own directory, so it works wherever ``dir`` is mounted
    lab.json        the manifest: scenarios, ports, URLs, files, fingerprints

:func:`load_manifest` reads ``lab.json`` back.
``python -m tlsmatrix.lab.export --dir DIR --base-url http://aia:8080/`` runs it.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tlsmatrix.lab.scenarios import CATALOGUE, Catalogue, Scenario

if TYPE_CHECKING:
    from tlsmatrix.lab.lab import Lab

MANIFEST = "lab.json"
MANIFEST_SCHEMA = "tlsmatrix-lab-export/1"
FIRST_PORT = 9443
NGINX_CONF = "nginx.conf"


@dataclass(frozen=True)
class ExportedScenario:
    """One exported scenario; file paths are absolute (under the export directory)."""

    name: str
    port: int
    url: str
    host: str
    chain: tuple[str, ...]
    chain_file: str
    key_file: str
    fingerprints: tuple[str, ...]
    scenario: Scenario


@dataclass(frozen=True)
class ExportManifest:
    """What :func:`export` wrote."""

    directory: Path
    base_url: str
    nginx_conf: Path
    aia_dir: Path
    trust_profiles: dict[str, str]
    scenarios: tuple[ExportedScenario, ...]

    def scenario(self, name: str) -> ExportedScenario:
        for s in self.scenarios:
            if s.name == name:
                return s
        raise KeyError(f"scenario {name!r} is not in this export")


def export(
    dir: str | os.PathLike[str],  # noqa: A002 (the documented name)
    base_url: str,
    *,
    scenarios: Sequence[str] | None = None,
    first_port: int = FIRST_PORT,
    listen_host: str = "0.0.0.0",
    catalogue: Catalogue = CATALOGUE,
) -> ExportManifest:
    """Generate the PKI with AIA/CRL URLs under ``base_url`` and write certificates, keys,
    trust profiles, AIA files, ``nginx.conf`` and ``lab.json`` into ``dir`` (created 0700
    if missing; files 0600). Scenario ``i`` (catalogue order) listens on
    ``first_port + i``. Returns the manifest."""
    from tlsmatrix.lab.certbuilder import write_private
    from tlsmatrix.lab.nginx import NginxSite, render_conf
    from tlsmatrix.lab.pki import PKI

    directory = Path(dir).resolve()
    selected = catalogue.select(scenarios)
    pki = PKI(base_url, directory)  # a given directory is kept by close()
    aia_dir = directory / "aia"
    aia_dir.mkdir(mode=0o700, exist_ok=True)
    for path, (body, _) in pki.material.http_files().items():
        write_private(aia_dir / path.lstrip("/"), body)

    sites: list[NginxSite] = []
    records: list[dict[str, object]] = []
    for i, sc in enumerate(selected):
        port = first_port + i
        chain = pki.chain_path(sc.chain, label=f"scenario-{sc.name}")
        key = pki.key_path(sc.key)
        rel_chain, rel_key = chain.relative_to(directory), key.relative_to(directory)
        sites.append(NginxSite(sc.name, port, str(rel_chain), str(rel_key)))
        records.append(
            {
                "name": sc.name,
                "port": port,
                "url": f"https://{sc.hostname}:{port}/",
                "host": sc.hostname,
                "chain": list(sc.chain),
                "chain_file": str(rel_chain),
                "key_file": str(rel_key),
                "fingerprints": [pki.fingerprint(n) for n in sc.chain],
                "aia": sc.aia,
            }
        )
    # Relative paths: ssl_certificate resolves against the configuration's directory and
    # pid/temp paths against nginx's -p prefix, so nothing here names the mount point.
    conf = render_conf(
        sites, listen_host=listen_host, pid_file="nginx.pid", error_log="stderr", temp_dir="."
    )
    write_private(directory / NGINX_CONF, conf.encode())
    manifest = {
        "schema": MANIFEST_SCHEMA,
        "base_url": pki.base_url,
        "nginx_conf": NGINX_CONF,
        "aia_dir": "aia",
        "trust_profiles": {
            p: str(path.relative_to(directory)) for p, path in pki.trust_profiles.items()
        },
        "scenarios": records,
    }
    write_private(directory / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
    return load_manifest(directory, catalogue=catalogue)


def export_running(lab: Lab, dir: str | os.PathLike[str]) -> ExportManifest:  # noqa: A002
    """Write the manifest of a RUNNING lab into ``dir``: its real ports and URLs, copies of
    the chains, keys and trust profiles it serves, the AIA files, and the AIA server's
    real URL, so ``lab run --from-export DIR`` reaches exactly what is being served."""
    import shutil

    from tlsmatrix.lab.certbuilder import write_private

    directory = Path(dir).resolve()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    for sub in ("chains", "keys", "trust", "aia"):
        (directory / sub).mkdir(mode=0o700, exist_ok=True)
    for path, (body, _) in lab.pki.material.http_files().items():
        write_private(directory / "aia" / path.lstrip("/"), body)
    records: list[dict[str, object]] = []
    for s in lab.scenarios:
        chain = Path("chains") / f"scenario-{s.name}.pem"
        key = Path("keys") / f"scenario-{s.name}.key"
        shutil.copyfile(s.chain_file, directory / chain)
        write_private(directory / key, Path(s.key_file).read_bytes())
        records.append(
            {
                "name": s.name,
                "port": s.port,
                "url": s.url,
                "host": s.host,
                "chain": list(s.scenario.chain),
                "chain_file": str(chain),
                "key_file": str(key),
                "fingerprints": list(s.fingerprints),
                "aia": s.scenario.aia,
            }
        )
    profiles = {}
    for name, path in lab.trust_profiles.items():
        shutil.copyfile(path, directory / "trust" / f"{name}.pem")
        profiles[name] = f"trust/{name}.pem"
    from tlsmatrix.lab.nginx import NginxSite, render_conf

    sites = [NginxSite(str(r["name"]), int(r["port"]), str(r["chain_file"]), str(r["key_file"]))
             for r in records]  # fmt: skip
    conf = render_conf(
        sites, listen_host="127.0.0.1", pid_file="nginx.pid", error_log="stderr", temp_dir="."
    )
    write_private(directory / NGINX_CONF, conf.encode())
    manifest = {
        "schema": MANIFEST_SCHEMA,
        "base_url": lab.aia.url,
        "nginx_conf": NGINX_CONF,
        "aia_dir": "aia",
        "trust_profiles": profiles,
        "scenarios": records,
    }
    write_private(directory / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
    return load_manifest(directory)


def load_manifest(
    dir: str | os.PathLike[str],  # noqa: A002
    *,
    catalogue: Catalogue = CATALOGUE,
) -> ExportManifest:
    """Read ``lab.json`` from an export directory (paths made absolute against ``dir``).

    Raises FileNotFoundError without a manifest, ValueError for another schema and
    KeyError for a scenario this catalogue does not know."""
    directory = Path(dir).resolve()
    data = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    if data.get("schema") != MANIFEST_SCHEMA:
        raise ValueError(f"{directory / MANIFEST}: not a {MANIFEST_SCHEMA} manifest")
    scenarios = tuple(
        ExportedScenario(
            name=r["name"],
            port=int(r["port"]),
            url=r["url"],
            host=r["host"],
            chain=tuple(r["chain"]),
            chain_file=str(directory / r["chain_file"]),
            key_file=str(directory / r["key_file"]),
            fingerprints=tuple(r["fingerprints"]),
            scenario=catalogue.get(r["name"]),
        )
        for r in data["scenarios"]
    )
    return ExportManifest(
        directory=directory,
        base_url=data["base_url"],
        nginx_conf=directory / data["nginx_conf"],
        aia_dir=directory / data["aia_dir"],
        trust_profiles={p: str(directory / f) for p, f in data["trust_profiles"].items()},
        scenarios=scenarios,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tlsmatrix.lab.export")
    parser.add_argument("--dir", required=True, help="directory to write (created if missing)")
    parser.add_argument("--base-url", required=True, help="AIA/CRL base URL, e.g. http://aia:8080/")
    parser.add_argument("--first-port", type=int, default=FIRST_PORT)
    parser.add_argument("--scenario", action="append", help="only these scenarios (repeatable)")
    args = parser.parse_args(argv)
    manifest = export(args.dir, args.base_url, scenarios=args.scenario, first_port=args.first_port)
    for s in manifest.scenarios:
        print(f"{s.port}  {s.name}")
    print(f"wrote {manifest.directory}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
