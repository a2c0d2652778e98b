"""Parsing the Identity header: the one-match path for the usual form and the general parser agree."""

from __future__ import annotations

import pytest

from attestation.identity_header import IdentityHeaderError, parse_identity_header
from tests.attestation.conftest import X5U, Signing


def test_usual_form_and_general_parser_give_the_same_parts(signing: Signing) -> None:
    value = signing.header()
    usual = parse_identity_header(value)
    jws = value.split(";", 1)[0]
    for variant in (
        f"Identity: {value}",
        f"{jws};ppt=shaken;alg=ES256;info=<{X5U}>",
        f'{jws} ; info = <{X5U}> ; alg=ES256 ; ppt="shaken"',
    ):
        general = parse_identity_header(variant)
        assert (general.jws, general.info, general.alg) == (usual.jws, usual.info, usual.alg)
    assert parse_identity_header(f"{jws};info=<{X5U}>;ppt=shaken").alg == "ES256"  # RFC 8224 default


def test_quoted_ppt_is_kept_quoted_so_it_is_not_shaken(signing: Signing) -> None:
    jws = signing.header().split(";", 1)[0]
    assert parse_identity_header(f'{jws};info=<{X5U}>;ppt="shaken"').ppt == '"shaken"'


def test_oversized_header_is_refused(signing: Signing) -> None:
    with pytest.raises(IdentityHeaderError) as info:
        parse_identity_header(signing.header() + ";x=" + "a" * 9000)
    assert info.value.response == 438
