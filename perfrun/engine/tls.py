"""The TLS settings of a scenario (`tls:`, `--insecure`) as an ssl.SSLContext, the one
place both engines build theirs."""

from __future__ import annotations

import ssl

from perfrun.scenario.model import TlsSpec


def ssl_context(tls: TlsSpec) -> ssl.SSLContext:
    """A client context: the system's CAs (or `ca`), the server's name checked, unless
    `verify` is off; with `cert` (and `key`), a client certificate."""
    context = ssl.create_default_context(cafile=str(tls.ca) if tls.ca else None)
    if not tls.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if tls.cert is not None:
        context.load_cert_chain(str(tls.cert), str(tls.key) if tls.key else None)
    return context
