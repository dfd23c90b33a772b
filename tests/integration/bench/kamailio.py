"""The bench SIP proxy: a real Kamailio rendered from ``kamailio/kamailio.cfg.tmpl``.

``factory(hep_port, *, fr_inv_timeout_ms=4000, fr_timeout_ms=2000, instance="")
-> KamailioProxy`` renders ``kamailio/kamailio.cfg.tmpl`` and starts
``kamailio -f CFG -DD -E`` (foreground, log to stderr, captured in
``proxy.log_path``).  The same arguments return the same running proxy for the
whole session; another ``instance`` name gives a proxy of its own (its own
registrations: tests that register phones use one, so that the shared proxy keeps
routing every extension statically).  The proxy is a stateful (tm) proxy on
``udp:127.0.0.1:<proxy.port>`` that

* mirrors every SIP datagram it receives *and* sends - requests, relayed and
  locally generated replies (100 Trying, 480/408), proxy-generated CANCEL and
  hop-by-hop ACK - as HEPv3 to ``127.0.0.1:<hep_port>`` (siptrace
  ``trace_mode=1``: core network in/out events; each message that crosses the
  proxy is therefore seen twice, once in and once out);
* is a registrar (``registrar`` + ``usrloc``, in memory): ``REGISTER`` binds the
  address-of-record's user (the extension) to the phone's Contact, whatever user
  that Contact has; ``expires=0`` unbinds (``sipp/register.xml``,
  ``bench.register_phone``);
* routes ``INVITE sip:<ext>@127.0.0.1:<proxy.port>`` for extensions 2000..2999 to
  the phone registered for ``ext`` (``lookup("location")``: the Request-URI
  becomes the registered Contact), or when none is registered to
  the agent phone at ``udp:127.0.0.1:<proxy.agent_port(ext)>`` where
  ``agent_port(ext) = proxy.agent_port_base + (ext - 2000)``.  The base is 20000
  (ext 2001 -> port 20001) unless that block of 1000 ports is busy (e.g. another
  test session on the machine), then 21000, 22000, ... - always use
  ``proxy.agent_port(ext)``.  ``INVITE sip:96069@...`` (``HOTLINE``) is a hunt
  group: the proxy rewrites the Request-URI user to ``HOTLINE_EXTENSION`` (2001)
  and routes on as above, the caller's To keeps 96069.  Other users get 404;
* cancels an agent branch that rings longer than ``fr_inv_timeout_ms`` and
  answers the caller 480 Temporarily Unavailable ("rang out"); a phone that
  never sends any reply is given up after ``fr_timeout_ms`` with 408;
* record-routes the INVITE, so ACK/BYE of both parties cross (and are mirrored
  by) the proxy.
"""

from __future__ import annotations

import dataclasses
import socket
import time
from pathlib import Path

import pytest

from tests.integration.bench.processes import (
    INSTALL_HINT,
    INTEGRATION_DIR,
    LOCALHOST,
    ManagedProcess,
    free_udp_port,
    log_tail,
    require_executable,
    udp_port_bound,
    wait_until,
    xdist_worker,
)

KAMAILIO_TEMPLATE = INTEGRATION_DIR / "kamailio" / "kamailio.cfg.tmpl"
KAMAILIO_MODULE_PATH = Path("/usr/lib/x86_64-linux-gnu/kamailio/modules")
KAMAILIO_MODULES = (
    "tm", "sl", "rr", "maxfwd", "textops", "pv", "xlog", "siptrace", "usrloc", "registrar",
)  # fmt: skip

EXTENSION_MIN = 2000
EXTENSION_MAX = 2999
DEFAULT_AGENT_PORT_BASE = 20000
#: the hotline number: a hunt group that rings HOTLINE_EXTENSION's phone
HOTLINE = "96069"
HOTLINE_EXTENSION = 2001


@dataclasses.dataclass
class KamailioProxy:
    """A running bench proxy (see the module docstring for its routing)."""

    host: str
    port: int
    hep_port: int
    fr_inv_timeout_ms: int
    fr_timeout_ms: int
    agent_port_base: int
    cfg_path: Path
    log_path: Path
    process: ManagedProcess = dataclasses.field(repr=False)

    @property
    def address(self) -> str:
        """``host:port`` as SIPp wants the remote party."""
        return f"{self.host}:{self.port}"

    def agent_port(self, extension: int | str) -> int:
        """UDP port on 127.0.0.1 where the agent phone for ``extension`` must listen."""
        ext = int(extension)
        if not EXTENSION_MIN <= ext <= EXTENSION_MAX:
            raise ValueError(f"extension {ext} outside {EXTENSION_MIN}..{EXTENSION_MAX}")
        return self.agent_port_base + ext - EXTENSION_MIN

    def uri(self, extension: int | str) -> str:
        """Request-URI a caller dials to reach ``extension`` through this proxy."""
        return f"sip:{extension}@{self.host}:{self.port}"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def alive(self) -> bool:
        return self.process.alive()

    def stop(self) -> None:
        self.process.stop()


def _agent_port_block_free(base: int) -> bool:
    socks: list[socket.socket] = []
    try:
        for port in range(base, base + EXTENSION_MAX - EXTENSION_MIN + 1):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            socks.append(s)
            s.bind((LOCALHOST, port))
        return True
    except OSError:
        return False
    finally:
        for s in socks:
            s.close()


