"""The embedded SQLite store's reads (server/storage/database.py): a read cut short (its
caller cancelled, a client gone, a timeout) leaves no statement open on the shared reader
connection, so every later read sees what was committed since."""

from __future__ import annotations

import asyncio

from server.storage.database import open_database


async def test_a_cancelled_read_leaves_no_old_snapshot_behind(tmp_path):
    db = await open_database(tmp_path / "visitroom.db")
    try:
        async with db.transaction() as conn:
            await conn.execute("CREATE TABLE probe (x INTEGER)")
            for x in range(5):
                await conn.execute("INSERT INTO probe VALUES (?)", (x,))
        for one in (True, False):
            cut_short = asyncio.ensure_future(
                db.fetchone("SELECT x FROM probe") if one else db.fetchall("SELECT x FROM probe"))
            await asyncio.sleep(0)  # the read is on its way to the connection's thread
            cut_short.cancel()
            await asyncio.gather(cut_short, return_exceptions=True)
            await db.execute("INSERT INTO probe VALUES (99)")
            seen = (await db.fetchone("SELECT COUNT(*) FROM probe"))[0]
            assert seen == 6 if one else seen == 7, (one, seen)
            assert len(await db.fetchall("SELECT x FROM probe")) == seen
    finally:
        await db.close()
