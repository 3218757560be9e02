def load_step(name: str) -> str:
    with open(f"/data/{name}") as f:
        return f.read()
