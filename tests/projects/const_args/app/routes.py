from .loader import create_route, either, get, get_secret, load_instance, provider_key, run


async def pass_through(target: str, path: str):
    create_route(target)
    load_instance(target)
    load_instance(target, "config.yaml")  # expect: blocking-wait (critical) via loader.load_instance > loader.download > asyncio.run
    create_route(target, config_file_path=path)  # expect: blocking-wait (critical) via loader.create_route > loader.load_instance > loader.download > asyncio.run


async def secrets(name: str):
    get_secret("FRIENDLI_TOKEN")  # expect: blocking-http (critical) via loader.get_secret > requests.get
    get_secret("os.environ/FRIENDLI_TOKEN")  # expect: blocking-http (critical) via loader.get_secret > requests.get
    get_secret("oidc/github/x")  # expect: blocking-http (critical) via loader.get_secret > requests.get
    get_secret(name)  # expect: blocking-http (critical) via loader.get_secret > requests.get
    provider_key()  # expect: blocking-http (critical) via loader.provider_key > loader.get_secret > requests.get


async def streams(url: str):
    get(url)
    get(url, stream=True)  # expect: blocking-http (critical) via loader.get > requests.get
    run("ls")
    run("ls", mode="shell")  # expect: blocking-subprocess (critical) via loader.run > subprocess.run
    either("ls")  # expect: blocking-http (critical) via loader.either > requests.get
    either("ls", flag=1)  # expect: blocking-subprocess (critical) via loader.either > subprocess.run
