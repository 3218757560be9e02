import asyncio
import subprocess

import requests


def load_instance(value: str, config_file_path: str | None = None):
    # litellm's `get_instance_fn`: remote loading only from the config-file path.
    if value.startswith("s3://"):
        if config_file_path is None:
            raise ValueError(
                "remote loading needs a config file"
            )
        return download(value)
    return value


def download(value: str):
    return asyncio.run(fetch(value))


async def fetch(value: str):
    return value


def create_route(target: str, config_file_path: str | None = None):
    # Passes its own parameter on: the default reaches `load_instance`.
    return load_instance(target, config_file_path=config_file_path)


def get_secret(secret_name: str, default=None):
    if secret_name.startswith("os.environ/"):
        secret_name = secret_name.replace("os.environ/", "")
    if secret_name.startswith("oidc/"):
        return requests.get("https://token.example.com", timeout=5).text
    return default


def provider_key():
    # A literal further down a chain is not used (`Project::env_of`): this one keeps its finding.
    return get_secret("FRIENDLI_TOKEN")


def get(url: str, stream: bool = False):
    if stream:
        return requests.get(url, stream=True, timeout=5)
    return None


def run(cmd: str, mode: str = "check"):
    if mode == "shell":
        return subprocess.run(cmd, shell=True)
    return None


def either(cmd: str, flag=None):
    if flag is not None:
        subprocess.run(cmd)
    else:
        requests.get(cmd, timeout=5)
