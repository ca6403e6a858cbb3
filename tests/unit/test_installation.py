"""Installation and data-dir ids: made once, kept, distinct; the clientOrderId prefix they make."""
from __future__ import annotations

import re

from cts_desktop.store.installation import ORDER_PREFIX_RE, data_dir_id, installation_id, order_id_prefix

BINANCE_CID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")


def test_ids_are_made_once_and_kept(tmp_path):
    inst = installation_id(tmp_path / "config")
    assert re.fullmatch(r"[0-9a-z]{6}", inst) and installation_id(tmp_path / "config") == inst
    assert (tmp_path / "config" / "installation-id").read_text().strip() == inst
    d = data_dir_id(tmp_path / "data")
    assert re.fullmatch(r"[0-9a-z]{4}", d) and data_dir_id(tmp_path / "data") == d


def test_two_data_dirs_of_one_installation_get_different_prefixes(tmp_path):
    config = tmp_path / "config"
    a, b = order_id_prefix(tmp_path / "a", config), order_id_prefix(tmp_path / "b", config)
    assert a[:9] == b[:9] and a != b  # same installation, different data dirs
    assert ORDER_PREFIX_RE.match(a) and ORDER_PREFIX_RE.match(b)
    longest = f"{a}{10**10 - 1}-{10**10 - 1}"
    assert len(longest) <= 36 and BINANCE_CID.match(longest)


def test_a_malformed_id_file_is_replaced(tmp_path):
    (tmp_path / "installation-id").write_text("no!")
    inst = installation_id(tmp_path)
    assert re.fullmatch(r"[0-9a-z]{6}", inst) and installation_id(tmp_path) == inst
