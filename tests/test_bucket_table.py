"""The bounded table of token buckets (`signaling.rate.BucketTable`): one bucket a key, and
never more than its bound, whoever asks."""

from __future__ import annotations

from signaling.rate import BucketTable


def test_each_key_has_its_own_bucket():
    table = BucketTable(rate=1.0, burst=2.0, max_entries=10)
    assert [table.take("a", 0.0) for _ in range(3)] == [True, True, False]
    assert table.take("b", 0.0)  # another key: its own burst
    assert table.take("a", 1.0)  # one token back after a second


def test_a_full_table_forgets_idle_buckets_then_refuses_new_keys():
    table = BucketTable(rate=1.0, burst=2.0, max_entries=2)
    assert table.take("a", 0.0) and table.take("b", 0.0)
    assert not table.take("c", 1.0)  # both still refilling: no room, refused
    assert table.take("a", 9.0)  # a known key goes on
    assert table.take("c", 10.0)  # "b" was idle long enough to be full: forgotten
    assert set(table._buckets) == {"a", "c"}
