# Secret managers (litellm's `AWSSecretsManagerV2`): the sync read sends a request.
import httpx


class AWSManager:
    def sync_read_secret(self, secret_name: str) -> str | None:
        client = httpx.Client()
        return client.post("https://secrets.example.com", json={"name": secret_name}).text


class EnvManager:
    def sync_read_secret(self, secret_name: str) -> str | None:
        return secret_name
