"""Which failed connects are refusals of this client, and the words that say why.

By code, never by message text: the CONNACK's reason code and the ``ssl``
exception in the chain. The brokers behind these words are exercised in
``tests/security`` (Mosquitto answers a wrong password with 0x87, so 0x86
and the 3.1.1 codes are read here only).
"""

from __future__ import annotations

import ssl

import pytest

from weft.protocols.mqtt_refusal import connack_refusal, tls_refusal


def test_bad_username_or_password_names_the_user_and_the_code() -> None:
    words = connack_refusal(0x86, "alice")
    assert words == (
        "bad username or password: the login of user 'alice' was refused (MQTT reason code 0x86)"
    )


def test_not_authorized_with_a_login_suggests_the_password() -> None:
    words = connack_refusal(0x87, "alice")
    assert words is not None
    assert words.startswith("not authorized: the login of user 'alice' was refused")
    assert "bad password" in words


def test_not_authorized_without_a_login_says_how_to_give_one() -> None:
    words = connack_refusal(0x87, None)
    assert words is not None
    assert "admits no client without a login" in words
    assert "mqtt://USER:PASSWORD@HOST:PORT" in words


@pytest.mark.parametrize("code", [0x88, 0x89, 0x97, 0x9F, 0x80])
def test_codes_that_may_pass_are_not_refusals(code: int) -> None:
    assert connack_refusal(code, "alice") is None


def test_mqtt_3_1_1_return_codes_read_as_v5_s() -> None:
    assert connack_refusal(4, "alice", v311=True) == connack_refusal(0x86, "alice")
    assert connack_refusal(5, None, v311=True) == connack_refusal(0x87, None)
    assert connack_refusal(3, "alice", v311=True) is None  # server unavailable


def test_a_certificate_error_is_found_behind_a_re_raise() -> None:
    verify = ssl.SSLCertVerificationError(1, "certificate verify failed")
    verify.verify_code, verify.verify_message = 19, "self-signed certificate in certificate chain"
    try:
        try:
            raise verify
        except OSError as exc:
            raise RuntimeError(str(exc)) from None  # as aiomqtt re-raises it
    except RuntimeError as wrapped:
        words = tls_refusal(wrapped)
    assert words == (
        "TLS: certificate verify failed: self-signed certificate in certificate chain "
        "(use ?ca=FILE with the CA that signed the broker's certificate)"
    )


def test_a_host_name_mismatch_points_at_the_name_not_the_ca() -> None:
    verify = ssl.SSLCertVerificationError(1, "certificate verify failed")
    verify.verify_code, verify.verify_message = 62, "Hostname mismatch"
    words = tls_refusal(verify)
    assert words is not None and "does not name this host" in words


def test_a_tls_alert_from_the_broker_asks_about_the_client_certificate() -> None:
    alert = ssl.SSLError(1, "[SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca")
    alert.reason = "TLSV1_ALERT_UNKNOWN_CA"
    assert tls_refusal(alert) == (
        "TLS: TLSV1_ALERT_UNKNOWN_CA (does it require a client certificate, and trust this one?)"
    )


def test_a_connection_cut_short_or_refused_is_no_tls_refusal() -> None:
    assert tls_refusal(ssl.SSLEOFError(8, "EOF occurred in violation of protocol")) is None
    assert tls_refusal(ConnectionRefusedError(111, "Connection refused")) is None
