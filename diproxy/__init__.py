"""diproxy: the remote-write proxy between customers' clusters and Thanos Receive.

A cluster's Prometheus remote-writes to `POST /storage/api/v2/write` with a bearer token
bound to its kubernetes_cnr cloud account. The proxy decides the tenant from the token
alone, stamps `tenant_id="<account id>"` on every series (replacing any the sender set),
sets the Thanos tenant header and forwards the write to THANOS_RECEIVE_URL. A request it
rejects is never forwarded, in whole or in part.

Modules: `protocol` (the wire format), `auth` (tokens), `status` (ingest health),
`app` (the WSGI app); its commands (`k8scost diproxy`, `k8scost accounts token`) are
k8scost/proxy.py's.
"""

from __future__ import annotations


class Rejection(Exception):
    """A request the proxy refuses: the HTTP status and a one-line reason for the sender's log."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
