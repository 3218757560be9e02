def store(number: int) -> None:
    with open(f"/srv/archive/{number}.json", "w") as fh:
        fh.write("{}")
