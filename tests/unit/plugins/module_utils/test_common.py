"""Pure helpers of _common: endpoint URLs, item merging, summaries."""

from __future__ import annotations

import pytest

from ansible_collections.storage.replication.plugins.module_utils._common import (
    ReplicationError, base_url, merge_item, summarize, tls_verify)


@pytest.mark.parametrize("hostname, port, expected", [
    ("cluster1", None, "https://cluster1"),
    ("cluster1:8443", None, "https://cluster1:8443"),
    ("cluster1:8443", 9443, "https://cluster1:9443"),
    ("https://10.0.0.5:8443/api", None, "https://10.0.0.5:8443"),
    ("http://127.0.0.1:5988", None, "http://127.0.0.1:5988"),
    ("[fe80::1]:443", None, "https://[fe80::1]:443"),
    ("10.1.2.3", 443, "https://10.1.2.3:443"),
])
def test_base_url_accepts_hosts_ports_and_urls(hostname, port, expected):
    assert base_url(hostname, port) == expected


@pytest.mark.parametrize("hostname", ["", "ftp://x", "bad host", "https://", "host:99999"])
def test_base_url_rejects_what_is_not_an_endpoint(hostname):
    with pytest.raises(ReplicationError):
        base_url(hostname)


def test_tls_verify_prefers_the_ca_file_and_honours_validate_certs():
    assert tls_verify({"validate_certs": True, "ca_path": "/ca.pem"}) == "/ca.pem"
    assert tls_verify({"validate_certs": True, "ca_path": None}) is True
    assert tls_verify({"validate_certs": False, "ca_path": "/ca.pem"}) is False


def test_merge_item_takes_task_values_for_keys_the_item_leaves_out():
    merged = merge_item({"policy": "P", "throttle": 5, "other": 1}, {"throttle": 7, "destination_path": "s:v"},
                        ("policy", "throttle", "destination_path"))
    assert merged == {"policy": "P", "throttle": 7, "destination_path": "s:v"}


def test_summarize_counts_each_outcome_once():
    counts = summarize([{"changed": True}, {"changed": False}, {"failed": True, "changed": True}, {"skipped": True}])
    assert counts == {"total": 4, "changed": 1, "ok": 1, "failed": 1, "skipped": 1}


def test_an_empty_environment_variable_does_not_override_a_default(monkeypatch):
    from ansible.module_utils.common.parameters import AnsibleFallbackNotFound

    from ansible_collections.storage.replication.plugins.module_utils._common import nonempty_env_fallback

    monkeypatch.setenv("X_EMPTY", "")
    monkeypatch.setenv("X_SET", "value")
    assert nonempty_env_fallback("X_EMPTY", "X_SET") == "value"
    with pytest.raises(AnsibleFallbackNotFound):
        nonempty_env_fallback("X_EMPTY", "X_UNSET")
