"""Telephony test bench: real Kamailio, SIPp, Mosquitto and PostgreSQL for integration tests.

Nothing here imports ``callcenter``; the fixtures that wrap these helpers live in
``tests/integration/conftest.py``.  Everything binds to 127.0.0.1 only.  Tests use
the names re-exported below (``bench.place_call(...)``, ``bench.MosquittoBroker``);
each module documents its server:

``processes``  free ports, ``ManagedProcess``, ``require_executable``, artifacts dir
``kamailio``   ``KamailioFactory`` / ``KamailioProxy``: the SIP proxy and its routing
``hep``        ``parse_hep3``: the HEPv3 copies the proxy mirrors
``sipp``       ``start_sipp`` / ``run_sipp``, the scenarios in ``sipp/``, their pitfalls
``calls``      ``place_call`` / ``place_calls`` -> ``CallResult``
``mosquitto``  ``MosquittoBroker``
``postgres``   ``PostgresCluster``
"""

from tests.integration.bench.calls import (
    DEFAULT_CALLER,
    RANG_OUT_STATUSES,
    REJECT_REASONS,
    CallResult,
    place_call,
    place_calls,
)
from tests.integration.bench.hep import HepPacket, parse_hep3
from tests.integration.bench.kamailio import (
    DEFAULT_AGENT_PORT_BASE,
    EXTENSION_MAX,
    EXTENSION_MIN,
    KAMAILIO_MODULE_PATH,
    KAMAILIO_MODULES,
    KAMAILIO_TEMPLATE,
    KamailioFactory,
    KamailioProxy,
    check_kamailio_installed,
    pick_agent_port_base,
    render_kamailio_cfg,
)
from tests.integration.bench.mosquitto import MosquittoBroker
from tests.integration.bench.postgres import PG_BIN, PostgresCluster
from tests.integration.bench.processes import (
    INSTALL_HINT,
    LOCALHOST,
    ManagedProcess,
    artifacts_dir,
    free_tcp_port,
    free_udp_port,
    require_executable,
    set_artifacts_dir,
    tcp_port_accepts,
    udp_port_bound,
)
from tests.integration.bench.sipp import (
    SIPP_DIR,
    SippProcess,
    SippResult,
    kill_leftover_processes,
    run_sipp,
    start_sipp,
)

__all__ = [
    "DEFAULT_AGENT_PORT_BASE",
    "DEFAULT_CALLER",
    "EXTENSION_MAX",
    "EXTENSION_MIN",
    "INSTALL_HINT",
    "KAMAILIO_MODULES",
    "KAMAILIO_MODULE_PATH",
    "KAMAILIO_TEMPLATE",
    "LOCALHOST",
    "PG_BIN",
    "RANG_OUT_STATUSES",
    "REJECT_REASONS",
    "SIPP_DIR",
    "CallResult",
    "HepPacket",
    "KamailioFactory",
    "KamailioProxy",
    "ManagedProcess",
    "MosquittoBroker",
    "PostgresCluster",
    "SippProcess",
    "SippResult",
    "artifacts_dir",
    "check_kamailio_installed",
    "free_tcp_port",
    "free_udp_port",
    "kill_leftover_processes",
    "parse_hep3",
    "pick_agent_port_base",
    "place_call",
    "place_calls",
    "render_kamailio_cfg",
    "require_executable",
    "run_sipp",
    "set_artifacts_dir",
    "start_sipp",
    "tcp_port_accepts",
    "udp_port_bound",
]
