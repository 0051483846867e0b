"""``requests``: certifi by default, redirected by REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE."""

from __future__ import annotations

import os
from typing import Any

from tlsmatrix.clients._inprocess import InProcessAdapter
from tlsmatrix.clients._trust import certifi_trust
from tlsmatrix.clients.base import Target, Trust, TrustUsed

ENV_VARS = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
NO_PROXY = {"http": None, "https": None, "all": None}


class RequestsClient(InProcessAdapter):
    name = "requests"
    env_vars = ENV_VARS

    def version(self) -> str:
        import requests
        import urllib3

        return f"requests {requests.__version__} (urllib3 {urllib3.__version__})"

    def native_trust(self) -> TrustUsed:
        return certifi_trust(os.environ, ENV_VARS)

    def policy_context(self) -> Any:
        # requests verifies through urllib3's default context
        from urllib3.util.ssl_ import create_urllib3_context

        return create_urllib3_context()

    def fetch(
        self, target: Target, trust: Trust, timeout: float, versions: list[str | None]
    ) -> int:
        import requests

        with requests.Session() as session:
            session.mount("https://", _adapter_for(target, versions))
            response = session.get(
                target.connect_url,
                headers={"Host": target.host_header},
                # True lets requests pick its CA bundle as it really does (env, certifi)
                verify=trust.path if trust.path else True,
                timeout=(timeout, timeout),
                allow_redirects=False,
                proxies=dict(NO_PROXY),
            )
            return response.status_code


def _adapter_for(target: Target, versions: list[str | None]) -> Any:
    from requests.adapters import HTTPAdapter
    from tlsmatrix.clients._urllib3 import recording_pool_class

    class _NameAdapter(HTTPAdapter):
        """Connects where the URL says but sends SNI and checks the certificate for the
        target's name (curl's --resolve, for requests)."""

        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            kwargs["server_hostname"] = target.ascii_host
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {
                **self.poolmanager.pool_classes_by_scheme,
                "https": recording_pool_class(versions),
            }

    return _NameAdapter(max_retries=0)
