"""The agent-phone allowlist as a pure decision: URI parsing, rule normalization and matching, and the
organization's IP firewall applied to IP-literal phone hosts."""

from __future__ import annotations

import pytest

from core.errors import ValidationError
from dialer.phone_rules import IpFirewall, PhoneRule, check_agent_phone, normalize_rule, parse_agent_uri

RULES = [
    PhoneRule("phone", "sip:1001@pbx.example.com:5060", agent_id="agent-1"),
    PhoneRule("domain", "phones.example.com"),
    PhoneRule("domain", "*.branch.example.com"),
    PhoneRule("cidr", "10.20.0.0/16"),
]


@pytest.mark.parametrize(
    ("uri", "agent", "rule"),
    [
        ("sip:1001@pbx.example.com:5060", "agent-1", "phone sip:1001@pbx.example.com:5060"),
        ("sip:1001@PBX.Example.com:5060", "agent-1", "phone sip:1001@pbx.example.com:5060"),
        ("sip:anyone@phones.example.com", "agent-2", "domain phones.example.com"),
        ("sips:x@phones.example.com:5061;transport=tls", "agent-2", "domain phones.example.com"),
        ("sip:x@desk.branch.example.com", "agent-2", "domain *.branch.example.com"),
        ("sip:x@10.20.3.4:5070", "agent-2", "cidr 10.20.0.0/16"),
    ],
)
def test_a_phone_matching_a_rule_is_allowed_naming_the_rule(uri: str, agent: str, rule: str) -> None:
    verdict = check_agent_phone(uri, RULES, agent_id=agent)
    assert verdict.allowed and verdict.reason == rule


@pytest.mark.parametrize(
    ("uri", "agent"),
    [
        ("sip:1001@pbx.example.com:5060", "agent-2"),  # reserved to agent-1
        ("sip:1001@pbx.example.com:5080", "agent-1"),  # another port: another phone
        ("sip:x@evil.example.net", "agent-1"),
        ("sip:x@phones.example.com.evil.net", "agent-1"),
        ("sip:x@notphones.example.com", "agent-1"),
        ("sip:x@branch.example.com", "agent-1"),  # *. covers subdomains only
        ("sip:x@10.21.0.1", "agent-1"),
        ("sip:x@127.0.0.1:5060", "agent-1"),
    ],
)
def test_a_phone_matching_no_rule_is_refused_naming_the_uri(uri: str, agent: str) -> None:
    verdict = check_agent_phone(uri, RULES, agent_id=agent)
    assert not verdict.allowed
    assert parse_agent_uri(uri).uri() in verdict.reason and "no agent-phone rule" in verdict.reason


@pytest.mark.parametrize(
    ("uri", "rule"),
    [
        ("sip:x@phones.example.com;maddr=203.0.113.9", "maddr"),
        ("sip:x@phones.example.com?Route=%3Csip:evil.net%3E", "URI headers"),
        ("sip:x@phones.example.com;lr", "parameter"),
        ("sip:phones.example.com", "user part"),
        ("tel:+12025550100", "sip: or sips:"),
        ("sip:x@phones.example.com:99999", "port"),
        ("sip:x@bad_host.example.com", "host"),
        ("sip:x@[::1", "IPv6"),
        ("sip:" + "x" * 300 + "@phones.example.com", "300 characters"),
    ],
)
def test_a_uri_that_could_send_the_invite_elsewhere_is_refused_naming_the_rule(uri: str, rule: str) -> None:
    with pytest.raises(ValidationError, match="sip_uri") as caught:
        parse_agent_uri(uri)
    assert rule in str(caught.value)
    assert not check_agent_phone(
        uri, [PhoneRule("cidr", "0.0.0.0/0"), PhoneRule("domain", "phones.example.com")], agent_id="a"
    ).allowed


def test_an_organization_without_rules_allows_no_phone() -> None:
    verdict = check_agent_phone("sip:a@127.0.0.1:5070", [], agent_id="a")
    assert not verdict.allowed and "no agent-phone rules yet" in verdict.reason


def test_the_ip_firewall_refuses_a_phone_address_a_rule_allows() -> None:
    rules = [PhoneRule("cidr", "0.0.0.0/0")]
    deny = IpFirewall(deny_cidrs=["203.0.113.0/24"])
    verdict = check_agent_phone("sip:a@203.0.113.7", rules, agent_id="a", firewall=deny)
    assert not verdict.allowed and "IP firewall (deny 203.0.113.0/24)" in verdict.reason
    assert check_agent_phone("sip:a@198.51.100.7", rules, agent_id="a", firewall=deny).allowed
    only_us = IpFirewall(allowed_countries=["US"])
    verdict = check_agent_phone(
        "sip:a@198.51.100.7", rules, agent_id="a", firewall=only_us, country_of=lambda ip: "RU"
    )
    assert not verdict.allowed and "country RU not allowed" in verdict.reason


def test_rule_values_are_normalized_or_refused_naming_the_field() -> None:
    assert normalize_rule("cidr", "10.1.2.3/8") == "10.0.0.0/8"
    assert normalize_rule("domain", " PBX.Example.com ") == "pbx.example.com"
    assert normalize_rule("phone", "SIP:1001@PBX.example.com") == "sip:1001@pbx.example.com"
    for kind, value in [
        ("cidr", "10.0.0.0/33"),
        ("domain", "127.0.0.1"),
        ("domain", "localhost"),
        ("phone", "sip:x@h;maddr=1.2.3.4"),
        ("wildcard", "*"),
    ]:
        with pytest.raises(ValidationError) as caught:
            normalize_rule(kind, value)
        assert caught.value.field in ("value", "kind")
