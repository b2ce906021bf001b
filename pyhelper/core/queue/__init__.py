"""The experiment queue: entries in SQLite (`.xp/queue.db`), run by worker processes."""
