"""Builds the configured PBX event sources ([[pbx]] tables) behind one interface.

Adapters are imported by kind, so a deployment that only mirrors SIP never loads AMI code.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from callcenter.config import PbxSettings, Settings
from callcenter.signals import OnRecording
from callcenter.telephony.source import OnEvent, PbxSource


def configured_sources(settings: Settings) -> tuple[PbxSettings, ...]:
    """The [[pbx]] tables, or by default one HEP source on sip.hep_listen."""
    if settings.pbx:
        return settings.pbx
    hep = settings.sip.hep_listen
    return (
        PbxSettings(
            id="hep",
            kind="hep",
            host=hep.host,
            port=hep.port,
            password=settings.sip.hep_password,
        ),
    )


def build_source(
    pbx: PbxSettings,
    settings: Settings,
    on_event: OnEvent,
    clock: Callable[[], datetime],
    publish: Callable[[str, dict[str, Any]], None] | None = None,
    known_extension: Callable[[str], bool] | None = None,
    on_recording: OnRecording | None = None,
) -> PbxSource:
    """`known_extension(user)`: is this an agent's extension (the HEP source attributes a
    leg to the phone dialled when it is one). `on_recording` receives the recordings a PBX
    announces (FreeSWITCH RECORD_STOP)."""
    if pbx.kind == "hep":
        from callcenter.telephony.hep.source import HepSource

        return HepSource(pbx, on_event, clock, known_extension, settings.sip)
    if pbx.kind == "ami":
        from callcenter.telephony.ami.client import AmiClient

        return AmiClient(pbx, on_event)
    if pbx.kind == "esl":
        from callcenter.telephony.esl.client import EslClient

        return EslClient(pbx, on_event, on_recording=on_recording)
    if pbx.kind == "mqtt":
        from callcenter.mqtt.subscriber import MqttEventSource

        return MqttEventSource(pbx, settings.mqtt, on_event, publish)
    raise ValueError(f"unknown source kind {pbx.kind!r}")
