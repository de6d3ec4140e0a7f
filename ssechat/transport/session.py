"""The requests session of `send`: adapters that never retry on their own, and skip 1xx.

The retry loop (`ssechat.transport.retry`) is the one place that retries,
so the adapters' own retries are off; their connections read responses with
`private.FinalResponse`, which skips informational answers (`103 Early
Hints`) that http.client would take for the response.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ssechat.transport.private import FinalResponse

if TYPE_CHECKING:
    import requests


def _pools() -> dict[str, Any]:
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    class Connection(HTTPConnection):
        response_class = FinalResponse

    class SecureConnection(HTTPSConnection):
        response_class = FinalResponse

    class Pool(HTTPConnectionPool):
        ConnectionCls = Connection

    class SecurePool(HTTPSConnectionPool):
        ConnectionCls = SecureConnection

    return {"http": Pool, "https": SecurePool}


def new_session() -> requests.Session:
    """A session whose adapters never retry on their own (the loop does) and skip 1xx answers."""
    import requests
    from requests.adapters import HTTPAdapter

    pools = _pools()

    class Adapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = pools

        def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
            manager = super().proxy_manager_for(proxy, **kwargs)
            manager.pool_classes_by_scheme = pools
            return manager

    session = requests.Session()
    for prefix in ("http://", "https://"):
        session.mount(prefix, Adapter(max_retries=0))
    return session
