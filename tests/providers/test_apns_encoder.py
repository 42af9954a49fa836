"""The APNs client's HPACK encoder, read back by the reference decoder (the simulator's h2 decodes it too)."""

from __future__ import annotations

from hpack import Decoder

from providers.apns import LiteralHeaderEncoder

HEADERS = [
    (":method", "POST"),
    (":scheme", "https"),
    (":path", "/3/device/" + "ab" * 32),
    ("host", "api.push.apple.com"),
    ("apns-id", "00000000-0000-0000-0000-00000000002a"),
    ("apns-topic", "shop.pushcart.app"),
    ("apns-expiration", "1800000000"),
    ("authorization", "bearer " + "x" * 300),  # longer than one length byte
    ("x-unknown-name", "é"),
]


def test_each_block_decodes_to_the_headers_given():
    encoder, decoder = LiteralHeaderEncoder(), Decoder()
    for _ in range(3):
        assert decoder.decode(encoder.encode(HEADERS)) == HEADERS


def test_it_never_adds_to_the_peers_table_and_says_so_again_after_a_new_limit():
    encoder, decoder = LiteralHeaderEncoder(), Decoder()
    first = encoder.encode(HEADERS)
    assert first[0] == 0x20  # the peer's dynamic table set to size 0
    decoder.decode(first)
    assert len(decoder.header_table.dynamic_entries) == 0 and decoder.header_table.maxsize == 0
    assert encoder.encode(HEADERS)[0] != 0x20
    encoder.header_table_size = 256  # the peer's SETTINGS_HEADER_TABLE_SIZE changed
    assert encoder.encode(HEADERS)[0] == 0x20


def test_authorization_is_never_indexed():
    decoder = Decoder()
    [header] = decoder.decode(LiteralHeaderEncoder().encode([("authorization", "bearer t")]), raw=True)
    assert header.indexable is False
