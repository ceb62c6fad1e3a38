"""The harness itself: a lab starts on random ports and answers over HTTPS with its CA."""

from __future__ import annotations


def test_lab_answers_over_https(lab):
    session = lab.session("ontap-a")
    reply = session.get(lab.url("ontap-a", "/api/cluster"), params={"fields": "version"})
    assert reply.status_code == 200
    assert reply.json()["version"]["generation"] == 9
