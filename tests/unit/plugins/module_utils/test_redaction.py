"""The shared helpers behind issue 14: credentials masked in what arrays echo, endpoints compared, bodies excerpted."""

from __future__ import annotations

import base64

import pytest

from ansible_collections.storage.replication.plugins.module_utils._common import (
    MASK, ReplicationError, credential_forms, redact)
from ansible_collections.storage.replication.plugins.module_utils._rest import HttpError, excerpt, origin_of

BASIC = base64.b64encode(b"admin:s3cret-Pass").decode()


@pytest.mark.parametrize("text, expected", [
    (f"headers: Host: a; Authorization: Basic {BASIC}; Accept: */*", f"headers: Host: a; Authorization: Basic {MASK}; Accept: */*"),
    (f"{{'Authorization': 'Basic {BASIC}'}}", f"{{'Authorization': 'Basic {MASK}'}}"),
    ('{"authorization": "Session 0123456789abcdef0123"}', f'{{"authorization": "Session {MASK}"}}'),
    ("Authorization: eyJhbGciOiJIUzI1NiJ9.e30.x", f"Authorization: {MASK}"),
    (f"proxy-authorization=Basic%20{BASIC}", f"proxy-authorization=Basic%20{MASK}"),
    ("Cookie: session=ab12cd34ef; path=/", f"Cookie: {MASK}; path=/"),
    (f"then Bearer {BASIC} again", f"then Bearer {MASK} again"),
], ids=["header-text", "python-repr", "json", "bare-token", "url-encoded", "cookie", "scheme-anywhere"])
def test_credentials_in_echoed_text_are_masked(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize("text", [
    "Authentication failed: the user ID or password is wrong, or Authorization: Basic is missing.",
    "Basic authentication failed; Session expired; Session Expired; token required",
    "the session 12 of user admin",
], ids=["missing-header", "scheme-words", "short-number"])
def test_words_that_merely_name_an_auth_scheme_stay(text):
    assert redact(text) == text


def test_a_known_password_and_its_base64_forms_are_masked_wherever_they_stand():
    forms = credential_forms("admin", "s3cret-Pass")
    assert set(forms) >= {"s3cret-Pass", BASIC, BASIC.rstrip("=")}
    text = f"user admin, password s3cret-Pass, token {BASIC.rstrip('=')}, raw {BASIC}"
    assert redact(text, forms) == f"user admin, password {MASK}, token {MASK}, raw {MASK}"
    assert credential_forms("admin", "") == ()


def test_redaction_walks_data_and_leaves_untouched_data_as_it_is():
    data = {"message": f"Authorization: Basic {BASIC}", "password": "x", "list": [("Session 0a1b2c3d4e5f",)], "n": 1}
    assert redact(data) == {"message": f"Authorization: Basic {MASK}", "password": MASK,
                            "list": [(f"Session {MASK}",)], "n": 1}
    clean = {"state": "snapmirrored", "records": [{"name": "vol1"}]}
    assert redact(clean) is clean


def test_errors_never_carry_what_they_mask():
    error = ReplicationError(f"refused: Authorization: Basic {BASIC}", array_message=f"Basic {BASIC}")
    assert BASIC not in str(error) and BASIC not in repr(error.args) and BASIC not in str(error.details)
    http = HttpError("refused: session tok3n-abc", 400, None, "tok3n-abc said", {"echo": "tok3n-abc"})
    http.hide(["tok3n-abc"])
    assert "tok3n-abc" not in f"{http} {http.args} {http.details} {http.array_message} {http.body}"


def test_an_endpoint_is_its_scheme_host_and_port():
    assert origin_of("https://Array.example:443/api") == origin_of("https://array.example/x")
    assert origin_of("http://127.0.0.1:80/") == ("http", "127.0.0.1", 80)
    assert origin_of("https://127.0.0.1:8443") != origin_of("http://127.0.0.1:8443")
    assert origin_of("https://127.0.0.1:8443") != origin_of("https://localhost:8443")


def test_an_excerpt_is_the_readable_text_of_a_page():
    page = ("<html><head><style>p {color: red}</style><script>var x = '<b>';</script><title>502 Bad Gateway"
            "</title></head><body><h1>Bad&nbsp;Gateway</h1>\n\n<p>nginx</p></body></html>")
    assert excerpt(page) == "502 Bad Gateway Bad Gateway nginx"
    assert excerpt("x" * 300, 10) == "xxxxxxxxxx..."
