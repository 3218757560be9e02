def log_query(conn, what: str) -> None:
    conn.execute("insert into audit (what) values (?)", (what,))
    conn.commit()
