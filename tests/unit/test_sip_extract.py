"""SIP field extraction, against tshark's reading of the real captures and hand-written cases."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.telephony.hep.sip import (
    SipError,
    SipMessage,
    contact_values,
    parse_sip,
    uri_key,
)
from tests.pcap import Datagram, corpus_dir, sip_payloads

SIP_DIR = corpus_dir() / "sip"

# What tshark 4.0 reads in the captures, per file, one SIP message per row:
# frame|method|status|Call-ID|CSeq|CSeq method|from user|from tag|to user|to tag|
# r-uri user|contact user|top Via branch|Via count, made by, for each FILE:
#   paste -d'|' <(tshark -r FILE -Y sip -T fields -E separator='|' -E occurrence=f \
#       -e frame.number -e sip.Method -e sip.Status-Code -e sip.Call-ID -e sip.CSeq.seq \
#       -e sip.CSeq.method -e sip.from.user -e sip.from.tag -e sip.to.user -e sip.to.tag \
#       -e sip.r-uri.user -e sip.contact.user -e sip.Via.branch) \
#     <(tshark -r FILE -Y sip -T fields -E occurrence=a -E aggregator=, -e sip.Via.transport \
#       | awk -F, '{print NF}')
TSHARK = """\
# heplify__rtp_rtcp_sip_ipv4_udp.pcap
1|INVITE||12013223@200.57.7.195|1|INVITE||GR52RWG346-34|francisco||francisco||z9hG4bKff9b46fb055c0521cc24024da96cd290|2
2||100|12013223@200.57.7.195|1|INVITE||GR52RWG346-34|francisco|298852044||francisco|z9hG4bKff9b46fb055c0521cc24024da96cd290|2
3||180|12013223@200.57.7.195|1|INVITE||GR52RWG346-34|francisco|298852044||francisco|z9hG4bKff9b46fb055c0521cc24024da96cd290|2
152|REGISTER||46E1C3CB36304F84A020CF6DD3F96461@Verso.com|37764|REGISTER|Ivan|1516659370|Ivan|||Ivan|z9hG4bKDC8595CD770E4317ACBC3B64CF5016C5|1
153||200|46E1C3CB36304F84A020CF6DD3F96461@Verso.com|37764|REGISTER|Ivan|1516659370|Ivan|||Ivan|z9hG4bKDC8595CD770E4317ACBC3B64CF5016C5|1
498||200|12013223@200.57.7.195|1|INVITE||GR52RWG346-34|francisco|298852044||francisco|z9hG4bKff9b46fb055c0521cc24024da96cd290|2
517|ACK||12013223@200.57.7.195|1|ACK||GR52RWG346-34|francisco|298852044|francisco||z9hG4bK0f496e3b6e7bd140e0b701071c1245ab|2
1724|REGISTER||D3A26FC3974B44ECB5A96E07282903E3@bestel.com|39241|REGISTER|francisco|3848902025|francisco|||francisco|z9hG4bK4E76DAE7C5584B21BF8C5F687296CCA5|1
1727||200|D3A26FC3974B44ECB5A96E07282903E3@bestel.com|39241|REGISTER|francisco|3848902025|francisco|||francisco|z9hG4bK4E76DAE7C5584B21BF8C5F687296CCA5|1
2911|REGISTER||46E1C3CB36304F84A020CF6DD3F96461@Verso.com|37765|REGISTER|Ivan|1516659370|Ivan|||Ivan|z9hG4bK360869027AEF4FB8ADE56EC7A775CACD|1
2912||200|46E1C3CB36304F84A020CF6DD3F96461@Verso.com|37765|REGISTER|Ivan|1516659370|Ivan|||Ivan|z9hG4bK360869027AEF4FB8ADE56EC7A775CACD|1
2964|INVITE||12015624@200.57.7.195|1|INVITE|5514540002|GR52RWG346-34|francisco||francisco||z9hG4bK9a86043a5daf59f4e9afd83eff9fc6e8|2
2965||100|12015624@200.57.7.195|1|INVITE|5514540002|GR52RWG346-34|francisco|4098209679||francisco|z9hG4bK9a86043a5daf59f4e9afd83eff9fc6e8|2
2967||180|12015624@200.57.7.195|1|INVITE|5514540002|GR52RWG346-34|francisco|4098209679||francisco|z9hG4bK9a86043a5daf59f4e9afd83eff9fc6e8|2
# heplify__sip_ipv4_tcp.pcap
3|INVITE||158936656982201062716@10.33.6.100|1|INVITE|101|1c1589367133|201||201|101|z9hG4bKac1589375893|1
5||100|158936656982201062716@10.33.6.100|1|INVITE|101|1c1589367133|201|1c342958875|||z9hG4bKac1589375893|1
7||180|158936656982201062716@10.33.6.100|1|INVITE|101|1c1589367133|201|1c342958875||201|z9hG4bKac1589375893|1
9||200|158936656982201062716@10.33.6.100|1|INVITE|101|1c1589367133|201|1c342958875||201|z9hG4bKac1589375893|1
11|ACK||158936656982201062716@10.33.6.100|1|ACK|101|1c1589367133|201|1c342958875|201|101|z9hG4bKac1600323074|1
81|BYE||158936656982201062716@10.33.6.100|1|BYE|201|1c342958875|101|1c1589367133|101||z9hG4bKac359152811|1
83||200|158936656982201062716@10.33.6.100|1|BYE|201|1c342958875|101|1c1589367133||101|z9hG4bKac359152811|1
# sngrep__ipv6frag.pcap
2|INVITE||71846-1647924829-397430@fd17:625c:f037:2:a00:27ff:feb9:1521|1|INVITE|sipp|397430SIPpTag0071846|mcr||08019200028|sipp|z9hG4bK-397430-71846-0|1
3||100|71846-1647924829-397430@fd17:625c:f037:2:a00:27ff:feb9:1521|1|INVITE|sipp|397430SIPpTag0071846|mcr||||z9hG4bK-397430-71846-0|1
5|INVITE||71846-1647924829-397430@fd17:625c:f037:2:a00:27ff:feb9:1521|1|INVITE|sipp|397430SIPpTag0071846|mcr||08019200028|sipp|z9hG4bK-333138-f3b6705d5de367dfb415ff898550f9c2|2
6||183|71846-1647924829-397430@fd17:625c:f037:2:a00:27ff:feb9:1521|1|INVITE|sipp|397430SIPpTag0071846|mcr|1632476SIPpTag0171847|||z9hG4bK-333138-f3b6705d5de367dfb415ff898550f9c2|2
7||183|71846-1647924829-397430@fd17:625c:f037:2:a00:27ff:feb9:1521|1|INVITE|sipp|397430SIPpTag0071846|mcr|1632476SIPpTag0171847|||z9hG4bK-397430-71846-0|1
8|PRACK||71846-1647924829-397430@fd17:625c:f037:2:a00:27ff:feb9:1521|2|PRACK|sipp|397430SIPpTag0071846|mcr|1632476SIPpTag0171847|||z9hG4bK-397430-71846-3|1
9|PRACK||71846-1647924829-397430@fd17:625c:f037:2:a00:27ff:feb9:1521|2|PRACK|sipp|397430SIPpTag0071846|mcr|1632476SIPpTag0171847|||z9hG4bK-333138-5952bebef7026469e082e7a4c1d98825|2
10||200|71846-1647924829-397430@fd17:625c:f037:2:a00:27ff:feb9:1521|2|PRACK|sipp|397430SIPpTag0071846|mcr|1632476SIPpTag0171847|||z9hG4bK-333138-5952bebef7026469e082e7a4c1d98825|2
11||200|71846-1647924829-397430@fd17:625c:f037:2:a00:27ff:feb9:1521|2|PRACK|sipp|397430SIPpTag0071846|mcr|1632476SIPpTag0171847|||z9hG4bK-397430-71846-3|1
12|UPDATE||71846-1647924829-397430@fd17:625c:f037:2:a00:27ff:feb9:1521|3|UPDATE|sipp|397430SIPpTag0071846|mcr|1632476SIPpTag0171847|||z9hG4bK-397430-71846-5|1
13|UPDATE||71846-1647924829-397430@fd17:625c:f037:2:a00:27ff:feb9:1521|3|UPDATE|sipp|397430SIPpTag0071846|mcr|1632476SIPpTag0171847|||z9hG4bK-333138-b8fad594c0b08ad5a6af031f6e3515c5|2
14||200|71846-1647924829-397430@fd17:625c:f037:2:a00:27ff:feb9:1521|3|UPDATE|sipp|397430SIPpTag0071846|mcr|1632476SIPpTag0171847|||z9hG4bK-333138-b8fad594c0b08ad5a6af031f6e3515c5|2
15||200|71846-1647924829-397430@fd17:625c:f037:2:a00:27ff:feb9:1521|3|UPDATE|sipp|397430SIPpTag0071846|mcr|1632476SIPpTag0171847|||z9hG4bK-397430-71846-5|1
16||183|71846-1647924829-397430@fd17:625c:f037:2:a00:27ff:feb9:1521|1|INVITE|sipp|397430SIPpTag0071846|mcr|1632476SIPpTag0271847|||z9hG4bK-333138-f3b6705d5de367dfb415ff898550f9c2|2
17||183|71846-1647924829-397430@fd17:625c:f037:2:a00:27ff:feb9:1521|1|INVITE|sipp|397430SIPpTag0071846|mcr|1632476SIPpTag0271847|||z9hG4bK-397430-71846-0|1
18|PRACK||71846-1647924829-397430@fd17:625c:f037:2:a00:27ff:feb9:1521|2|PRACK|sipp|397430SIPpTag0071846|mcr|1632476SIPpTag0271847||sipp|z9hG4bK-397430-71846-8|1
19|PRACK||71846-1647924829-397430@fd17:625c:f037:2:a00:27ff:feb9:1521|2|PRACK|sipp|397430SIPpTag0071846|mcr|1632476SIPpTag0271847||sipp|z9hG4bK-333138-848e3adf6ca17e995a1b555c0f927d63|2
20||200|71846-1647924829-397430@fd17:625c:f037:2:a00:27ff:feb9:1521|2|PRACK|sipp|397430SIPpTag0071846|mcr|1632476SIPpTag0271847|||z9hG4bK-333138-848e3adf6ca17e995a1b555c0f927d63|2
21||200|71846-1647924829-397430@fd17:625c:f037:2:a00:27ff:feb9:1521|2|PRACK|sipp|397430SIPpTag0071846|mcr|1632476SIPpTag0271847|||z9hG4bK-397430-71846-8|1
22|UPDATE||71846-1647924829-397430@fd17:625c:f037:2:a00:27ff:feb9:1521|3|UPDATE|sipp|397430SIPpTag0071846|mcr|1632476SIPpTag0271847|||z9hG4bK-397430-71846-10|1
23|UPDATE||71846-1647924829-397430@fd17:625c:f037:2:a00:27ff:feb9:1521|3|UPDATE|sipp|397430SIPpTag0071846|mcr|1632476SIPpTag0271847|||z9hG4bK-333138-db2b774d20cc03da0a52fd8ce24968f1|2
24||200|71846-1647924829-397430@fd17:625c:f037:2:a00:27ff:feb9:1521|3|UPDATE|sipp|397430SIPpTag0071846|mcr|1632476SIPpTag0271847|||z9hG4bK-333138-db2b774d20cc03da0a52fd8ce24968f1|2
25||200|71846-1647924829-397430@fd17:625c:f037:2:a00:27ff:feb9:1521|3|UPDATE|sipp|397430SIPpTag0071846|mcr|1632476SIPpTag0271847|||z9hG4bK-397430-71846-10|1
26||200|71846-1647924829-397430@fd17:625c:f037:2:a00:27ff:feb9:1521|1|INVITE|sipp|397430SIPpTag0071846|mcr|1632476SIPpTag0271847|||z9hG4bK-333138-f3b6705d5de367dfb415ff898550f9c2|2
27||200|71846-1647924829-397430@fd17:625c:f037:2:a00:27ff:feb9:1521|1|INVITE|sipp|397430SIPpTag0071846|mcr|1632476SIPpTag0271847|||z9hG4bK-333138-f3b6705d5de367dfb415ff898550f9c2|2
28||200|71846-1647924829-397430@fd17:625c:f037:2:a00:27ff:feb9:1521|1|INVITE|sipp|397430SIPpTag0071846|mcr|1632476SIPpTag0171847|||z9hG4bK-397430-71846-0|1
29|ACK||71846-1647924829-397430@fd17:625c:f037:2:a00:27ff:feb9:1521|1|ACK|sipp|397430SIPpTag0071846|mcr|1632476SIPpTag0171847||sipp|z9hG4bK-397430-71846-13|1
30|ACK||71846-1647924829-397430@fd17:625c:f037:2:a00:27ff:feb9:1521|1|ACK|sipp|397430SIPpTag0071846|mcr|1632476SIPpTag0171847||sipp|z9hG4bK-333138-806649e0adce581a35218e4b1baa416d|2
31|BYE||71846-1647924829-397430@fd17:625c:f037:2:a00:27ff:feb9:1521|2|BYE|sipp|397430SIPpTag0071846|mcr|1632476SIPpTag0171847||sipp|z9hG4bK-397430-71846-15|1
32|BYE||71846-1647924829-397430@fd17:625c:f037:2:a00:27ff:feb9:1521|2|BYE|sipp|397430SIPpTag0071846|mcr|1632476SIPpTag0171847||sipp|z9hG4bK-333138-875833642fa62c3f863167cfcbb74dff|2
33||200|71846-1647924829-397430@fd17:625c:f037:2:a00:27ff:feb9:1521|2|BYE|sipp|397430SIPpTag0071846|mcr|1632476SIPpTag0171847|||z9hG4bK-333138-875833642fa62c3f863167cfcbb74dff|2
34||200|71846-1647924829-397430@fd17:625c:f037:2:a00:27ff:feb9:1521|2|BYE|sipp|397430SIPpTag0071846|mcr|1632476SIPpTag0171847|||z9hG4bK-397430-71846-15|1
# heplify__sip_ipv6_udp.pcap
1|INVITE||c3eF6f58-363323Cd-8058EB88-10300252@fe80:0:0:0:21a:a0ff:fe07:32e0|1|INVITE|9876|a3bhg|4321||4321|9876||1
2||100|c3eF6f58-363323Cd-8058EB88-10300252@fe80:0:0:0:21a:a0ff:fe07:32e0|1|INVITE|9876|a3bhg|4321|a3bhg||4321||1
3||200|c3eF6f58-363323Cd-8058EB88-10300252@fe80:0:0:0:21a:a0ff:fe07:32e0|1|INVITE|9876|a3bhg|4321|a3bhg||4321||1
4|ACK||c3eF6f58-363323Cd-8058EB88-10300252@fe80:0:0:0:21a:a0ff:fe07:32e0|1|ACK|9876|a3bhg|4321|a3bhg|4321|9876||1
5|BYE||c3eF6f58-363323Cd-8058EB88-10300252@fe80:0:0:0:21a:a0ff:fe07:32e0|2|BYE|9876|a3bhg|4321|a3bhg|4321|9876||1
6||200|c3eF6f58-363323Cd-8058EB88-10300252@fe80:0:0:0:21a:a0ff:fe07:32e0|2|BYE|9876|a3bhg|4321|a3bhg||4321||1
# heplify__sip_sctp.pcap
2|INVITE||717B2539AD2002C9152DC497@0870ffffffff|1|INVITE|9171969136|9Ub.i1YV7Yag2._5|9275890000||9275890000|7008|z9hG4bKXfVD0C87Be5AV626|1
3||100|717B2539AD2002C9152DC497@0870ffffffff|1|INVITE|9171969136|9Ub.i1YV7Yag2._5|9275890000||||z9hG4bKXfVD0C87Be5AV626|1
4||403|717B2539AD2002C9152DC497@0870ffffffff|1|INVITE|9171969136|9Ub.i1YV7Yag2._5|9275890000|3f3ba06def6e4629ccb4af8aa695ac6b-9432|||z9hG4bKXfVD0C87Be5AV626|1
5|ACK||717B2539AD2002C9152DC497@0870ffffffff|1|ACK|9171969136|9Ub.i1YV7Yag2._5|9275890000|3f3ba06def6e4629ccb4af8aa695ac6b-9432|9275890000||z9hG4bKXfVD0C87Be5AV626|1
# sngrep__ipip.pcap
1|INVITE||1RLuVzzBClYCf2|6|INVITE|1bdaa608131517540000|jr57na6shh|1bdaa608131517540000||1bdaa608131517540001|1bdaa608131517540000-1bdaa608131517540000-ashteadiev-4|z9hG4bK8JQkQhxdSmM|1
2||183|1RLuVzzBClYCf2|6|INVITE|1bdaa608131517540001|jr57na6shh|1bdaa608131517540001|to-tag||1bdaa608131517540001|z9hG4bK8JQkQhxdSmM|1
3||200|1RLuVzzBClYCf2|6|INVITE|1bdaa608131517540001|jr57na6shh|1bdaa608131517540001|to-tag||1bdaa608131517540001|z9hG4bK8JQkQhxdSmM|1
4|BYE||1RLuVzzBClYCf2|16|BYE|1bdaa608131517540000|jr57na6shh|1bdaa608131517540000|to-tag|1bdaa608131517540001|1bdaa608131517540000-1bdaa608131517540000-ashteadiev-4|z9hG4bK8d6XSN3vE2i|1
"""

# tshark's Via dissector stops at an IPv6 sent-by without brackets ("fe80:0:0:0:...:5060",
# not valid RFC 3261) and reports no branch; the branches below are read off the raw Via.
TSHARK_MISSES_BRANCH = {
    ("heplify__sip_ipv6_udp.pcap", 1): "z9hG4bKkdjuw8376",
    ("heplify__sip_ipv6_udp.pcap", 2): "z9hG4bKkdjuw8376",
    ("heplify__sip_ipv6_udp.pcap", 3): "z9hG4bKkdjuw8376",
    ("heplify__sip_ipv6_udp.pcap", 4): "z9hG4bKkdjuw8376",
    ("heplify__sip_ipv6_udp.pcap", 5): "z9hG4bKkdjuw8495",
    ("heplify__sip_ipv6_udp.pcap", 6): "z9hG4bKkdjuw8495",
}


def _expected() -> list[object]:
    rows: list[object] = []
    name = ""
    for line in TSHARK.splitlines():
        if line.startswith("# "):
            name = line[2:]
            continue
        frame, method, status, call_id, cseq, cseq_method, *rest = line.split("|")
        from_user, from_tag, to_user, to_tag, r_user, contact_user, branch, vias = rest
        message = SipMessage(
            method=method or None,
            status=int(status or 0),
            reason="",  # not compared
            request_uri=None,  # not compared
            call_id=call_id,
            cseq_num=int(cseq),
            cseq_method=cseq_method,
            from_tag=from_tag or None,
            to_tag=to_tag or None,
            from_user=from_user or None,
            to_user=to_user or None,
            request_user=r_user or None,
            contact_user=contact_user or None,
            via_branch=TSHARK_MISSES_BRANCH.get((name, int(frame)), branch or None),
            via_count=int(vias),
        )
        rows.append(pytest.param(name, int(frame), message, id=f"{name}#{frame}"))
    return rows


_payload_cache: dict[str, dict[int, Datagram]] = {}


def _payload(name: str, frame: int) -> bytes:
    path = SIP_DIR / name
    if name not in _payload_cache:
        _payload_cache[name] = {datagram.frame: datagram for datagram in sip_payloads(path)}
    return _payload_cache[name][frame].payload


@pytest.mark.parametrize(("name", "frame", "want"), _expected())
def test_fields_match_tshark(name: str, frame: int, want: SipMessage) -> None:
    got = parse_sip(_payload(name, frame))
    got.reason, got.request_uri = "", None
    assert got == want


def test_the_tcp_call_from_invite_to_bye() -> None:
    name = "heplify__sip_ipv4_tcp.pcap"
    invite, bye = parse_sip(_payload(name, 3)), parse_sip(_payload(name, 81))
    assert (invite.method, invite.request_uri) == ("INVITE", "sip:201@10.33.6.101;user=phone")
    assert bye.method == "BYE"
    # The callee hung up: the BYE's From tag is the INVITE's To tag (DESIGN.md).
    assert bye.from_tag == parse_sip(_payload(name, 9)).to_tag == "1c342958875"
    assert parse_sip(_payload(name, 7)).reason == "Ringing"


def test_early_dialogs_with_two_to_tags() -> None:
    name = "sngrep__ipv6frag.pcap"  # fragmented IPv6 UDP, reassembled by tests/pcap.py
    first, second = parse_sip(_payload(name, 6)), parse_sip(_payload(name, 16))
    assert (first.status, second.status) == (183, 183)
    assert first.call_id == second.call_id
    assert first.to_tag != second.to_tag


# Start lines per file for the larger captures, counted by
#   tshark -r FILE -Y sip -T fields -e sip.Method -e sip.Status-Code | tr -d '\t' | sort | uniq -c
# and their distinct Call-IDs by
#   tshark -r FILE -Y sip -T fields -e sip.Call-ID | sort -u | wc -l
TSHARK_COUNTS = {
    "heplify__FAX-Call-t38-CA-TDM-SIP-FB-1.pcap": (
        {"INVITE": 16, "100": 16, "180": 4, "200": 24, "488": 4, "ACK": 16, "BYE": 4},
        {"OPTIONS": 8},
        3,
    ),
    "heplify__erspan_sip_ipv4_udp.pcapng": (
        {"INVITE": 16, "100": 14, "180": 6, "200": 30, "407": 4, "488": 2, "ACK": 18, "BYE": 6},
        {"SUBSCRIBE": 12, "202": 8, "NOTIFY": 11, "481": 8, "REFER": 4, "401": 1},
        7,
    ),
    "heplify__sip_tcp_websocket.pcap": (
        {"INVITE": 5, "100": 4, "180": 2, "183": 8, "200": 9, "407": 1, "ACK": 5, "BYE": 4},
        {"OPTIONS": 1},
        3,
    ),
}


@pytest.mark.parametrize("name", sorted(TSHARK_COUNTS))
def test_every_message_of_the_larger_captures_parses(name: str) -> None:
    path = SIP_DIR / name
    messages = [parse_sip(datagram.payload) for datagram in sip_payloads(path)]
    starts = Counter(m.method or str(m.status) for m in messages)
    call_starts, other_starts, call_ids = TSHARK_COUNTS[name]
    assert starts == Counter(call_starts) + Counter(other_starts)
    assert len({m.call_id for m in messages}) == call_ids
    assert all(m.cseq_method == m.method for m in messages if m.method not in (None, "ACK"))


def test_omnipcx_garbage_in_a_to_tag_is_kept_as_escapes() -> None:
    # A genuine OmniPCX NOTIFY whose To tag holds stray bytes, some not UTF-8 (frame 91).
    name = "heplify__erspan_sip_ipv4_udp.pcapng"
    tag = parse_sip(_payload(name, 91)).to_tag
    assert tag is not None
    assert tag.endswith("z9hG4bK-5af5720\\x91\x0e\\xe7b\x01")
    assert parse_sip(_payload(name, 93)).to_tag == tag  # the same bytes give the same tag


def _msg(*lines: str, body: str = "", eol: str = "\r\n") -> bytes:
    return (eol.join(lines) + eol + eol + body).encode()


INVITE = (
    "INVITE sip:13800000001@pbx.example SIP/2.0",
    "Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK-top;rport",
    'From: "Bob" <sip:13900000002@10.0.0.5>;tag=from-1',
    "To: <sip:13800000001@pbx.example>",
    "Call-ID: abc-123@10.0.0.5",
    "CSeq: 101 INVITE",
    "Contact: <sip:13900000002@10.0.0.5:5060>",
    "Content-Length: 0",
)


def test_a_plain_invite() -> None:
    message = parse_sip(_msg(*INVITE))
    assert message == SipMessage(
        method="INVITE",
        status=0,
        reason="",
        request_uri="sip:13800000001@pbx.example",
        call_id="abc-123@10.0.0.5",
        cseq_num=101,
        cseq_method="INVITE",
        from_tag="from-1",
        to_tag=None,
        from_user="13900000002",
        to_user="13800000001",
        request_user="13800000001",
        contact_user="13900000002",
        via_branch="z9hG4bK-top",
        via_count=1,
    )
    assert message.is_request


def test_a_response_has_status_and_reason_but_no_method() -> None:
    message = parse_sip(_msg("SIP/2.0 180 Ringing", *INVITE[1:]))
    assert (message.method, message.status, message.reason) == (None, 180, "Ringing")
    assert message.request_uri is None and message.request_user is None
    assert not message.is_request


def test_bare_lf_line_endings() -> None:
    assert parse_sip(_msg(*INVITE, eol="\n")) == parse_sip(_msg(*INVITE))


def test_compact_header_names() -> None:
    message = parse_sip(
        _msg(
            "BYE sip:a@b SIP/2.0",
            "v: SIP/2.0/UDP h;branch=z9hG4bK1",
            "f: <sip:alice@h>;tag=f1",
            "t: <sip:bob@h>;tag=t1",
            "i: compact@h",
            "CSeq: 2 BYE",
            "m: <sip:alice@10.0.0.1>",
            "l: 0",
        )
    )
    assert (message.call_id, message.from_tag, message.to_tag) == ("compact@h", "f1", "t1")
    assert (message.from_user, message.to_user, message.contact_user) == ("alice", "bob", "alice")
    assert (message.via_branch, message.via_count) == ("z9hG4bK1", 1)


def test_lower_case_and_spaced_header_names() -> None:
    message = parse_sip(
        _msg(
            "OPTIONS sip:a@b SIP/2.0",
            "via: SIP/2.0/UDP h;BRANCH=z9hG4bK2",
            "CALL-ID : upper@h",
            "from:<sip:x@h>;TAG=low",
            "cseq: 7 options",
        )
    )
    assert (message.call_id, message.from_tag, message.via_branch) == ("upper@h", "low", "z9hG4bK2")
    assert (message.cseq_num, message.cseq_method) == (7, "OPTIONS")


def test_folded_header_lines_continue_the_header_above() -> None:
    message = parse_sip(
        _msg(
            "INVITE sip:a@b SIP/2.0",
            "Via: SIP/2.0/UDP first;branch=z9hG4bK-a,",
            "\tSIP/2.0/UDP second;branch=z9hG4bK-b",
            "Subject: a long",
            " subject",
            "From: <sip:carol@h>",
            "  ;tag=folded-tag",
            "To: <sip:dave@h>",
            "Call-ID:",
            " folded@h",
            "CSeq: 1 INVITE",
        )
    )
    assert message.call_id == "folded@h"
    assert message.from_tag == "folded-tag"
    assert (message.via_branch, message.via_count) == ("z9hG4bK-a", 2)


def test_via_values_are_counted_across_headers_and_commas() -> None:
    message = parse_sip(
        _msg(
            "INVITE sip:a@b SIP/2.0",
            "Via: SIP/2.0/UDP p1;branch=z9hG4bK-p1, SIP/2.0/UDP p2;branch=z9hG4bK-p2",
            "v: SIP/2.0/TCP p3;branch=z9hG4bK-p3",
            'Via: SIP/2.0/UDP p4;branch=z9hG4bK-p4;x="a,b"',
            "Call-ID: c",
            "CSeq: 1 INVITE",
        )
    )
    assert (message.via_branch, message.via_count) == ("z9hG4bK-p1", 4)


def test_tel_uris_give_the_number() -> None:
    message = parse_sip(
        _msg(
            "INVITE tel:+8613800000001;phone-context=example.com SIP/2.0",
            "From: <tel:+8613900000002>;tag=t",
            "To: tel:110",
            "Call-ID: c",
            "CSeq: 1 INVITE",
        )
    )
    assert message.request_user == "+8613800000001"
    assert (message.from_user, message.to_user) == ("+8613900000002", "110")


@pytest.mark.parametrize(
    ("value", "user", "tag"),
    [
        ('"Bob" <sip:13800000001@host>;tag=x', "13800000001", "x"),
        ('"a <b>; tag=no" <sip:u@h>;tag=yes', "u", "yes"),
        ('"say \\"hi\\"" <sips:u:secret@h;transport=tls>;tag=y', "u", "y"),
        ("Anonymous <sip:anonymous@anonymous.invalid>;tag=z", "anonymous", "z"),
        ("sip:plain@h;tag=addr-spec", "plain", "addr-spec"),
        ("<sip:h.example>;tag = spaced ", None, "spaced"),
        ("<sip:u@h?subject=a@b>", "u", None),
        ("<sip:h?x=a@b>", None, None),
        ("<urn:service:sos>", None, None),
    ],
)
def test_from_values(value: str, user: str | None, tag: str | None) -> None:
    message = parse_sip(_msg("ACK sip:a@b SIP/2.0", f"From: {value}", "Call-ID: c", "CSeq: 1 ACK"))
    assert (message.from_user, message.from_tag) == (user, tag)


def test_the_first_of_repeated_headers_wins() -> None:
    message = parse_sip(
        _msg(*INVITE, "Call-ID: second@h", 'From: "X" <sip:other@h>;tag=other', "CSeq: 9 BYE")
    )
    assert (message.call_id, message.from_tag, message.cseq_num) == (
        "abc-123@10.0.0.5",
        "from-1",
        101,
    )


def test_the_first_contact_of_several_and_star() -> None:
    first = parse_sip(_msg(*INVITE[:6], 'Contact: "A, B" <sip:one@h>, <sip:two@h>'))
    assert first.contact_user == "one"
    star = parse_sip(_msg(*INVITE[:6], "Contact: *"))
    assert star.contact_user is None


def test_the_body_is_not_read_for_headers() -> None:
    sipfrag = "SIP/2.0 200 OK\r\nCall-ID: from-the-body\r\nFrom: <sip:body@h>;tag=body\r\n"
    message = parse_sip(_msg(*INVITE, body=sipfrag))
    assert (message.call_id, message.from_tag) == ("abc-123@10.0.0.5", "from-1")


def test_leading_keep_alives_are_skipped() -> None:
    assert parse_sip(b"\r\n\r\n" + _msg(*INVITE)) == parse_sip(_msg(*INVITE))


def test_a_message_without_a_blank_line_still_parses() -> None:
    assert parse_sip("\r\n".join(INVITE).encode()).call_id == "abc-123@10.0.0.5"


def test_nul_in_a_header_is_escaped() -> None:
    message = parse_sip(_msg(*INVITE[:4], "Call-ID: a\x00b", "CSeq: 1 INVITE"))
    assert message.call_id == "a\\x00b"


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (_msg(*INVITE[:4], "CSeq: 1 INVITE"), "no-call-id"),
        (_msg(*INVITE[:4], "Call-ID:   ", "CSeq: 1 INVITE"), "no-call-id"),
        (_msg(*INVITE[:5]), "no-cseq"),
        (_msg(*INVITE[:5], "CSeq: INVITE"), "bad-cseq"),
        (_msg(*INVITE[:5], "CSeq: 1"), "bad-cseq"),
        (_msg(*INVITE[:5], "CSeq: -1 INVITE"), "bad-cseq"),
        (_msg(*INVITE[:5], "CSeq: 99999999999 INVITE"), "bad-cseq"),
        (_msg(*INVITE[:5], "CSeq: ١ INVITE"), "bad-cseq"),
        (_msg("SIP/2.0 2000 OK", *INVITE[1:]), "bad-status-line"),
        (_msg("SIP/2.0 099 Low", *INVITE[1:]), "bad-status-line"),
        (_msg("SIP/2.0 OK", *INVITE[1:]), "bad-status-line"),
        (_msg("INVITE  SIP/2.0", *INVITE[1:]), "bad-request-line"),
        (_msg("IN<VITE sip:a@b SIP/2.0", *INVITE[1:]), "bad-request-line"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "not-sip"),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "not-sip"),
        (b'{"call_id": "x"}', "not-sip"),
        (b"", "not-sip"),
        (b"\x00\xff\xfe" * 10, "not-sip"),
        (b"\r\n\r\n", "keep-alive"),
    ],
)
def test_unusable_messages_name_their_kind(data: bytes, kind: str) -> None:
    with pytest.raises(SipError) as caught:
        parse_sip(data)
    assert caught.value.kind == kind


@given(st.binary(max_size=300))
def test_random_bytes_raise_only_sip_error(data: bytes) -> None:
    try:
        parse_sip(data)
    except SipError:
        pass


sip_alphabet = st.sampled_from(
    ["\r\n", "\n", " ", "\t", ":", ";", ",", "<", ">", '"', "\\", "@", "=", "SIP/2.0", "sip:",
     "tel:", "tag", "branch", "Via", "v", "i", "Call-ID", "CSeq", "From", "To", "m", "1", "é",
     "\x00", "INVITE"]
)  # fmt: skip


@settings(max_examples=500)
@given(st.lists(sip_alphabet, max_size=60).map("".join))
def test_sip_shaped_noise_raises_only_sip_error(text: str) -> None:
    for data in (text.encode(), ("INVITE sip:a@b SIP/2.0\r\n" + text).encode()):
        try:
            parse_sip(data)
        except SipError:
            pass


def _real_messages() -> list[bytes]:
    picks = [("heplify__sip_ipv4_tcp.pcap", 3), ("sngrep__ipv6frag.pcap", 6)]
    return [_payload(name, frame) for name, frame in picks]


def test_every_truncation_of_a_real_message_raises_only_sip_error() -> None:
    for raw in _real_messages():
        for cut in range(len(raw)):
            try:
                parse_sip(raw[:cut])
            except SipError:
                pass


@settings(max_examples=300)
@given(st.data())
def test_a_flipped_byte_in_a_real_message_raises_only_sip_error(data: st.DataObject) -> None:
    raw = bytearray(data.draw(st.sampled_from(_real_messages())))
    raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    try:
        parse_sip(bytes(raw))
    except SipError:
        pass


def test_corpus_dir_is_inside_the_repository() -> None:
    assert corpus_dir() == Path(__file__).resolve().parents[1] / "corpus"
    assert (corpus_dir() / "PROVENANCE.md").is_file()


# -- what leg attribution and registrations read --------------------------------------------
def test_contact_uri_and_header_and_expires() -> None:
    register = parse_sip(
        _msg(
            "REGISTER sip:127.0.0.1 SIP/2.0",
            "Via: SIP/2.0/UDP 10.0.0.7:5060;branch=z9hG4bK-reg",
            "From: <sip:2001@127.0.0.1>;tag=r1",
            "To: <sip:2001@127.0.0.1>",
            "Call-ID: reg-1",
            "CSeq: 7 REGISTER",
            'Contact: "Desk" <sip:0004f2abcdef@10.0.0.7;line=x>;expires=600, <sip:b@h>',
            "Expires: 3600",
        )
    )
    assert register.contact_uri == "sip:0004f2abcdef@10.0.0.7;line=x"
    assert register.contact_user == "0004f2abcdef"
    assert register.contact_header == (
        '"Desk" <sip:0004f2abcdef@10.0.0.7;line=x>;expires=600, <sip:b@h>'
    )
    assert register.expires == 3600
    plain = parse_sip(_msg(*INVITE))
    assert (plain.contact_uri, plain.expires) == ("sip:13900000002@10.0.0.5:5060", None)
    assert parse_sip(_msg(*INVITE[:6], "Contact: *", "Expires: 0")).contact_uri == "*"
    assert parse_sip(_msg(*INVITE[:6], "Contact: *", "Expires: 0")).expires == 0


@pytest.mark.parametrize(
    ("line", "expires"),
    [
        ("expires: 60", 60),
        ("EXPIRES:  0 ", 0),
        ("Expires: Thu, 01 Dec 1994 16:00:00 GMT", None),  # RFC 2543 dates are not seconds
        ("Expires: 99999999999", 2**32 - 1),
        ("Event: presence", None),  # another header starting with E
        ("e: gzip", None),  # the compact form of Content-Encoding, not Expires
    ],
)
def test_expires_header(line: str, expires: int | None) -> None:
    assert parse_sip(_msg(*INVITE, line)).expires == expires


def test_the_new_fields_stay_out_of_equality() -> None:
    # The tshark comparison above builds messages without them.
    with_contact = parse_sip(_msg(*INVITE))
    without = parse_sip(_msg(*INVITE[:6], "Content-Length: 0"))
    assert with_contact.contact_uri != without.contact_uri
    with_contact.contact_user = without.contact_user
    assert with_contact == without


@pytest.mark.parametrize(
    ("uri", "key"),
    [
        ("sip:sipp@127.0.0.1:5071", "sipp@127.0.0.1:5071"),
        ("sip:0004f2abcdef@10.0.0.7", "0004f2abcdef@10.0.0.7:5060"),
        ("sip:0004f2abcdef@10.0.0.7:5060;transport=udp", "0004f2abcdef@10.0.0.7:5060"),
        ("SIP:Bob@PBX.Example;line=abc?Subject=x", "Bob@pbx.example:5060"),
        ("sips:2001@h", "2001@h:5061"),
        ("sip:2001:secret@h:05070", "2001@h:5070"),
        ("sip:[2001:db8::7]:5070;ob", "@[2001:db8::7]:5070"),
        ("sip:u@[2001:db8::7]", "u@[2001:db8::7]:5060"),
        ("sip:10.0.0.7", "@10.0.0.7:5060"),
        ("tel:+8613800000001", None),
        ("sip:u@", None),
        ("sip:u@h:port", None),
        ("sip:u@[::1", None),
        ("*", None),
    ],
)
def test_uri_key(uri: str, key: str | None) -> None:
    assert uri_key(uri) == key


@pytest.mark.parametrize(
    ("value", "contacts"),
    [
        ("<sip:2001@127.0.0.1:5071>;expires=3600", [("sip:2001@127.0.0.1:5071", 3600)]),
        (
            '"A, B" <sip:one@h;transport=udp>;q=0.5;Expires = 60, <sip:two@h>',
            [("sip:one@h;transport=udp", 60), ("sip:two@h", None)],
        ),
        ("sip:three@h;expires=0", [("sip:three@h", 0)]),  # addr-spec: params are the header's
        ("*", [("*", None)]),
        ('<sip:a@h>;expires=30;received="sip:10.0.0.7:5060"', [("sip:a@h", 30)]),
        ("", []),
    ],
)
def test_contact_values(value: str, contacts: list[tuple[str, int | None]]) -> None:
    assert contact_values(value) == contacts


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='sip:@<>;,"\\ =expires0123456789[]?*ab', max_size=60))
def test_contact_values_and_uri_key_take_any_text(text: str) -> None:
    for uri, expires in contact_values(text):
        assert uri and (expires is None or expires >= 0)
        uri_key(uri)
    uri_key(text)