def pick_agent_port_base() -> int:
    # Parallel workers each probe their own blocks: two workers probing the same free block
    # at once would both take it, and one Kamailio would route the other's calls.
    index, count = xdist_worker()
    for base in range(DEFAULT_AGENT_PORT_BASE + 1000 * index, 30000, 1000 * count):
        if _agent_port_block_free(base):
            return base
    raise RuntimeError("no free block of 1000 UDP ports in 20000-29999 for agent phones")


def render_kamailio_cfg(
    *,
    sip_port: int,
    hep_port: int,
    fr_inv_timeout_ms: int,
    fr_timeout_ms: int,
    agent_port_base: int,
    hep_capture_id: int = 2001,
    debug_level: int = 2,
) -> str:
    values = {
        "SIP_PORT": sip_port,
        "HEP_PORT": hep_port,
        "FR_INV_TIMEOUT_MS": fr_inv_timeout_ms,
        "FR_TIMEOUT_MS": fr_timeout_ms,
        "AGENT_PORT_BASE": agent_port_base,
        "AGENT_PORT_OFFSET": agent_port_base - EXTENSION_MIN,
        "HEP_CAPTURE_ID": hep_capture_id,
        "DEBUG_LEVEL": debug_level,
        "MODULE_PATH": str(KAMAILIO_MODULE_PATH),
        "HOTLINE": HOTLINE,
        "HOTLINE_EXTENSION": HOTLINE_EXTENSION,
    }
    text = KAMAILIO_TEMPLATE.read_text()
    for key, value in values.items():
        text = text.replace(f"@@{key}@@", str(value))
    if "@@" in text:
        raise RuntimeError(f"unrendered placeholder left in {KAMAILIO_TEMPLATE}")
    return text


def check_kamailio_installed() -> str:
    exe = require_executable("kamailio", "kamailio")
    missing = [m for m in KAMAILIO_MODULES if not (KAMAILIO_MODULE_PATH / f"{m}.so").exists()]
    if missing:
        pytest.fail(
            f"kamailio modules missing from {KAMAILIO_MODULE_PATH}: {', '.join(missing)}: "
            f"{INSTALL_HINT}",
            pytrace=False,
        )
    return exe


class KamailioFactory:
    """``factory(hep_port, ...) -> KamailioProxy``; one proxy per distinct argument set."""

    def __init__(self, base_dir: Path):
        self.base_dir = base_dir
        self._proxies: dict[tuple[int, int, int, str], KamailioProxy] = {}

    def __call__(
        self,
        hep_port: int,
        *,
        fr_inv_timeout_ms: int = 4000,
        fr_timeout_ms: int = 2000,
        instance: str = "",
    ) -> KamailioProxy:
        key = (hep_port, fr_inv_timeout_ms, fr_timeout_ms, instance)
        proxy = self._proxies.get(key)
        if proxy is not None and proxy.alive():
            return proxy
        proxy = self._start(hep_port, fr_inv_timeout_ms, fr_timeout_ms)
        self._proxies[key] = proxy
        return proxy

    def _start(self, hep_port: int, fr_inv_timeout_ms: int, fr_timeout_ms: int) -> KamailioProxy:
        exe = check_kamailio_installed()
        agent_port_base = pick_agent_port_base()
        last_error = ""
        for _attempt in range(3):
            sip_port = free_udp_port()
            run_dir = self.base_dir / f"kamailio-{sip_port}"
            run_dir.mkdir(parents=True, exist_ok=True)
            cfg = run_dir / "kamailio.cfg"
            cfg.write_text(
                render_kamailio_cfg(
                    sip_port=sip_port,
                    hep_port=hep_port,
                    fr_inv_timeout_ms=fr_inv_timeout_ms,
                    fr_timeout_ms=fr_timeout_ms,
                    agent_port_base=agent_port_base,
                )
            )
            log_path = run_dir / "kamailio.log"
            argv = [exe, "-f", str(cfg), "-DD", "-E", "-m", "64", "-M", "8", "-Y", str(run_dir)]
            process = ManagedProcess("kamailio", argv, log_path, cwd=run_dir)
            process.start()
            ok = wait_until(
                lambda p=process, port=sip_port: not p.alive() or udp_port_bound(port), 10.0
            )
            if ok and process.alive():
                # the main process binds before forking its workers; give them a moment
                wait_until(lambda p=log_path: "processes (at least)" in p.read_text(), 2.0)
                time.sleep(0.1)
                if process.alive():
                    return KamailioProxy(
                        host=LOCALHOST,
                        port=sip_port,
                        hep_port=hep_port,
                        fr_inv_timeout_ms=fr_inv_timeout_ms,
                        fr_timeout_ms=fr_timeout_ms,
                        agent_port_base=agent_port_base,
                        cfg_path=cfg,
                        log_path=log_path,
                        process=process,
                    )
            last_error = log_tail(log_path)
            process.stop()
        pytest.fail(f"kamailio did not start; last log:\n{last_error}", pytrace=False)

    def stop_all(self) -> None:
        for proxy in self._proxies.values():
            proxy.stop()
        self._proxies.clear()
