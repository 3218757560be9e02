API = "/api"
V2 = f"{API}/v2"
